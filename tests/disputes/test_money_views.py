"""The money pages of a dispute, over HTTP, as every persona: shipping a return
and confirming it, shipping a replacement and saying whether it came, the refund tracker
with its expected dates, the coupon, the outcome line, the timeline and the mails; then
the seller's escrow figures and the buyer's refunded orders.

The clock is frozen with time_machine, so the services (which default to the current
time) and the pages agree on "now"."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from disputes import services
from disputes.models import Dispute
from disputes.services import DisputeRequest
from disputes.states import Closing, DisputeState, OutcomeType, Reason
from orders.payment import PaymentMethod
from orders.services import order_confirm_receipt
from refunds.models import Coupon, Refund, RefundState
from refunds.services import refund_send
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db

PERSONAS = ["alice", "carol", "bob", "dave", "sam", "anonymous"]
DAY = timedelta(days=1)
D = Decimal
RETURN_ADDRESS = "1 Return Road, Shenzhen"
# A Friday: a card refund sent then is expected 3 to 15 business days later.
FRIDAY = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FULL = Decimal("45.00")


# --- helpers ------------------------------------------------------------------------------------
def text_of(response) -> str:
    return html_lib.unescape(response.content.decode())


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<small class="error-text" id="{name}-error">(.*?)</small>', html, re.S)
    return html_lib.unescape(match.group(1)) if match else ""


def input_value(html: str, name: str) -> str | None:
    """What a text input shows ("" when empty, None when there is no such input)."""
    match = re.search(rf'<input type="text" name="{name}"[^>]*>', html)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html_lib.unescape(value.group(1)) if value else ""


def revision_on(html: str) -> int:
    match = re.search(r'name="revision" value="(\d+)"', html)
    assert match, "no revision on the page"
    return int(match.group(1))


def section(html: str, element_id: str) -> str:
    """The markup of one section or article of the dispute page, by its id."""
    match = re.search(rf'<(article|section)[^>]* id="{element_id}">(.*?)</\1>', html, re.S)
    return html_lib.unescape(match.group(2)) if match else ""


def snapshot(dispute: Dispute) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    d = Dispute.objects.get(pk=dispute.pk)
    return {
        "state": d.state,
        "revision": d.revision,
        "closing": d.closing,
        "return": (d.return_carrier, d.return_tracking, d.return_shipped_at),
        "received": d.return_received_at,
        "replacement": (d.replacement_carrier, d.replacement_tracking, d.replacement_shipped_at),
        "deadline": (d.next_deadline_at, d.deadline_kind),
        "events": list(d.events.order_by("id").values_list("kind", flat=True)),
        "refunds": list(
            Refund.objects.filter(dispute=d).order_by("id").values_list("state", "arrived_at")
        ),
    }


def open_on(line, buyer, *, wants_return: bool = False, amount: Decimal = FULL) -> Dispute:
    return open_dispute(
        line=line,
        buyer=buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="Wrong colour: the dress is green, not blue.",
            quantity=1,
            requested_outcome="return_and_refund" if wants_return else "refund_only",
            requested_amount=amount,
        ),
    )


def text_of_html(html: str) -> str:
    return html_lib.unescape(html)


def fresh(dispute: Dispute) -> Dispute:
    return Dispute.objects.get(pk=dispute.pk)


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def clock(now):
    """Monday 23 Nov 2026, 12:00 UTC, frozen; ``clock.shift(DAY)`` moves it on."""
    with time_machine.travel(now, tick=False) as traveller:
        yield traveller


@pytest.fixture
def order(clock, alice, bobs_store, now):
    """Alice's two dresses at 45.00 from Bob's store, shipped a week ago."""
    return make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 7 * DAY)


@pytest.fixture
def red(order):
    return order.lines.order_by("id")[0]


@pytest.fixture
def blue(order):
    return order.lines.order_by("id")[1]


@pytest.fixture
def return_agreed(clock, blue, alice, bob):
    """Alice asked to return the blue dress for 45.00; Bob accepted a day later. She has
    ten days from then to ship it back; it is now one more day later."""
    dispute = open_on(blue, alice, wants_return=True)
    clock.shift(DAY)
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    clock.shift(DAY)
    return fresh(dispute)


@pytest.fixture
def return_shipped(clock, return_agreed, alice):
    services.dispute_ship_return(
        dispute_id=return_agreed.pk, user=alice, carrier="DHL", tracking="JD0001"
    )
    clock.shift(DAY)
    return fresh(return_agreed)


@pytest.fixture
def replacement_agreed(clock, red, alice, bob):
    """Alice asked for 30.00 back on the red dress; Bob offered a replacement and she
    accepted."""
    dispute = open_on(red, alice, amount=D("30.00"))
    clock.shift(DAY)
    services.dispute_propose(dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REPLACEMENT)
    clock.shift(DAY)
    services.dispute_accept(dispute_id=dispute.pk, user=alice)
    clock.shift(DAY)
    return fresh(dispute)


@pytest.fixture
def replacement_shipped(clock, replacement_agreed, bob):
    services.dispute_ship_replacement(
        dispute_id=replacement_agreed.pk, user=bob, carrier="EMS", tracking="EE123"
    )
    clock.shift(DAY)
    return fresh(replacement_agreed)


@pytest.fixture
def refunded(clock, blue, alice, bob):
    """Bob accepted Alice's full refund; the refund is recorded but not sent yet."""
    dispute = open_on(blue, alice)
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    return fresh(dispute)


@pytest.fixture
def refund(refunded) -> Refund:
    return Refund.objects.get(dispute=refunded)


@pytest.fixture
def sent_on_friday(clock, refund) -> Refund:
    """The gateway accepted the refund on Friday 27 Nov 2026."""
    clock.move_to(FRIDAY)
    return refund_send(refund_id=refund.pk)


@pytest.fixture
def coupon_issued(clock, blue, alice, bob):
    dispute = open_on(blue, alice)
    services.dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.COUPON, amount=D("12.50")
    )
    services.dispute_accept(dispute_id=dispute.pk, user=alice)
    return fresh(dispute)


# --- authorization: every new URL, every persona --------------------------------------------------
# (url name, fixture, who may, what it posts)
SHIP = {"carrier": "China Post", "tracking": "RR123CN"}
ACTIONS = [
    ("ship_return", "return_agreed", "alice", SHIP),
    ("confirm_return", "return_shipped", "bob", {}),
    ("ship_replacement", "replacement_agreed", "bob", SHIP),
    ("confirm_replacement", "replacement_shipped", "alice", {}),
    ("replacement_not_arrived", "replacement_shipped", "alice", {}),
]


@pytest.mark.parametrize("who", PERSONAS)
@pytest.mark.parametrize(("name", "stage", "owner", "data"), ACTIONS)
def test_each_step_only_by_its_own_party(name, stage, owner, data, who, request, client_for):
    dispute = request.getfixturevalue(stage)
    before = snapshot(dispute)
    response = client_for(who).post(
        reverse(f"disputes:{name}", args=[dispute.pk]), {**data, "revision": before["revision"]}
    )
    after = snapshot(dispute)
    if who == owner:
        assert response.status_code == 302 and response.url == dispute.get_absolute_url()
        assert after["revision"] == before["revision"] + 1
        return
    assert after == before
    if who == "anonymous":
        assert is_login_redirect(response)
    elif who in ("carol", "dave"):
        assert response.status_code == 404  # never says the dispute exists
    else:  # the other side, or staff: they see the dispute, but this step is not theirs
        assert response.status_code == 403


@pytest.mark.parametrize("who", PERSONAS)
def test_only_the_buyer_says_the_refund_arrived(who, client_for, sent_on_friday):
    refund = sent_on_friday
    response = client_for(who).post(
        reverse("disputes:refund_arrived", args=[refund.dispute_id, refund.pk])
    )
    refund.refresh_from_db()
    if who == "alice":
        assert response.status_code == 302
        assert response.url == reverse("disputes:detail", args=[refund.dispute_id]) + "#refunds"
        assert refund.state == RefundState.ARRIVED and refund.arrived_at == FRIDAY
        return
    assert refund.state == RefundState.SENT and refund.arrived_at is None
    if who == "anonymous":
        assert is_login_redirect(response)
    elif who in ("carol", "dave"):
        assert response.status_code == 404
    else:
        assert response.status_code == 403


def test_a_refund_is_only_reached_through_its_own_dispute(
    client_for, clock, sent_on_friday, red, alice, bob
):
    other = open_on(red, alice)
    response = client_for("alice").post(
        reverse("disputes:refund_arrived", args=[other.pk, sent_on_friday.pk])
    )
    assert response.status_code == 404
    assert Refund.objects.get(pk=sent_on_friday.pk).state == RefundState.SENT


@pytest.mark.parametrize(
    "name",
    [
        "ship_return",
        "confirm_return",
        "ship_replacement",
        "confirm_replacement",
        "replacement_not_arrived",
    ],
)
def test_the_new_action_urls_refuse_get(name, client_for, return_agreed):
    assert (
        client_for("alice").get(reverse(f"disputes:{name}", args=[return_agreed.pk])).status_code
        == 405
    )


# --- the return -----------------------------------------------------------------------------------
def test_the_buyer_sees_the_return_address_the_clock_and_the_form(client_for, return_agreed):
    html = client_for("alice").get(return_agreed.get_absolute_url()).content.decode()
    block = section(html, "return")
    assert f'<pre class="return-address">{RETURN_ADDRESS}</pre>' in html
    assert "Ship it and enter the tracking number within" in block
    assert 'class="countdown"' in block and "until 4 Dec 2026, 12:00 UTC" in block
    assert reverse("disputes:ship_return", args=[return_agreed.pk]) in html
    assert input_value(html, "carrier") == ""
    assert "the claim lapses and no refund is made" in block
    # The summary's clock says the same deadline.
    assert "You have" in section(html, "clock") and "to ship the return." in section(html, "clock")


def test_the_seller_waits_for_the_return_and_has_no_form(client_for, return_agreed):
    html = client_for("bob").get(return_agreed.get_absolute_url()).content.decode()
    block = section(html, "return")
    assert "Waiting for the buyer to ship the return by 4 Dec 2026, 12:00 UTC." in block
    assert reverse("disputes:ship_return", args=[return_agreed.pk]) not in html
    assert reverse("disputes:confirm_return", args=[return_agreed.pk]) not in html
    assert "The buyer has" in section(html, "clock")


def test_shipping_the_return_shows_the_tracking_to_both_sides(client_for, return_agreed):
    client = client_for("alice")
    page = client.get(return_agreed.get_absolute_url()).content.decode()
    response = client.post(
        reverse("disputes:ship_return", args=[return_agreed.pk]),
        {"carrier": "  DHL ", "tracking": "jd 0001-x", "revision": revision_on(page)},
        follow=True,
    )
    text = text_of(response)
    assert "The seller has been told" in text
    dispute = fresh(return_agreed)
    assert (dispute.return_carrier, dispute.return_tracking) == ("DHL", "JD 0001-X")
    block = section(response.content.decode(), "return")
    assert "DHL" in block and "JD 0001-X" in block
    assert "The seller must confirm by 5 Dec 2026, 12:00 UTC that the parcel arrived." in block
    assert "Alice shipped the return: DHL, tracking number JD 0001-X." in text

    seller = client_for("bob").get(return_agreed.get_absolute_url()).content.decode()
    block = section(seller, "return")
    assert "JD 0001-X" in block and "The returned parcel arrived" in block
    assert "If you do not confirm by 5 Dec 2026, 12:00 UTC, the refund goes out by itself." in block


@pytest.mark.parametrize(
    ("carrier", "tracking", "field", "words"),
    [
        ("", "RR123CN", "carrier", "Enter the carrier"),
        ("Почта России", "", "tracking", "Enter the tracking number"),
        ("DHL", "РР123", "tracking", "only Latin letters"),
    ],
)
def test_a_refused_return_form_keeps_what_was_typed_and_names_the_field(
    client_for, return_agreed, carrier, tracking, field, words
):
    before = snapshot(return_agreed)
    response = client_for("alice").post(
        reverse("disputes:ship_return", args=[return_agreed.pk]),
        {"carrier": carrier, "tracking": tracking, "revision": before["revision"]},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert words in field_error(html, field)
    assert input_value(html, "carrier") == carrier
    assert input_value(html, "tracking") == tracking
    assert snapshot(return_agreed) == before


def test_a_stale_return_form_gets_the_409_page(client_for, return_agreed, alice):
    client = client_for("alice")
    stale = revision_on(client.get(return_agreed.get_absolute_url()).content.decode())
    services.dispute_post_message(dispute_id=return_agreed.pk, user=alice, body="On my way.")
    # A message does not move the dispute; a changed revision does (here: shipped elsewhere).
    services.dispute_ship_return(
        dispute_id=return_agreed.pk, user=alice, carrier="DHL", tracking="FIRST1"
    )
    before = snapshot(return_agreed)
    response = client.post(
        reverse("disputes:ship_return", args=[return_agreed.pk]),
        {"carrier": "UPS", "tracking": "SECOND2", "revision": stale},
    )
    assert response.status_code == 409
    assert "This dispute changed" in text_of(response)
    assert snapshot(return_agreed) == before


def test_a_return_form_without_its_revision_gets_the_409_page(client_for, return_agreed):
    before = snapshot(return_agreed)
    response = client_for("alice").post(
        reverse("disputes:ship_return", args=[return_agreed.pk]), SHIP
    )
    assert response.status_code == 409
    assert snapshot(return_agreed) == before


def test_shipping_the_return_after_its_deadline_is_too_late(clock, client_for, return_agreed):
    client = client_for("alice")
    revision = revision_on(client.get(return_agreed.get_absolute_url()).content.decode())
    clock.shift(10 * DAY)  # the ten days ran out a day ago; the sweep has not run yet
    response = client.post(
        reverse("disputes:ship_return", args=[return_agreed.pk]), {**SHIP, "revision": revision}
    )
    assert response.status_code == 409
    text = text_of(response)
    assert "Too late: the deadline passed on 4 Dec 2026, 12:00 UTC" in text
    dispute = fresh(return_agreed)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.RETURN_LAPSED)
    assert dispute.return_tracking == ""
    assert "Claim lapsed: the return was not shipped in time" in text
    assert not Refund.objects.filter(dispute=dispute).exists()


def test_the_seller_confirms_the_return_and_the_refund_shows(client_for, return_shipped):
    client = client_for("bob")
    page = client.get(return_shipped.get_absolute_url()).content.decode()
    response = client.post(
        reverse("disputes:confirm_return", args=[return_shipped.pk]),
        {"revision": revision_on(page)},
        follow=True,
    )
    text = text_of(response)
    assert "You confirmed the return" in text
    dispute = fresh(return_shipped)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.RETURNED_REFUNDED)
    assert "How it ended: Returned, then refunded, 45.00 USD" in re.sub(r"<[^>]+>", "", text)
    assert "Received by the seller" in section(response.content.decode(), "return")
    tracker = section(response.content.decode(), "refunds")
    assert "45.00 USD" in tracker and "Being sent to the payment gateway." in tracker
    assert "Bob confirmed that the returned parcel arrived." in text


def test_confirming_the_return_twice_the_second_is_409(client_for, return_shipped):
    client = client_for("bob")
    revision = revision_on(client.get(return_shipped.get_absolute_url()).content.decode())
    url = reverse("disputes:confirm_return", args=[return_shipped.pk])
    assert client.post(url, {"revision": revision}).status_code == 302
    before = snapshot(return_shipped)
    assert client.post(url, {"revision": revision}).status_code == 409
    assert snapshot(return_shipped) == before
    assert Refund.objects.filter(dispute=return_shipped).count() == 1


# --- the replacement ------------------------------------------------------------------------------
def test_the_seller_sees_the_ship_form_with_its_seven_day_clock(client_for, replacement_agreed):
    html = client_for("bob").get(replacement_agreed.get_absolute_url()).content.decode()
    block = section(html, "replacement")
    assert "Ship the replacement and enter its tracking number within" in block
    assert "until 2 Dec 2026, 12:00 UTC" in block  # agreed 25 Nov + 7 days
    assert "the buyer's original request is granted: Partial refund, 30.00 USD" in block
    assert reverse("disputes:ship_replacement", args=[replacement_agreed.pk]) in html


def test_the_buyer_waits_for_the_replacement(client_for, replacement_agreed):
    html = client_for("alice").get(replacement_agreed.get_absolute_url()).content.decode()
    block = section(html, "replacement")
    assert "The seller must ship the replacement by 2 Dec 2026, 12:00 UTC." in block
    assert "your original request is granted: Partial refund, 30.00 USD" in block
    assert reverse("disputes:ship_replacement", args=[replacement_agreed.pk]) not in html
    assert reverse("disputes:confirm_replacement", args=[replacement_agreed.pk]) not in html


def test_a_refused_replacement_form_keeps_what_was_typed(client_for, replacement_agreed):
    before = snapshot(replacement_agreed)
    response = client_for("bob").post(
        reverse("disputes:ship_replacement", args=[replacement_agreed.pk]),
        {"carrier": "Royal Mail", "tracking": "", "revision": before["revision"]},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter the tracking number" in field_error(html, "tracking")
    assert input_value(html, "carrier") == "Royal Mail"
    assert snapshot(replacement_agreed) == before


def test_shipping_the_replacement_after_seven_days_is_too_late(
    clock, client_for, replacement_agreed
):
    client = client_for("bob")
    revision = revision_on(client.get(replacement_agreed.get_absolute_url()).content.decode())
    clock.shift(7 * DAY)
    response = client.post(
        reverse("disputes:ship_replacement", args=[replacement_agreed.pk]),
        {**SHIP, "revision": revision},
    )
    assert response.status_code == 409
    assert "Too late" in text_of(response)
    dispute = fresh(replacement_agreed)
    # Not shipped in time: the buyer's original request was granted instead.
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert [r.amount for r in Refund.objects.filter(dispute=dispute)] == [D("30.00")]


def test_the_buyer_sees_the_tracking_both_buttons_and_the_warning(client_for, replacement_shipped):
    html = client_for("alice").get(replacement_shipped.get_absolute_url()).content.decode()
    block = section(html, "replacement")
    assert "EMS" in block and "EE123" in block
    assert "The replacement arrived" in block and "It did not arrive" in block
    assert "your original request is then granted (Partial refund, 30.00 USD)" in block
    assert "The replacement's protection:" in block and 'class="countdown"' in block
    assert reverse("disputes:confirm_replacement", args=[replacement_shipped.pk]) in html
    assert reverse("disputes:replacement_not_arrived", args=[replacement_shipped.pk]) in html

    seller = client_for("bob").get(replacement_shipped.get_absolute_url()).content.decode()
    assert "Waiting for the buyer to confirm it arrived." in section(seller, "replacement")
    assert reverse("disputes:confirm_replacement", args=[replacement_shipped.pk]) not in seller


def test_the_replacement_arrived_ends_the_dispute(client_for, replacement_shipped):
    client = client_for("alice")
    revision = revision_on(client.get(replacement_shipped.get_absolute_url()).content.decode())
    response = client.post(
        reverse("disputes:confirm_replacement", args=[replacement_shipped.pk]),
        {"revision": revision},
        follow=True,
    )
    dispute = fresh(replacement_shipped)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REPLACED)
    text = re.sub(r"<[^>]+>", "", text_of(response))
    assert "How it ended: Replacement delivered" in text
    assert "Alice confirmed that the replacement arrived." in text
    assert not Refund.objects.filter(dispute=dispute).exists()


def test_the_replacement_did_not_arrive_grants_the_original_request(
    client_for, replacement_shipped
):
    client = client_for("alice")
    revision = revision_on(client.get(replacement_shipped.get_absolute_url()).content.decode())
    response = client.post(
        reverse("disputes:replacement_not_arrived", args=[replacement_shipped.pk]),
        {"revision": revision},
        follow=True,
    )
    dispute = fresh(replacement_shipped)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    text = re.sub(r"<[^>]+>", "", text_of(response))
    assert "How it ended: Refunded, 30.00 USD" in text
    assert "reported that the replacement did not arrive" in text
    assert "30.00 USD" in section(response.content.decode(), "refunds")


# --- the refund tracker ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["alice", "bob", "sam"])
def test_the_tracker_shows_the_business_day_window_of_a_card_refund(
    who, client_for, sent_on_friday
):
    html = client_for(who).get(sent_on_friday.dispute.get_absolute_url()).content.decode()
    tracker = section(html, "refunds")
    # Sent Friday 27 Nov: 3 business days is Wednesday 2 Dec, 15 is Friday 18 Dec.
    assert "45.00 USD" in tracker and "Card (Visa, Mastercard)" in tracker
    assert "Sent" in tracker and "27 Nov 2026" in tracker
    assert "between 2 Dec 2026 and 18 Dec 2026" in tracker
    assert sent_on_friday.gateway_reference in tracker
    assert "Overdue" not in tracker
    button = reverse("disputes:refund_arrived", args=[sent_on_friday.dispute_id, sent_on_friday.pk])
    assert (button in html) == (who == "alice")


def test_the_tracker_flags_the_refund_after_its_latest_date(clock, client_for, sent_on_friday):
    url = sent_on_friday.dispute.get_absolute_url()
    clock.move_to(datetime(2026, 12, 18, 23, 0, tzinfo=UTC))
    tracker = section(client_for("alice").get(url).content.decode(), "refunds")
    assert "Overdue" not in tracker  # still the last expected day
    clock.move_to(datetime(2026, 12, 19, 9, 0, tzinfo=UTC))
    html = client_for("alice").get(url).content.decode()  # a fresh log-in, weeks later
    tracker = section(html, "refunds")
    assert 'class="badge overdue"' in html
    assert "Overdue: this refund should have arrived by 18 Dec 2026." in tracker
    assert "Check with your bank" in tracker
    # Staff see the flag too (without the buyer's advice).
    staff = section(client_for("sam").get(url).content.decode(), "refunds")
    assert "Overdue: this refund should have arrived by 18 Dec 2026." in staff
    assert "Check with your bank" not in staff


def test_the_buyer_says_the_money_arrived(clock, client_for, sent_on_friday):
    clock.move_to(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    client = client_for("alice")
    url = reverse("disputes:refund_arrived", args=[sent_on_friday.dispute_id, sent_on_friday.pk])
    response = client.post(url, follow=True)
    assert "the refund is marked as arrived" in text_of(response)
    tracker = section(response.content.decode(), "refunds")
    assert "Arrived" in tracker and "3 Dec 2026" in tracker
    assert "The money arrived" not in tracker
    assert "The refund of 45.00 USD arrived." in text_of(response)
    # Saying it twice is harmless.
    assert client.post(url).status_code == 302
    assert Refund.objects.get(pk=sent_on_friday.pk).arrived_at == datetime(
        2026, 12, 3, 10, 0, tzinfo=UTC
    )


def test_a_pending_refund_cannot_be_marked_arrived(client_for, refund):
    response = client_for("alice").post(
        reverse("disputes:refund_arrived", args=[refund.dispute_id, refund.pk]), follow=True
    )
    assert "has not been sent yet" in text_of(response)
    assert Refund.objects.get(pk=refund.pk).state == RefundState.PENDING
    assert "Being sent to the payment gateway." in section(response.content.decode(), "refunds")


def test_a_refused_refund_says_staff_were_told(client_for, refund, settings):
    from refunds.gateway import GatewayError

    settings.PORTAL_SIMULATED_GATEWAY_MODE = "decline"
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)
    html = client_for("alice").get(refund.dispute.get_absolute_url()).content.decode()
    tracker = section(html, "refunds")
    assert "The payment gateway refused it; our staff have been told." in tracker
    assert "The money arrived" not in tracker
    assert "The payment gateway refused the refund of 45.00 USD" in text_of_html(html)


def test_an_account_balance_refund_arrives_the_same_day(clock, client_for, alice, bobs_store, now):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=now - 7 * DAY,
        payment_method=PaymentMethod.ACCOUNT_BALANCE,
    )
    dispute = open_on(order.lines.order_by("id")[0], alice)
    services.dispute_accept(dispute_id=dispute.pk, user=order.store.owner)
    clock.move_to(FRIDAY)
    refund_send(refund_id=Refund.objects.get(dispute=dispute).pk)
    tracker = section(
        client_for("alice").get(dispute.get_absolute_url()).content.decode(), "refunds"
    )
    assert "Marketplace account balance" in tracker
    assert "the same day (27 Nov 2026)" in tracker


# --- the coupon -----------------------------------------------------------------------------------
def test_the_buyer_sees_the_coupon_code(client_for, coupon_issued):
    coupon = Coupon.objects.get(dispute=coupon_issued)
    html = client_for("alice").get(coupon_issued.get_absolute_url()).content.decode()
    block = section(html, "coupon")
    assert f'<p class="coupon-code"><code>{coupon.code}</code></p>' in html
    assert "12.50 USD" in block and "Bob's Boutique" in block
    assert "Valid until 21 Feb 2027." in block  # issued 23 Nov 2026 + 90 days
    assert "How it ended: Coupon issued, 12.50 USD" in re.sub(r"<[^>]+>", "", text_of_html(html))


def test_the_seller_sees_the_coupon_value_not_its_code(client_for, coupon_issued):
    coupon = Coupon.objects.get(dispute=coupon_issued)
    html = client_for("bob").get(coupon_issued.get_absolute_url()).content.decode()
    assert coupon.code not in html
    assert "A coupon worth 12.50 USD for this store was issued to the buyer" in section(
        html, "coupon"
    )


# --- timeline, escaping and mail ------------------------------------------------------------------
def test_typed_carrier_names_are_escaped_on_the_page(client_for, return_agreed, alice):
    services.dispute_ship_return(
        dispute_id=return_agreed.pk, user=alice, carrier="<b>DHL</b>", tracking="JD1"
    )
    services.dispute_post_message(dispute_id=return_agreed.pk, user=alice, body="<i>hi</i>")
    html = client_for("bob").get(return_agreed.get_absolute_url()).content.decode()
    assert "<b>DHL</b>" not in html and "&lt;b&gt;DHL&lt;/b&gt;" in html
    assert "<i>hi</i>" not in html


def test_the_buyers_mail_carries_the_return_address_and_the_deadline(
    clock, blue, alice, bob, django_capture_on_commit_callbacks
):
    dispute = open_on(blue, alice, wants_return=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_accept(dispute_id=dispute.pk, user=bob)
    (to_alice,) = [m for m in mail.outbox if alice.email in m.to]
    assert RETURN_ADDRESS in to_alice.body
    assert "The buyer must ship the return and enter its tracking number by 3 Dec 2026" in (
        to_alice.body
    )
    (to_bob,) = [m for m in mail.outbox if bob.email in m.to]
    assert RETURN_ADDRESS not in to_bob.body


def test_the_refund_mail_gives_the_amount_and_the_window(
    clock, refund, alice, django_capture_on_commit_callbacks
):
    clock.move_to(FRIDAY)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund_send(refund_id=refund.pk)
    (to_alice,) = [m for m in mail.outbox if alice.email in m.to]
    assert "A refund of 45.00 USD was sent by Card (Visa, Mastercard)" in to_alice.body
    assert "Expected between 2 Dec 2026 and 18 Dec 2026." in to_alice.body
    assert "&" not in to_alice.body  # plain text, nothing escaped
    assert "[Dispute #" in to_alice.subject and "Refund sent" in to_alice.subject


def test_the_timeline_tells_the_return_and_the_replacement(
    client_for, return_shipped, replacement_shipped
):
    text = text_of(client_for("alice").get(return_shipped.get_absolute_url()))
    assert "The buyer must ship the item back, with a tracking number, by 4 Dec 2026" in text
    assert "Alice shipped the return: DHL, tracking number JD0001." in text
    text = text_of(client_for("bob").get(replacement_shipped.get_absolute_url()))
    assert "The seller must ship a replacement, with a tracking number, by" in text
    assert "Bob shipped the replacement: EMS, tracking number EE123." in text


# --- query counts ---------------------------------------------------------------------------------
# The dispute page's bound (tests/disputes/test_views.py), plus the coupon's one query.
DETAIL_QUERIES = 10  # with the unread-notifications badge


def test_the_refund_tracker_makes_one_query_however_many_refunds(
    clock, client_for, blue, alice, bob, django_assert_max_num_queries
):
    from refunds.services import RefundRequest, refunds_create

    dispute = open_on(blue, alice, amount=D("10.00"))
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    client = client_for("alice")
    with django_assert_max_num_queries(DETAIL_QUERIES):
        assert client.get(dispute.get_absolute_url()).status_code == 200
    # A dispute can carry more than one refund row (the line's cap still holds).
    refunds_create(
        requests=[RefundRequest(blue.pk, D("1.00"), "top-up", dispute.pk) for _ in range(6)]
    )
    for refund in Refund.objects.filter(dispute=dispute)[:3]:
        refund_send(refund_id=refund.pk)
    assert Refund.objects.filter(dispute=dispute).count() == 7
    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = client.get(dispute.get_absolute_url())
    assert len(re.findall(r'<article class="refund ', response.content.decode())) == 7


@pytest.mark.parametrize(
    ("stage", "bound"),
    [
        ("return_agreed", DETAIL_QUERIES),
        ("return_shipped", DETAIL_QUERIES),
        ("replacement_shipped", DETAIL_QUERIES),
        ("coupon_issued", DETAIL_QUERIES + 1),
    ],
)
def test_the_follow_up_pages_stay_within_the_bound(
    stage, bound, request, client_for, django_assert_max_num_queries
):
    dispute = request.getfixturevalue(stage)
    for who in ("alice", "bob", "sam"):
        client = client_for(who)
        # Staff are let in by their permissions (accounts.roles), not by is_staff: two more
        # queries (their own and their groups' permissions), once per request.
        with django_assert_max_num_queries(bound + (2 if who == "sam" else 0)):
            assert client.get(dispute.get_absolute_url()).status_code == 200


# --- the seller's escrow and the buyer's orders ---------------------------------------------------
def test_the_dashboard_shows_one_dress_paid_out_and_one_held(clock, client_for, order, blue, alice):
    open_on(blue, alice)
    order_confirm_receipt(order=order, buyer=alice)
    html = client_for("bob").get(reverse("dashboards:seller_dashboard")).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_lib.unescape(html)))
    assert "Held in escrow 45.00 USD" in text
    assert "Paid out to you 45.00 USD" in text
    assert "Refunded to buyers 0.00 USD" in text
    row = re.search(rf'<tr id="order-{order.number}">(.*?)</tr>', html, re.S).group(1)
    row = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))
    assert "Held: 45.00 USD" in row and "Paid out: 45.00 USD" in row
    assert "Refunded: 0.00 USD" in row


def test_the_dashboard_counts_a_settled_refund(clock, client_for, order, blue, alice, bob):
    dispute = open_on(blue, alice)
    order_confirm_receipt(order=order, buyer=alice)
    services.dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.PARTIAL_REFUND, amount=D("20.00")
    )
    services.dispute_accept(dispute_id=dispute.pk, user=alice)
    html = client_for("bob").get(reverse("dashboards:seller_dashboard")).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_lib.unescape(html)))
    assert "Held in escrow 0.00 USD" in text
    assert "Paid out to you 70.00 USD" in text
    assert "Refunded to buyers 20.00 USD" in text


def test_my_orders_says_what_was_refunded(client_for, refunded, order, red):
    html = client_for("alice").get(reverse("dashboards:my_orders")).content.decode()
    assert f'id="refunded-{order.number}"' in html
    assert "Refunded 45.00 USD" in html
    assert f"Dispute #{refunded.pk}" in html


def test_my_orders_says_nothing_of_refunds_when_there_are_none(client_for, order):
    html = client_for("alice").get(reverse("dashboards:my_orders")).content.decode()
    assert "Refunded" not in html
