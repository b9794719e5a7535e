"""The dispute pages over HTTP, as every persona: opening, the detail page, proposals,
acceptance, withdrawal, messages, the buyer's and the seller's lists, stale forms and the
number of queries each page makes."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.deadlines import negotiation_ends_at
from disputes.models import Dispute
from disputes.services import DisputeRequest
from disputes.states import (
    DisputeState,
    EventKind,
    OutcomeType,
    Party,
    Reason,
    RequestedOutcome,
)
from orders.services import LineSpec
from orders.templatetags.clocks import absolute
from tests.factories import DRESS_LINES, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db

PERSONAS = ["alice", "carol", "bob", "dave", "sam", "anonymous"]
DESCRIPTION = "The dress is orange, not red as in the listing photos."
CYRILLIC = "Платье не того цвета, совсем"


# --- helpers ------------------------------------------------------------------------------------
def claim(**changes: Any) -> DisputeRequest:
    """The buyer's questionnaire, as the service takes it: the whole red dress, refund only."""
    fields: dict[str, Any] = {
        "received": True,
        "reason": Reason.NOT_AS_DESCRIBED,
        "description": DESCRIPTION,
        "quantity": 1,
        "requested_outcome": RequestedOutcome.REFUND_ONLY,
        "requested_amount": Decimal("45.00"),
    }
    fields.update(changes)
    return DisputeRequest(**fields)


def open_form(**changes) -> dict:
    """The questionnaire as the browser posts it, with a photo of the problem."""
    data = {
        "evidence": photo(),
        "received": "yes",
        "reason": "not_as_described",
        "description": DESCRIPTION,
        "requested_outcome": "refund_only",
        "quantity": "1",
        "amount_choice": "full",
        "requested_amount": "",
    }
    data.update(changes)
    return data


def page_text(response) -> str:
    """The page with HTML entities decoded (so "buyer's" reads as typed)."""
    return html_lib.unescape(response.content.decode())


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def row(html: str, element_id: str) -> str:
    """The markup of one table row, by its id."""
    match = re.search(rf'<tr id="{element_id}">(.*?)</tr>', html, re.S)
    assert match, f"no row #{element_id} on the page"
    return match.group(1)


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<small class="error-text" id="{name}-error">(.*?)</small>', html, re.S)
    return html_lib.unescape(match.group(1)) if match else ""


def fields_in_error(html: str) -> set[str]:
    return set(re.findall(r'class="field has-error" id="field-(\w+)"', html))


def is_checked(html: str, name: str, value: str) -> bool:
    return bool(
        re.search(rf'<input type="radio" name="{name}" value="{value}"[^>]*\bchecked', html)
    )


def textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return html_lib.unescape(match.group(1)).strip()


def revision_on(html: str) -> int:
    """The revision the page was drawn at, as its forms carry it."""
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match, "no revision on the page"
    return int(match.group(1))


def timeline(html: str) -> list[str]:
    return re.findall(r'<li class="ev ev-(\w+)"', html)


def actions_on(html: str, dispute: Dispute) -> set[str]:
    """Which of accept / decline / propose / withdraw the page offers."""
    return {
        name
        for name in ("accept", "decline", "propose", "withdraw")
        if reverse(f"disputes:{name}", args=[dispute.pk]) in html
    }


def snapshot(dispute: Dispute) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    d = Dispute.objects.get(pk=dispute.pk)
    return {
        "state": d.state,
        "revision": d.revision,
        "proposal": (d.proposal_type, d.proposal_amount, d.proposal_by, d.proposal_note),
        "outcome": (d.outcome_type, d.outcome_amount, d.decided_by),
        "deadline": (d.next_deadline_at, d.deadline_kind),
        "finished_at": d.finished_at,
        "events": list(d.events.order_by("id").values_list("kind", flat=True)),
        "messages": d.messages.count(),
    }


def event_kinds(dispute: Dispute) -> list[str]:
    return list(dispute.events.order_by("created_at", "id").values_list("kind", flat=True))


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def order(alice, bobs_store):
    """Alice's two dresses from Bob's store, shipped two days ago."""
    return make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=2),
    )


@pytest.fixture
def red(order):
    return order.lines.order_by("id")[0]


@pytest.fixture
def blue(order):
    return order.lines.order_by("id")[1]


@pytest.fixture
def dispute(red, alice):
    """Open: Alice asks for a full refund of the red dress; Bob has not answered."""
    return open_dispute(line=red, buyer=alice, request=claim())


@pytest.fixture
def negotiating(dispute, bob):
    """Bob has answered with a partial refund of 10.00."""
    return services.dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        note="The colour varies with the light.",
    )


@pytest.fixture
def countered(negotiating, alice):
    """Alice answered Bob's 10.00 with a counter-proposal of 30.00."""
    return services.dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("30.00"),
        note="It is clearly orange.",
    )


@pytest.fixture
def resolved(dispute, bob):
    """Bob accepted Alice's request: the full refund took effect."""
    return services.dispute_accept(dispute_id=dispute.pk, user=bob)


# --- authorization: the open form ---------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_open_form_is_only_for_the_lines_buyer(who, client_for, red):
    url = reverse("disputes:open", args=[red.pk])
    client = client_for(who)
    page = client.get(url)
    response = client.post(url, open_form())
    created = Dispute.objects.filter(line=red).first()
    if who == "alice":
        assert page.status_code == 200
        assert "Open a dispute" in page_text(page)
        assert created is not None
        assert response.status_code == 302 and response.url == created.get_absolute_url()
    elif who == "anonymous":
        assert is_login_redirect(page) and is_login_redirect(response)
        assert created is None
    else:
        assert page.status_code == 404 and response.status_code == 404
        assert created is None


# --- authorization: the detail page ---------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_detail_is_seen_by_buyer_seller_and_staff_only(who, client_for, dispute):
    response = client_for(who).get(reverse("disputes:detail", args=[dispute.pk]))
    if who in ("alice", "bob", "sam"):
        assert response.status_code == 200
        assert DESCRIPTION in page_text(response)
    elif who == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == 404


# --- authorization: accept ------------------------------------------------------------------------
# Who may accept depends on whose proposal is on the table: on an open dispute the seller
# accepts the buyer's request; once the seller proposed, the buyer accepts the seller's offer.
ACCEPT_TABLE = [
    ("dispute", "alice", "refused"),
    ("dispute", "bob", "accepts"),
    ("dispute", "sam", "refused"),
    ("dispute", "carol", 404),
    ("dispute", "dave", 404),
    ("dispute", "anonymous", "login"),
    ("negotiating", "alice", "accepts"),
    ("negotiating", "bob", "refused"),
    ("negotiating", "sam", "refused"),
    ("negotiating", "carol", 404),
    ("negotiating", "dave", 404),
    ("negotiating", "anonymous", "login"),
]


@pytest.mark.parametrize(("stage", "who", "expected"), ACCEPT_TABLE)
def test_accept_only_by_the_other_side_of_the_proposal(stage, who, expected, request, client_for):
    dispute = request.getfixturevalue(stage)
    before = snapshot(dispute)
    client = client_for(who)
    url = reverse("disputes:accept", args=[dispute.pk])
    response = client.post(url, {"revision": before["revision"]})
    after = snapshot(dispute)
    if expected == "accepts":
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert after["state"] == DisputeState.RESOLVED
        assert after["events"] == [*before["events"], EventKind.ACCEPTED, EventKind.RESOLVED]
        return
    assert after == before
    if expected == "refused":
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert "You cannot do this on this dispute." in page_text(client.get(response.url))
    elif expected == "login":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected


# --- authorization: propose -----------------------------------------------------------------------
# The seller answers (and revises) while negotiating; the buyer counters once the seller has
# answered; staff never propose (they rule, in the admin).
PROPOSE_TABLE = [
    ("dispute", "alice", "refused"),
    ("dispute", "bob", "proposes"),
    ("dispute", "sam", "refused"),
    ("dispute", "carol", 404),
    ("dispute", "dave", 404),
    ("dispute", "anonymous", "login"),
    ("negotiating", "alice", "proposes"),
    ("negotiating", "bob", "proposes"),
    ("negotiating", "sam", "refused"),
    ("negotiating", "carol", 404),
    ("negotiating", "dave", 404),
    ("negotiating", "anonymous", "login"),
    # Nobody counters their own proposal: the buyer waits for the seller's answer to hers
    # (the seller may still revise his, or counter hers).
    ("countered", "alice", "refused"),
    ("countered", "bob", "proposes"),
]


@pytest.mark.parametrize(("stage", "who", "expected"), PROPOSE_TABLE)
def test_propose_by_seller_or_countering_buyer_only(stage, who, expected, request, client_for):
    dispute = request.getfixturevalue(stage)
    before = snapshot(dispute)
    client = client_for(who)
    response = client.post(
        reverse("disputes:propose", args=[dispute.pk]),
        {
            "revision": before["revision"],
            "outcome": OutcomeType.PARTIAL_REFUND,
            "amount": "20.00",
            "note": "Meet in the middle.",
        },
    )
    after = snapshot(dispute)
    if expected == "proposes":
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert after["state"] == DisputeState.SELLER_RESPONDED
        assert after["proposal"][:3] == (
            OutcomeType.PARTIAL_REFUND,
            Decimal("20.00"),
            Party.BUYER if who == "alice" else Party.SELLER,
        )
        assert after["events"] == [*before["events"], EventKind.PROPOSED]
        return
    assert after == before
    if expected == "refused":
        # Not this person's move: back to the dispute page, which says why.
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert "You cannot do this on this dispute." in page_text(client.get(response.url))
    elif expected == "login":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected


# --- authorization: withdraw ----------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_withdraw_only_by_the_buyer(who, client_for, dispute):
    before = snapshot(dispute)
    url = reverse("disputes:withdraw", args=[dispute.pk])
    client = client_for(who)
    page = client.get(url)
    response = client.post(url, {"revision": before["revision"]})
    after = snapshot(dispute)
    if who == "alice":
        assert page.status_code == 200
        assert "A withdrawn dispute cannot be opened again." in page_text(page)
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert after["state"] == DisputeState.WITHDRAWN
        assert after["outcome"] == (OutcomeType.WITHDRAWN, None, Party.BUYER)
        assert after["deadline"] == (None, "")
        assert after["events"] == [EventKind.OPENED, EventKind.WITHDRAWN]
        return
    assert after == before
    if who == "anonymous":
        assert is_login_redirect(page) and is_login_redirect(response)
    else:
        # The seller and staff, too: withdrawing is the buyer's alone.
        assert page.status_code == 404 and response.status_code == 404


# --- authorization: messages ----------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_messages_by_buyer_seller_and_staff(who, client_for, dispute, persona):
    before = snapshot(dispute)
    body = f"A word from {who}."
    response = client_for(who).post(reverse("disputes:message", args=[dispute.pk]), {"body": body})
    after = snapshot(dispute)
    if who in ("alice", "bob", "sam"):
        assert response.status_code == 302
        assert response.url == f"{dispute.get_absolute_url()}#messages"
        message = dispute.messages.get()
        assert message.body == body and message.author == persona(who)
        assert message.author_party == {"alice": "buyer", "bob": "seller", "sam": "staff"}[who]
        # A message is recorded but moves nothing.
        assert after["events"] == [*before["events"], EventKind.MESSAGE]
        assert (after["state"], after["revision"]) == (before["state"], before["revision"])
        return
    assert after == before
    if who == "anonymous":
        assert is_login_redirect(response)
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("name", ["accept", "propose", "message"])
def test_action_urls_refuse_get(name, client_for, dispute):
    before = snapshot(dispute)
    response = client_for("bob").get(reverse(f"disputes:{name}", args=[dispute.pk]))
    assert response.status_code == 405
    assert snapshot(dispute) == before


# --- authorization: the lists ---------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_buyer_list_shows_only_ones_own_disputes(who, client_for, dispute):
    response = client_for(who).get(reverse("disputes:buyer_list"))
    if who == "anonymous":
        assert is_login_redirect(response)
        return
    assert response.status_code == 200
    assert (f'id="dispute-{dispute.pk}"' in response.content.decode()) is (who == "alice")


@pytest.mark.parametrize("who", PERSONAS)
def test_seller_list_shows_only_the_sellers_store(who, client_for, dispute):
    response = client_for(who).get(reverse("disputes:seller_list"))
    if who == "anonymous":
        assert is_login_redirect(response)
    elif who in ("alice", "carol", "sam"):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert (f'id="dispute-{dispute.pk}"' in response.content.decode()) is (who == "bob")


def test_seller_list_puts_the_nearest_deadline_first_and_filters_by_state(
    client_for, alice, carol, bobs_store, dispute, bob
):
    # An older dispute (nearer deadline) and a settled one (no deadline, so last).
    earlier = make_order(
        buyer=carol, store=bobs_store, shipped_at=timezone.now() - timedelta(days=5)
    )
    older = open_dispute(
        line=earlier.lines.get(),
        buyer=carol,
        request=claim(quantity=2, requested_amount=Decimal("20.00")),
        now=timezone.now() - timedelta(days=1),
    )
    third = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now())
    settled = open_dispute(
        line=third.lines.get(),
        buyer=alice,
        request=claim(quantity=2, requested_amount=Decimal("5.00")),
    )
    services.dispute_accept(dispute_id=settled.pk, user=bob)

    html = client_for("bob").get(reverse("disputes:seller_list")).content.decode()
    order_on_page = re.findall(r'<tr id="dispute-(\d+)">', html)
    assert order_on_page == [str(older.pk), str(dispute.pk), str(settled.pk)]
    assert "If unanswered: the buyer's request is granted." in row(html, f"dispute-{older.pk}")

    html = client_for("bob").get(reverse("disputes:seller_list") + "?state=resolved").content
    assert re.findall(r'<tr id="dispute-(\d+)">', html.decode()) == [str(settled.pk)]
    html = client_for("bob").get(reverse("disputes:seller_list") + "?state=bogus").content
    assert len(re.findall(r'<tr id="dispute-(\d+)">', html.decode())) == 3


# --- the open form --------------------------------------------------------------------------------
def test_my_orders_offers_open_dispute_only_while_the_window_is_open(
    client_for, alice, bobs_store, red, blue
):
    paid = make_order(buyer=alice, store=bobs_store)
    closed = make_order(
        buyer=alice,
        store=bobs_store,
        shipped_at=timezone.now() - timedelta(days=30),
        confirmed_at=timezone.now() - timedelta(days=16),
    )
    html = client_for("alice").get(reverse("dashboards:my_orders")).content.decode()
    for line in (red, blue):
        cell = row(html, f"line-{line.pk}")
        assert "Open dispute" in cell
        assert reverse("disputes:open", args=[line.pk]) in cell
    paid_cell = row(html, f"line-{paid.lines.get().pk}")
    assert "Open dispute" not in paid_cell
    assert "once the seller has shipped" in paid_cell
    closed_line = closed.lines.get()
    closed_cell = row(html, f"line-{closed_line.pk}")
    assert "Open dispute" not in closed_cell
    assert reverse("disputes:open", args=[closed_line.pk]) not in closed_cell
    assert "The dispute window closed on" in closed_cell


def test_opening_one_dress_leaves_the_other_disputable(client_for, red, blue):
    client = client_for("alice")
    response = client.post(reverse("disputes:open", args=[red.pk]), open_form(), follow=True)
    assert response.status_code == 200
    assert "Your dispute is open." in page_text(response)
    dispute = Dispute.objects.get(line=red)
    assert dispute.state == DisputeState.OPEN
    assert (dispute.proposal_type, dispute.proposal_amount) == (
        OutcomeType.FULL_REFUND,
        Decimal("45.00"),
    )
    assert event_kinds(dispute) == [EventKind.OPENED]

    html = client.get(reverse("dashboards:my_orders")).content.decode()
    red_cell = row(html, f"line-{red.pk}")
    assert f'href="{dispute.get_absolute_url()}"' in red_cell
    assert f"Dispute #{dispute.pk}" in red_cell
    assert "Waiting for the seller" in red_cell
    assert "Open dispute" not in red_cell
    blue_cell = row(html, f"line-{blue.pk}")
    assert "Open dispute" in blue_cell
    assert reverse("disputes:open", args=[blue.pk]) in blue_cell


def test_a_partial_claim_is_put_on_the_table_as_asked(client_for, red):
    client_for("alice").post(
        reverse("disputes:open", args=[red.pk]),
        open_form(amount_choice="partial", requested_amount="30.00"),
    )
    dispute = Dispute.objects.get(line=red)
    assert dispute.requested_amount == Decimal("30.00")
    assert dispute.amount_cap == Decimal("45.00")
    assert (dispute.proposal_type, dispute.proposal_amount, dispute.proposal_by) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("30.00"),
        Party.BUYER,
    )


REFUSALS = [
    pytest.param(
        {"description": CYRILLIC},
        "description",
        ["not in the Latin alphabet", "“П”", "“л”", "Cyrillic"],
        id="cyrillic-description",
    ),
    pytest.param(
        {"amount_choice": "partial", "requested_amount": "99.00"},
        "requested_amount",
        ["You paid 45.00 USD for 1 item(s)", "cannot be more than that"],
        id="amount-above-what-was-paid",
    ),
    pytest.param(
        {"amount_choice": "partial", "requested_amount": ""},
        "requested_amount",
        ["Enter the amount you ask for."],
        id="partial-without-amount",
    ),
    pytest.param(
        {"received": "no", "reason": "not_received", "requested_outcome": "return_and_refund"},
        "requested_outcome",
        ["Nothing can be returned if the parcel never arrived"],
        id="not-received-but-return",
    ),
    # The first question left as it was ("it arrived") with "I did not receive the
    # parcel", and the opposite: both answered HTTP 500 once (a KeyError in the form).
    pytest.param(
        {"received": "yes", "reason": "not_received"},
        "reason",
        ["You said the parcel arrived: choose what is wrong with it."],
        id="arrived-but-not-received",
    ),
    pytest.param(
        {"received": "no", "reason": "not_as_described"},
        "reason",
        ["You said the parcel did not arrive"],
        id="never-arrived-but-not-as-described",
    ),
    pytest.param(
        {"description": "\u200b" * 20},
        "description",
        ["at least 10 characters"],
        id="zero-width-spaces",
    ),
    pytest.param(
        {"description": "The colour is \u32d0\u32d1, not red"},
        "description",
        ["not in the Latin alphabet", "“\u32d0”", "Katakana"],
        id="circled-katakana",
    ),
]


@pytest.mark.parametrize(("changes", "field", "says"), REFUSALS)
def test_open_form_refusal_keeps_what_was_typed_and_names_the_field(
    changes, field, says, client_for, red
):
    data = open_form(**changes)
    response = client_for("alice").post(reverse("disputes:open", args=[red.pk]), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert not Dispute.objects.filter(line=red).exists()
    # The error sits under the field it concerns, and only there; the photo sent with the
    # refused form is kept and shown as already sent (tests/disputes/test_questionnaire.py).
    assert fields_in_error(html) == {field}
    assert "Already sent: 1 file" in html
    for words in says:
        assert words in field_error(html, field)
    # Everything typed is still there.
    assert textarea(html, "description") == data["description"]
    assert is_checked(html, "received", data["received"])
    assert re.search(rf'<option value="{data["reason"]}" selected>', html)
    assert is_checked(html, "requested_outcome", data["requested_outcome"])
    assert is_checked(html, "amount_choice", data["amount_choice"])
    assert re.search(rf'<input type="number" name="quantity" value="{data["quantity"]}"', html)
    if data["requested_amount"]:
        assert f'value="{data["requested_amount"]}"' in html


def test_cyrillic_is_accepted_when_the_setting_is_off(client_for, red, settings):
    settings.PORTAL_REQUIRE_LATIN_DESCRIPTION = False
    response = client_for("alice").post(
        reverse("disputes:open", args=[red.pk]), open_form(description=CYRILLIC)
    )
    assert response.status_code == 302
    assert Dispute.objects.get(line=red).description == CYRILLIC


def test_window_closed_explains_and_creates_nothing(client_for, alice, bobs_store):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=30),
        confirmed_at=timezone.now() - timedelta(days=16),
    )
    line = order.lines.order_by("id")[0]
    url = reverse("disputes:open", args=[line.pk])
    client = client_for("alice")
    closed_on = absolute(order.completed_at + timedelta(days=15))

    page = client.get(url)
    text = page_text(page)
    assert page.status_code == 200
    assert f"The dispute window closed on {closed_on}." in text
    assert "complain about the seller to the administration" in text
    assert 'id="open-dispute"' not in text

    response = client.post(url, open_form())
    assert response.status_code == 400
    assert f"The dispute window closed on {closed_on}." in page_text(response)
    assert not Dispute.objects.filter(order=order).exists()


def test_paid_order_cannot_be_disputed_yet(client_for, alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store)
    url = reverse("disputes:open", args=[order.lines.get().pk])
    response = client_for("alice").post(url, open_form(requested_amount="20.00"))
    assert "once the seller has shipped" in page_text(response)
    assert not Dispute.objects.filter(order=order).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_line_already_disputed_leads_to_its_dispute(method, client_for, dispute, red):
    before = snapshot(dispute)
    client = client_for("alice")
    url = reverse("disputes:open", args=[red.pk])
    response = getattr(client, method)(url, open_form() if method == "post" else None)
    assert response.status_code == 302 and response.url == dispute.get_absolute_url()
    assert "This item already has a dispute; here it is." in page_text(client.get(response.url))
    assert Dispute.objects.filter(line=red).count() == 1
    assert snapshot(dispute) == before


# --- the detail page ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "clock_says"),
    [
        ("alice", ["The seller has", "If the seller does not answer by {due}"]),
        ("bob", ["You have", "answer by {due}, the buyer's request is granted"]),
        ("sam", ["The seller has", "If the seller does not answer by {due}"]),
    ],
)
def test_detail_shows_the_claim_the_proposal_and_the_running_clock(
    who, clock_says, client_for, dispute
):
    dispute.refresh_from_db()
    text = page_text(client_for(who).get(dispute.get_absolute_url()))
    # The questionnaire's answers.
    assert "Parcel received</dt><dd>Yes</dd>" in text
    assert "Not as described (wrong colour, size or item)" in text
    assert "Refund only (I keep the goods): 45.00 USD (full)" in text
    assert DESCRIPTION in text
    # The proposal on the table: at first, the buyer's own request.
    assert 'id="proposal"' in text
    assert "Full refund: 45.00 USD" in text
    assert "proposed by the buyer" in text
    # The countdown, its absolute end and what happens when it runs out.
    due = dispute.next_deadline_at
    assert due == dispute.opened_at + timedelta(days=5)
    assert f'data-countdown="{due.isoformat()}"' in text
    assert f"(until {absolute(due)})" in text
    clock = text[text.index('id="clock"') : text.index("</article>", text.index('id="clock"'))]
    for words in clock_says:
        assert words.format(due=absolute(due)) in clock


def test_detail_shows_the_negotiation_clock_once_the_seller_answered(client_for, negotiating):
    negotiating.refresh_from_db()
    due = negotiating.next_deadline_at
    assert due == negotiating.first_answer_at + timedelta(days=7)
    text = page_text(client_for("alice").get(negotiating.get_absolute_url()))
    assert "Time left to agree:" in text
    assert f'data-countdown="{due.isoformat()}"' in text
    assert (
        f"If buyer and seller do not agree by {absolute(due)}, the platform escalates the case "
        "to an arbitrator." in text
    )
    assert "Partial refund: 10.00 USD" in text
    assert "proposed by the seller" in text
    assert "The colour varies with the light." in text


ACTIONS_TABLE = [
    ("dispute", "alice", {"withdraw"}, True),
    ("dispute", "bob", {"accept", "decline", "propose"}, True),
    ("dispute", "sam", set(), True),
    ("negotiating", "alice", {"accept", "decline", "propose", "withdraw"}, True),
    ("negotiating", "bob", {"propose"}, True),
    ("negotiating", "sam", set(), True),
    # Her own counter-proposal on the table: she may only wait (or withdraw).
    ("countered", "alice", {"withdraw"}, True),
    ("countered", "bob", {"accept", "decline", "propose"}, True),
    ("resolved", "alice", set(), False),
    ("resolved", "bob", set(), False),
    ("resolved", "sam", set(), False),
]


@pytest.mark.parametrize(("stage", "who", "offered", "can_write"), ACTIONS_TABLE)
def test_detail_offers_only_what_the_state_machine_allows(
    stage, who, offered, can_write, request, client_for
):
    dispute = request.getfixturevalue(stage)
    html = client_for(who).get(dispute.get_absolute_url()).content.decode()
    assert actions_on(html, dispute) == offered
    assert ('id="actions"' in html) is bool(offered)
    assert (reverse("disputes:message", args=[dispute.pk]) in html) is can_write


@pytest.mark.parametrize(
    ("stage", "who", "label"),
    [
        ("dispute", "bob", "Accept the buyer's request"),
        ("dispute", "bob", "Propose another solution"),
        ("negotiating", "alice", "Accept the seller's proposal"),
        ("negotiating", "alice", "Make a counter-proposal"),
        ("negotiating", "bob", "Revise your proposal"),
        ("negotiating", "alice", "Decline the seller's proposal"),
        ("dispute", "bob", "Decline the buyer's request"),
        ("countered", "bob", "Decline the buyer's counter-proposal"),
    ],
)
def test_detail_names_each_action_for_the_person(stage, who, label, request, client_for):
    dispute = request.getfixturevalue(stage)
    assert label in page_text(client_for(who).get(dispute.get_absolute_url()))


def test_detail_shows_messages_and_one_timeline_entry_per_event(
    client_for, negotiating, alice, bob, sam
):
    services.dispute_post_message(
        dispute_id=negotiating.pk, user=alice, body="It is orange in daylight too."
    )
    services.dispute_post_message(
        dispute_id=negotiating.pk, user=bob, body="Please send a photo by the window."
    )
    services.dispute_post_message(
        dispute_id=negotiating.pk, user=sam, body="Both of you: keep it civil."
    )
    services.dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("30.00"),
    )
    html = client_for("alice").get(negotiating.get_absolute_url()).content.decode()
    text = html_lib.unescape(html)
    for body in (
        "It is orange in daylight too.",
        "Please send a photo by the window.",
        "Both of you: keep it civil.",
    ):
        assert body in text
    messages = re.findall(r'<article class="msg msg-(\w+)" id="message-\d+">', html)
    assert messages == ["buyer", "seller", "staff"]
    assert timeline(html) == event_kinds(negotiating)
    assert timeline(html) == [
        EventKind.OPENED,
        EventKind.PROPOSED,
        EventKind.MESSAGE,
        EventKind.MESSAGE,
        EventKind.MESSAGE,
        EventKind.PROPOSED,
    ]
    assert "Waiting for the seller → Negotiating" in text


# --- the whole negotiation, over HTTP -------------------------------------------------------------
def test_open_propose_counter_accept_resolves_at_the_countered_amount(
    client, red, alice, bob, django_capture_on_commit_callbacks
):
    # Alice opens a dispute on the red dress.
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("disputes:open", args=[red.pk]), open_form())
    dispute = Dispute.objects.get(line=red)
    assert response.url == dispute.get_absolute_url()
    url = dispute.get_absolute_url()

    # Bob proposes a partial refund of 20.
    client.force_login(bob)
    page = client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:propose", args=[dispute.pk]),
            {
                "revision": revision_on(page),
                "outcome": "partial_refund",
                "amount": "20.00",
                "note": "We can offer 20.",
            },
        )
    assert response.status_code == 302

    # Alice sees the offer and counters with 30.
    client.force_login(alice)
    text = page_text(client.get(url))
    assert "Partial refund: 20.00 USD" in text and "We can offer 20." in text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:propose", args=[dispute.pk]),
            {
                "revision": revision_on(text),
                "outcome": "partial_refund",
                "amount": "30.00",
                "note": "It is clearly orange: 30 and we are done.",
            },
        )
    assert response.status_code == 302

    # Bob accepts the counter.
    client.force_login(bob)
    text = page_text(client.get(url))
    assert "Accept the buyer's counter-proposal" in text
    assert "Partial refund: 30.00 USD" in text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:accept", args=[dispute.pk]), {"revision": revision_on(text)}
        )
    assert response.status_code == 302

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("30.00"),
        Party.SELLER,
    )
    assert dispute.next_deadline_at is None and dispute.finished_at is not None
    story = [
        EventKind.OPENED,
        EventKind.PROPOSED,
        EventKind.PROPOSED,
        EventKind.ACCEPTED,
        EventKind.RESOLVED,
        EventKind.REFUND_SENT,  # the refund it granted reached the gateway after the commit
    ]
    assert event_kinds(dispute) == story
    transitions = list(
        dispute.events.order_by("created_at", "id").values_list("from_state", "to_state")
    )
    assert transitions == [
        ("", DisputeState.OPEN),
        (DisputeState.OPEN, DisputeState.SELLER_RESPONDED),
        (DisputeState.SELLER_RESPONDED, DisputeState.SELLER_RESPONDED),
        (DisputeState.SELLER_RESPONDED, DisputeState.AGREED),
        (DisputeState.AGREED, DisputeState.RESOLVED),
        (DisputeState.RESOLVED, DisputeState.RESOLVED),
    ]

    client.force_login(alice)
    html = client.get(url).content.decode()
    assert timeline(html) == story
    text = html_lib.unescape(html)
    assert "How it ended:</strong> Refunded, 30.00 USD" in text
    assert "Outcome: Partial refund, 30.00 USD" in text
    assert actions_on(html, dispute) == set()
    # Every change a person made, and the refund leaving, was mailed to both sides, once
    # (the outcome taking effect follows from the acceptance and is not mailed again).
    for person in (alice, bob):
        assert sum(person.email in m.to for m in mail.outbox) == len(story) - 1


# --- stale and repeated forms ---------------------------------------------------------------------
def test_accepting_an_offer_that_changed_meanwhile_is_refused_with_409(
    client_for, negotiating, bob
):
    client = client_for("alice")
    page = client.get(negotiating.get_absolute_url()).content.decode()
    old_revision = revision_on(page)
    # While Alice reads the 10.00 offer, Bob lowers it to 5.00.
    services.dispute_propose(
        dispute_id=negotiating.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("5.00"),
    )
    before = snapshot(negotiating)

    response = client.post(
        reverse("disputes:accept", args=[negotiating.pk]), {"revision": old_revision}
    )
    text = page_text(response)
    assert response.status_code == 409
    assert "This dispute changed" in text
    assert "Nothing was done with what you sent." in text
    assert 'class="badge state-seller_responded">Negotiating' in text
    assert "Time left to agree:" in text
    assert snapshot(negotiating) == before
    assert before["proposal"][:2] == (OutcomeType.PARTIAL_REFUND, Decimal("5.00"))


def test_submitting_the_same_accept_twice_second_is_409(client_for, dispute):
    client = client_for("bob")
    page = client.get(dispute.get_absolute_url()).content.decode()
    form = {"revision": revision_on(page)}
    url = reverse("disputes:accept", args=[dispute.pk])

    first = client.post(url, form)
    assert first.status_code == 302
    after_first = snapshot(dispute)
    assert after_first["state"] == DisputeState.RESOLVED

    second = client.post(url, form)
    text = page_text(second)
    assert second.status_code == 409
    assert "This dispute changed" in text
    assert 'class="badge state-resolved">Resolved' in text
    assert snapshot(dispute) == after_first
    assert after_first["events"] == [EventKind.OPENED, EventKind.ACCEPTED, EventKind.RESOLVED]


@pytest.mark.parametrize("name", ["accept", "withdraw"])
def test_a_form_without_its_revision_is_refused_with_409(name, client_for, dispute):
    before = snapshot(dispute)
    who = "bob" if name == "accept" else "alice"
    response = client_for(who).post(reverse(f"disputes:{name}", args=[dispute.pk]), {})
    assert response.status_code == 409
    assert "The form was incomplete." in page_text(response)
    assert snapshot(dispute) == before


def test_stale_proposal_is_refused_with_409(client_for, negotiating, alice):
    client = client_for("bob")
    old_revision = revision_on(client.get(negotiating.get_absolute_url()).content.decode())
    services.dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("40.00"),
    )
    before = snapshot(negotiating)
    response = client.post(
        reverse("disputes:propose", args=[negotiating.pk]),
        {"revision": old_revision, "outcome": "partial_refund", "amount": "12.00"},
    )
    assert response.status_code == 409
    assert "This dispute changed" in page_text(response)
    assert snapshot(negotiating) == before


def test_withdraw_confirmation_warns_and_the_line_is_never_disputable_again(
    client_for, dispute, red
):
    client = client_for("alice")
    page = client.get(reverse("disputes:withdraw", args=[dispute.pk]))
    text = page_text(page)
    assert "A withdrawn dispute cannot be opened again." in text
    assert "You will not be able to dispute “Summer dress (Red, M)” again" in text
    assert snapshot(dispute)["state"] == DisputeState.OPEN  # a GET changes nothing

    response = client.post(
        reverse("disputes:withdraw", args=[dispute.pk]), {"revision": revision_on(text)}
    )
    assert response.status_code == 302
    assert "You withdrew the dispute." in page_text(client.get(response.url))

    html = client.get(reverse("dashboards:my_orders")).content.decode()
    cell = row(html, f"line-{red.pk}")
    assert "Open dispute" not in cell and "Withdrawn" in cell
    again = client.get(reverse("disputes:open", args=[red.pk]))
    assert "A withdrawn dispute cannot be opened again" in page_text(again)
    assert dispute.get_absolute_url() in page_text(again)


def test_withdraw_page_of_a_settled_dispute_says_it_changed(client_for, resolved):
    before = snapshot(resolved)
    response = client_for("alice").get(reverse("disputes:withdraw", args=[resolved.pk]))
    assert response.status_code == 409
    assert "It can no longer be withdrawn." in page_text(response)
    assert snapshot(resolved) == before


def test_withdrawing_twice_second_is_409(client_for, dispute):
    client = client_for("alice")
    url = reverse("disputes:withdraw", args=[dispute.pk])
    form = {"revision": revision_on(client.get(url).content.decode())}
    assert client.post(url, form).status_code == 302
    after_first = snapshot(dispute)
    assert client.post(url, form).status_code == 409
    assert snapshot(dispute) == after_first


def test_messages_on_a_finished_dispute_are_refused(client_for, resolved):
    before = snapshot(resolved)
    response = client_for("alice").post(
        reverse("disputes:message", args=[resolved.pk]), {"body": "One more thing."}
    )
    assert response.status_code == 409
    assert "no more messages can be added" in page_text(response)
    assert snapshot(resolved) == before


def test_an_empty_message_is_refused_under_its_field(client_for, dispute):
    before = snapshot(dispute)
    response = client_for("bob").post(
        reverse("disputes:message", args=[dispute.pk]), {"body": "   "}
    )
    assert response.status_code == 400
    assert fields_in_error(response.content.decode()) == {"body"}
    assert snapshot(dispute) == before


def test_a_refused_proposal_keeps_what_was_typed(client_for, dispute):
    before = snapshot(dispute)
    response = client_for("bob").post(
        reverse("disputes:propose", args=[dispute.pk]),
        {
            "revision": before["revision"],
            "outcome": "partial_refund",
            "amount": "80.00",
            "note": "Our best offer.",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert fields_in_error(html) == {"amount"}
    assert "cannot be more than the 45.00 USD paid" in field_error(html, "amount")
    assert 'value="80.00"' in html
    assert textarea(html, "note") == "Our best offer."
    assert is_checked(html, "outcome", "partial_refund")
    assert snapshot(dispute) == before


# --- query counts ---------------------------------------------------------------------------------
# The same bound for one row and for fifty: a page whose count grows with its rows fails.
DETAIL_QUERIES = 10
# The lists are paginated (one COUNT); My orders reads its rows' incident notes (one query)
# and its stores' standing (two grouped counts).
SELLER_LIST_QUERIES = 8
BUYER_LIST_QUERIES = 6
MY_ORDERS_QUERIES = 11


def test_detail_queries_do_not_grow_with_messages_and_events(
    client_for, dispute, alice, bob, sam, django_assert_max_num_queries
):
    client = client_for("alice")
    services.dispute_post_message(dispute_id=dispute.pk, user=bob, body="Hello there.")
    with django_assert_max_num_queries(DETAIL_QUERIES):
        assert client.get(dispute.get_absolute_url()).status_code == 200

    people = [alice, bob, sam]
    for i in range(49):
        services.dispute_post_message(
            dispute_id=dispute.pk, user=people[i % 3], body=f"Message number {i}."
        )
    for i in range(10):
        services.dispute_propose(
            dispute_id=dispute.pk,
            user=bob if i % 2 == 0 else alice,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal(10 + i),
        )
    for who in (bob, sam):
        services.dispute_add_evidence(
            dispute_id=dispute.pk, user=who, files=[photo(f"p{i}.jpg") for i in range(5)]
        )
    assert dispute.messages.count() == 50 and dispute.events.count() >= 50
    assert dispute.evidence.count() == 11
    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(dispute.get_absolute_url())
    assert response.status_code == 200
    assert len(timeline(response.content.decode())) == dispute.events.count()


def _disputed_orders(*, buyers, store, orders: int, lines_per_order: int) -> list[Dispute]:
    specs = [LineSpec(f"Item {n}", 1, Decimal("12.50"), colour="Grey") for n in range(5)]
    made = []
    for i in range(orders):
        buyer = buyers[i % len(buyers)]
        order = make_order(
            buyer=buyer,
            store=store,
            lines=specs[:lines_per_order],
            shipped_at=timezone.now() - timedelta(days=i % 20),
        )
        for line in order.lines.all():
            made.append(
                open_dispute(
                    line=line, buyer=buyer, request=claim(requested_amount=Decimal("12.50"))
                )
            )
    return made


def test_seller_list_queries_do_not_grow_with_disputes(
    client_for, alice, carol, bob, bobs_store, django_assert_max_num_queries, settings
):
    settings.PORTAL_PAGE_SIZE = 100  # every row on one page (tests/pages: page after page)
    client = client_for("bob")
    _disputed_orders(buyers=[alice], store=bobs_store, orders=1, lines_per_order=1)
    with django_assert_max_num_queries(SELLER_LIST_QUERIES):
        assert client.get(reverse("disputes:seller_list")).status_code == 200

    made = _disputed_orders(buyers=[alice, carol], store=bobs_store, orders=7, lines_per_order=5)
    for dispute in made[:10]:
        services.dispute_propose(
            dispute_id=dispute.pk,
            user=bob,
            outcome=OutcomeType.PARTIAL_REFUND,
            amount=Decimal("5.00"),
        )
    for dispute in made[10:14]:
        services.dispute_accept(dispute_id=dispute.pk, user=bob)
    assert bobs_store.disputes.count() == 36
    made = _disputed_orders(buyers=[carol], store=bobs_store, orders=14, lines_per_order=1)
    assert bobs_store.disputes.count() == 50
    with django_assert_max_num_queries(SELLER_LIST_QUERIES):
        response = client.get(reverse("disputes:seller_list"))
    assert response.status_code == 200
    assert len(re.findall(r'<tr id="dispute-\d+">', response.content.decode())) == 50


def test_buyer_list_queries_do_not_grow_with_disputes(
    client_for, alice, bobs_store, daves_store, django_assert_max_num_queries, settings
):
    settings.PORTAL_PAGE_SIZE = 100  # every row on one page (tests/pages: page after page)
    client = client_for("alice")
    _disputed_orders(buyers=[alice], store=bobs_store, orders=1, lines_per_order=1)
    with django_assert_max_num_queries(BUYER_LIST_QUERIES):
        assert client.get(reverse("disputes:buyer_list")).status_code == 200
    _disputed_orders(buyers=[alice], store=daves_store, orders=10, lines_per_order=5)
    with django_assert_max_num_queries(BUYER_LIST_QUERIES):
        response = client.get(reverse("disputes:buyer_list"))
    assert len(re.findall(r'<tr id="dispute-\d+">', response.content.decode())) == 51


def test_my_orders_queries_do_not_grow_with_disputed_lines(
    client_for, alice, bobs_store, daves_store, django_assert_max_num_queries, settings
):
    settings.PORTAL_ORDERS_PAGE_SIZE = 100  # every order on one page
    client = client_for("alice")
    _disputed_orders(buyers=[alice], store=bobs_store, orders=1, lines_per_order=1)
    with django_assert_max_num_queries(MY_ORDERS_QUERIES):
        assert client.get(reverse("dashboards:my_orders")).status_code == 200
    made = _disputed_orders(buyers=[alice], store=daves_store, orders=12, lines_per_order=2)
    for dispute in made[::3]:
        services.dispute_withdraw(dispute_id=dispute.pk, user=alice)
    for i in range(12):
        make_order(
            buyer=alice,
            store=bobs_store,
            lines=DRESS_LINES,
            shipped_at=timezone.now() - timedelta(days=i) if i % 2 else None,
        )
    with django_assert_max_num_queries(MY_ORDERS_QUERIES):
        response = client.get(reverse("dashboards:my_orders"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Dispute #") >= 24
    assert "Open dispute" in html


# --- declining the proposal on the table ----------------------------------------------------------
def decline_url(dispute: Dispute) -> str:
    return reverse("disputes:decline", args=[dispute.pk])


def section_of(html: str, element_id: str) -> str:
    """The text of one element of the page, by its id, tags stripped."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(2))))


def timeline_text(html: str) -> str:
    return section_of(html, "timeline")


@pytest.fixture
def coupon_offered(dispute, bob):
    """Bob answered Alice's request with a coupon worth 10.00."""
    return services.dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.COUPON, amount=Decimal("10.00")
    )


def test_the_buyer_declines_the_sellers_coupon_with_a_reason(
    client_for, coupon_offered, mailoutbox
):
    dispute = coupon_offered
    before = snapshot(dispute)
    client = client_for("alice")
    page = client.get(dispute.get_absolute_url()).content.decode()
    assert "Decline the seller's proposal" in page and decline_url(dispute) in page

    response = client.post(
        decline_url(dispute),
        {"revision": revision_on(page), "reason": "I want my money, not a coupon."},
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "You declined the seller's proposal; the seller has been told." in page_text(response)

    after = snapshot(dispute)
    # Still negotiating, on the same clock; nothing left on the table to accept.
    assert after["state"] == DisputeState.SELLER_RESPONDED
    assert after["deadline"] == before["deadline"]
    assert after["proposal"] == ("", None, "", "")
    assert after["revision"] == before["revision"] + 1
    assert after["events"] == [*before["events"], EventKind.DECLINED]
    event = dispute.events.get(kind=EventKind.DECLINED)
    assert (event.actor.username, event.actor_party, event.note) == (
        "alice",
        Party.BUYER,
        "I want my money, not a coupon.",
    )
    assert (event.from_state, event.to_state) == (
        DisputeState.SELLER_RESPONDED,
        DisputeState.SELLER_RESPONDED,
    )
    assert event.data == {"outcome": "coupon", "amount": "10.00", "proposed_by": "seller"}

    # Her page: the decline in the timeline, nothing to accept, no counter to anything; she
    # may propose on the empty table, or withdraw.
    assert actions_on(html, dispute) == {"propose", "withdraw"}
    text = page_text(response)
    assert "Make a counter-proposal" not in text and "Propose a solution" in text
    assert "Alice declined the seller's proposal." in timeline_text(html)
    assert "I want my money, not a coupon." in timeline_text(html)
    assert "Nothing at the moment." in section_of(html, "proposal")

    # His page: the same decline, said to him, and his turn to propose again.
    seller = client_for("bob").get(dispute.get_absolute_url()).content.decode()
    assert "Alice declined your proposal." in timeline_text(seller)
    assert "I want my money, not a coupon." in timeline_text(seller)
    assert "Nothing at the moment." in section_of(seller, "proposal")
    assert actions_on(seller, dispute) == {"propose"}
    assert "Propose a solution" in html_lib.unescape(seller)


def test_the_seller_declines_the_buyers_request_and_negotiation_starts(client_for, dispute, bob):
    client = client_for("bob")
    page = client.get(dispute.get_absolute_url()).content.decode()
    assert "Decline the buyer's request" in page
    response = client.post(decline_url(dispute), {"revision": revision_on(page)}, follow=True)
    assert "You declined the buyer's request; the buyer has been told." in page_text(response)

    dispute = Dispute.objects.get(pk=dispute.pk)
    # Declining is the seller's first answer: his 5 days stop, the 7 of negotiation run.
    assert dispute.state == DisputeState.SELLER_RESPONDED
    assert dispute.first_answer_at is not None
    assert dispute.deadline_kind == "negotiation"
    assert dispute.next_deadline_at == negotiation_ends_at(first_answer_at=dispute.first_answer_at)
    assert dispute.reminder_at is None
    assert dispute.proposal_type == ""
    event = dispute.events.get(kind=EventKind.DECLINED)
    assert (event.from_state, event.note) == (DisputeState.OPEN, "")

    buyer = client_for("alice").get(dispute.get_absolute_url()).content.decode()
    assert "Bob declined your request." in timeline_text(buyer)
    assert actions_on(buyer, dispute) == {"propose", "withdraw"}
    assert "Time left to agree" in section_of(buyer, "clock")


def test_a_declined_proposal_can_no_longer_be_accepted(client_for, coupon_offered, alice):
    services.dispute_decline(dispute_id=coupon_offered.pk, user=alice)
    before = snapshot(coupon_offered)
    for who in ("alice", "bob"):
        client = client_for(who)
        response = client.post(
            reverse("disputes:accept", args=[coupon_offered.pk]),
            {"revision": before["revision"]},
        )
        assert response.status_code == 409, who
        assert snapshot(coupon_offered) == before
        response = client.post(decline_url(coupon_offered), {"revision": before["revision"]})
        assert response.status_code == 409, who
        assert snapshot(coupon_offered) == before


def test_the_other_side_proposes_again_after_a_decline(client_for, coupon_offered, alice):
    services.dispute_decline(dispute_id=coupon_offered.pk, user=alice, reason="No coupon.")
    client = client_for("bob")
    page = client.get(coupon_offered.get_absolute_url()).content.decode()
    client.post(
        reverse("disputes:propose", args=[coupon_offered.pk]),
        {"revision": revision_on(page), "outcome": "partial_refund", "amount": "25.00"},
    )
    html = client_for("alice").get(coupon_offered.get_absolute_url()).content.decode()
    assert "Partial refund: 25.00 USD" in section_of(html, "proposal")
    assert actions_on(html, coupon_offered) == {"accept", "decline", "propose", "withdraw"}
    assert "Make a counter-proposal" in html_lib.unescape(html)


def test_nobody_is_offered_a_counter_to_their_own_proposal(client_for, countered):
    before = snapshot(countered)
    client = client_for("alice")
    html = client.get(countered.get_absolute_url()).content.decode()
    text = html_lib.unescape(html)
    assert "Make a counter-proposal" not in text and "Decline the" not in text
    assert "This is your proposal; waiting for the other side" in text
    # Not only the page: the server refuses a counter, or a decline, of her own proposal.
    for url, data in (
        (reverse("disputes:propose", args=[countered.pk]), {"outcome": "full_refund"}),
        (decline_url(countered), {"reason": "Changed my mind."}),
    ):
        response = client.post(url, {"revision": before["revision"], **data})
        assert response.status_code == 302 and response.url == countered.get_absolute_url()
        assert "You cannot do this on this dispute." in page_text(client.get(response.url))
        assert snapshot(countered) == before


DECLINE_TABLE = [
    ("dispute", "alice", "refused"),  # her own request
    ("dispute", "bob", "declines"),
    ("dispute", "sam", 403),
    ("dispute", "carol", 404),
    ("dispute", "dave", 404),
    ("dispute", "anonymous", "login"),
    ("negotiating", "alice", "declines"),
    ("negotiating", "bob", "refused"),  # his own proposal
    ("negotiating", "sam", 403),
    ("countered", "alice", "refused"),
    ("countered", "bob", "declines"),
    ("resolved", "alice", 409),
    ("resolved", "bob", 409),
]


@pytest.mark.parametrize(("stage", "who", "expected"), DECLINE_TABLE)
def test_decline_only_by_the_other_side_of_the_proposal(stage, who, expected, request, client_for):
    dispute = request.getfixturevalue(stage)
    before = snapshot(dispute)
    client = client_for(who)
    response = client.post(decline_url(dispute), {"revision": before["revision"], "reason": ""})
    after = snapshot(dispute)
    if expected == "declines":
        assert response.status_code == 302
        assert after["state"] == DisputeState.SELLER_RESPONDED
        assert after["proposal"] == ("", None, "", "")
        assert after["events"] == [*before["events"], EventKind.DECLINED]
        return
    assert after == before
    if expected == "refused":
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert "You cannot do this on this dispute." in page_text(client.get(response.url))
    elif expected == "login":
        assert is_login_redirect(response)
    else:
        assert response.status_code == expected


def test_a_decline_from_a_page_that_is_out_of_date_is_409(client_for, negotiating, bob):
    client = client_for("alice")
    page = client.get(negotiating.get_absolute_url()).content.decode()
    services.dispute_propose(
        dispute_id=negotiating.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20"),
    )
    before = snapshot(negotiating)
    response = client.post(decline_url(negotiating), {"revision": revision_on(page)})
    assert response.status_code == 409
    assert "This dispute changed" in page_text(response)
    assert snapshot(negotiating) == before


def test_a_too_long_reason_is_refused_under_its_field_keeping_it(client_for, negotiating):
    client = client_for("alice")
    page = client.get(negotiating.get_absolute_url()).content.decode()
    before = snapshot(negotiating)
    response = client.post(
        decline_url(negotiating), {"revision": revision_on(page), "reason": "x" * 5001}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Keep the reason under 5000 characters." in field_error(html, "reason")
    assert textarea(html, "reason") == "x" * 5001
    assert snapshot(negotiating) == before


def test_the_decline_is_mailed_to_the_proposer_with_a_receipt_for_the_decliner(
    client_for, coupon_offered, mailoutbox, django_capture_on_commit_callbacks
):
    client = client_for("alice")
    page = client.get(coupon_offered.get_absolute_url()).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            decline_url(coupon_offered),
            {"revision": revision_on(page), "reason": "I want my money, not a coupon."},
        )
    mail_to_bob, receipt = sorted(mailoutbox, key=lambda mail: mail.to != ["bob@example.com"])
    assert mail_to_bob.to == ["bob@example.com"]
    assert receipt.to == ["alice@example.com"]
    assert "You declined the seller's proposal." in receipt.body
    assert "Proposal declined" in mail_to_bob.subject
    for body in (mail_to_bob.body, html_lib.unescape(mail_to_bob.alternatives[0][0])):
        assert "Alice declined your proposal." in body
        assert "Coupon for a next purchase 10.00 USD" in body
        assert "I want my money, not a coupon." in body
        assert "Nothing is on the table now" in body
        assert "Buyer and seller have until" in body


# --- replies to a ruling: silence is not an agreement ---------------------------------------------
@pytest.fixture
def ruled(negotiating, sam):
    """Negotiation ran out; Sam ruled a partial refund of 20.00."""
    services.disputes_sweep_due(now=Dispute.objects.get(pk=negotiating.pk).next_deadline_at)
    return services.dispute_rule(
        dispute_id=negotiating.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20.00"),
        reason="The photos show the colour differs.",
    )


def test_silence_on_a_ruling_shows_as_no_reply_not_as_agreement(client_for, ruled, alice):
    import time_machine

    services.dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True)
    for who in ("alice", "bob"):
        html = client_for(who).get(ruled.get_absolute_url()).content.decode()
        assert section_of(html, "reply-buyer").strip() == "Agrees"
        seller = section_of(html, "reply-seller")
        assert seller.startswith("No reply yet") and "time left:" in seller

    due = Dispute.objects.get(pk=ruled.pk).next_deadline_at
    # The window passed, even before the sweep applied it: silence is named as such.
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        html = client_for("alice").get(ruled.get_absolute_url()).content.decode()
        assert section_of(html, "reply-seller").strip() == "No reply (counts as agreement)"
    services.disputes_sweep_due(now=due)
    dispute = Dispute.objects.get(pk=ruled.pk)
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.buyer_reply, dispute.seller_reply) == ("agree", "")
    for who in ("alice", "bob"):
        html = client_for(who).get(ruled.get_absolute_url()).content.decode()
        assert section_of(html, "reply-buyer").strip() == "Agrees"
        assert section_of(html, "reply-seller").strip() == "No reply (counts as agreement)"
        text = timeline_text(html)
        assert "Bob's Boutique did not reply to the ruling in time" in text or (
            "You did not reply to the ruling in time" in text
        )


def test_a_side_silent_while_the_other_objected_is_not_said_to_agree(client_for, ruled, bob):
    services.dispute_reply_ruling(
        dispute_id=ruled.pk, user=bob, agree=False, reason="I shipped exactly what was shown."
    )
    html = client_for("alice").get(ruled.get_absolute_url()).content.decode()
    assert section_of(html, "reply-seller").strip() == "Objects"
    assert section_of(html, "reply-buyer").strip() == "No reply (the other side objected)"


# --- what happens next, what actually happened, what the parties see ------------------------------
def test_accepting_a_replacement_says_what_happens_next_not_settled(client_for, dispute, bob):
    services.dispute_propose(dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REPLACEMENT)
    client = client_for("alice")
    page = client.get(dispute.get_absolute_url()).content.decode()
    response = client.post(
        reverse("disputes:accept", args=[dispute.pk]), {"revision": revision_on(page)}, follow=True
    )
    dispute = Dispute.objects.get(pk=dispute.pk)
    assert dispute.state == DisputeState.AWAITING_REPLACEMENT
    text = page_text(response)
    assert "settled." not in text.split("The seller must ship the replacement by")[0]
    assert (
        f"You accepted. The seller must ship the replacement by "
        f"{absolute(dispute.next_deadline_at)}; the dispute is settled once it arrives."
    ) in text


def test_accepting_a_return_tells_each_side_what_comes_next(client_for, red, alice):
    dispute = open_dispute(
        line=red,
        buyer=alice,
        request=claim(requested_outcome=RequestedOutcome.RETURN_AND_REFUND),
    )
    client = client_for("bob")
    page = client.get(dispute.get_absolute_url()).content.decode()
    response = client.post(
        reverse("disputes:accept", args=[dispute.pk]), {"revision": revision_on(page)}, follow=True
    )
    dispute = Dispute.objects.get(pk=dispute.pk)
    assert (
        f"You accepted. The buyer must ship the item back by {absolute(dispute.next_deadline_at)}; "
        "confirm here when it arrives, and the refund of 45.00 USD goes out."
    ) in page_text(response)


def test_accepting_a_refund_says_it_is_on_its_way(client_for, dispute):
    client = client_for("bob")
    page = client.get(dispute.get_absolute_url()).content.decode()
    response = client.post(
        reverse("disputes:accept", args=[dispute.pk]), {"revision": revision_on(page)}, follow=True
    )
    assert (
        "You accepted. The dispute is settled: a refund of 45.00 USD is on its way to the buyer."
        in page_text(response)
    )


def test_a_lapsed_return_leads_with_what_happened(client_for, red, alice, bob):
    dispute = open_dispute(
        line=red,
        buyer=alice,
        request=claim(requested_outcome=RequestedOutcome.RETURN_AND_REFUND),
    )
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    services.disputes_sweep_due(now=Dispute.objects.get(pk=dispute.pk).next_deadline_at)
    assert Dispute.objects.get(pk=dispute.pk).closing == "return_lapsed"
    for who in ("alice", "bob"):
        html = client_for(who).get(dispute.get_absolute_url()).content.decode()
        outcome = section_of(html, "outcome").strip()
        assert outcome.startswith(
            "How it ended: Claim lapsed: the return was not shipped in time — no refund was made"
        ), outcome
        # What had been agreed comes after, as history, never as the outcome.
        assert "Agreed outcome, not carried out: Return, then refund, 45.00 USD" in outcome
        assert "Outcome: Return, then refund" not in outcome
        assert "the claim lapsed, without a refund." in timeline_text(html)


def test_staff_reminders_and_flags_are_not_on_the_parties_timelines(
    client_for, negotiating, sam, mailoutbox, django_capture_on_commit_callbacks
):
    dispute = Dispute.objects.get(pk=negotiating.pk)
    services.disputes_sweep_due(now=dispute.next_deadline_at)
    dispute = Dispute.objects.get(pk=dispute.pk)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.disputes_send_reminders(now=dispute.reminder_at) == 1
        services.disputes_sweep_due(now=dispute.arbitration_limit_at)
    kinds = event_kinds(dispute)
    assert EventKind.REMINDER in kinds and EventKind.ARBITRATION_LATE in kinds
    for who in ("alice", "bob"):
        html = client_for(who).get(dispute.get_absolute_url()).content.decode()
        assert "ev-reminder" not in html and "ev-arbitration_late" not in html, who
        assert "arbitration target" not in html_lib.unescape(html), who
    staff = client_for("sam").get(dispute.get_absolute_url()).content.decode()
    assert "ev-reminder" in staff and "ev-arbitration_late" in staff
    assert "15-day arbitration target" in html_lib.unescape(staff)
    # Nor in their mail: only the arbitrators heard of them.
    assert {m.to[0] for m in mailoutbox} == {sam.email}


def test_no_timeline_sentence_puts_a_past_date_in_the_future_tense(client_for, red, alice, bob):
    import time_machine

    dispute = open_dispute(
        line=red,
        buyer=alice,
        request=claim(requested_outcome=RequestedOutcome.RETURN_AND_REFUND),
    )
    services.disputes_send_reminders(now=dispute.reminder_at)
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    dispute = Dispute.objects.get(pk=dispute.pk)
    due = dispute.next_deadline_at
    when = absolute(due)
    html = client_for("alice").get(dispute.get_absolute_url()).content.decode()
    assert f"The buyer must ship the item back, with a tracking number, by {when}." in (
        timeline_text(html)
    )
    # Later, the same entries speak of those dates in the past.
    with time_machine.travel(due + timedelta(days=1), tick=False):
        for who in ("alice", "bob"):
            text = timeline_text(client_for(who).get(dispute.get_absolute_url()).content.decode())
            assert (
                f"The buyer was to ship the item back, with a tracking number, by {when}." in text
            )
            assert "must ship" not in text and "is due" not in text, text
            assert "The seller was reminded that their answer was due by" in text or (
                "You were reminded that your answer was due by" in text
            )
