"""The arbitration desk in Django admin, through the admin's own pages: the queue,
the case page, assigning, ruling, asking for evidence, and the complaints queue; for an
arbitrator (sam), a staff member who may only read (clerk) and a buyer (alice)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint, ComplaintState
from complaints.services import complaint_answer, complaint_open
from disputes.models import Dispute, EvidenceRequest
from disputes.services import (
    DisputeRequest,
    dispute_add_evidence,
    dispute_post_message,
    dispute_propose,
    dispute_reply_ruling,
    disputes_sweep_due,
)
from disputes.states import Closing, DisputeState, EventKind, OutcomeType, Party, Reason
from tests.factories import UserFactory, make_arbitrator, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
D = Decimal
CHANGELIST = "admin:disputes_dispute_changelist"


def claim(reason: str = Reason.DAMAGED, received: bool = True) -> DisputeRequest:
    return DisputeRequest(
        received=received,
        reason=reason,
        description="Both bags arrived torn along the seams.",
        quantity=2,
        requested_outcome="refund_only",
        requested_amount=D("20.00"),
    )


def escalate(*, buyer, store, days_ago: float, reason: str = Reason.DAMAGED) -> Dispute:
    """A dispute that the negotiation clock escalated ``days_ago`` days ago (the seller
    rejected the claim and sent a photo of their own; the negotiation ran out then)."""
    escalated_at = timezone.now() - days_ago * DAY
    answered_at = escalated_at - settings.PORTAL_NEGOTIATION_WINDOW
    order = make_order(buyer=buyer, store=store, shipped_at=escalated_at - 10 * DAY)
    dispute = open_dispute(
        line=order.lines.get(), buyer=buyer, request=claim(reason), now=escalated_at - 9 * DAY
    )
    dispute_add_evidence(
        dispute_id=dispute.pk,
        user=store.owner,
        files=[photo("label.jpg")],
        now=answered_at - timedelta(hours=1),
    )
    dispute_propose(
        dispute_id=dispute.pk,
        user=store.owner,
        outcome=OutcomeType.REJECTED,
        note="The bags were whole when they left.",
        now=answered_at,
    )
    disputes_sweep_due(now=escalated_at)
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.ESCALATED
    return dispute


@pytest.fixture
def clerk(db):
    """Staff who may read disputes and complaints, without the right to rule or answer."""
    user = UserFactory(username="clerk", first_name="Clerk", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["complaints", "disputes", "evidence", "orders"],
            codename__in=["view_dispute", "view_complaint", "view_evidence", "view_order"],
        )
    )
    return user


@pytest.fixture
def rita(db):
    return make_arbitrator("rita")


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def queue(alice, carol, bobs_store, daves_store):
    """Three escalated cases (over the 60-day limit, past the 15-day target, fresh) and one
    still open, created in an order unlike the queue's."""
    fresh = escalate(buyer=carol, store=bobs_store, days_ago=2, reason=Reason.INCOMPLETE)
    old = escalate(buyer=alice, store=bobs_store, days_ago=70)
    late = escalate(buyer=carol, store=daves_store, days_ago=20, reason=Reason.NOT_AS_DESCRIBED)
    order = make_order(buyer=alice, store=daves_store, shipped_at=timezone.now() - 2 * DAY)
    still_open = open_dispute(line=order.lines.get(), buyer=alice, request=claim())
    return {"old": old, "late": late, "fresh": fresh, "open": still_open}


@pytest.fixture
def case(alice, bobs_store):
    return escalate(buyer=alice, store=bobs_store, days_ago=3)


def case_url(dispute: Dispute, action: str = "change") -> str:
    return reverse(f"admin:disputes_dispute_{action}", args=[dispute.pk])


def change_link(dispute: Dispute) -> str:
    return f"/admin/disputes/dispute/{dispute.pk}/change/"


def listed(html: str, *disputes: Dispute) -> list[int]:
    """The given disputes in the order the page lists them (those absent left out)."""
    found = [(html.find(change_link(d)), d.pk) for d in disputes]
    return [pk for position, pk in sorted(found) if position >= 0]


def row_of(html: str, dispute: Dispute) -> str:
    start = html.index(change_link(dispute))
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def ruling(dispute: Dispute, outcome: str, amount: str = "", reason: str | None = None) -> dict:
    return {
        "outcome": outcome,
        "amount": amount,
        "reason": "The photos show torn seams on both bags." if reason is None else reason,
        "revision": dispute.revision,
    }


# --- who reaches what --------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["sam", "clerk"])
def test_staff_read_the_queue_and_the_case(who, as_user, sam, clerk, queue):
    client = as_user({"sam": sam, "clerk": clerk}[who])
    assert client.get(reverse(CHANGELIST) + "?queue=1").status_code == 200
    assert client.get(case_url(queue["old"])).status_code == 200


def test_a_buyer_is_sent_to_the_admin_login(as_user, alice, queue):
    client = as_user(alice)
    dispute = queue["old"]
    for url in (reverse(CHANGELIST), case_url(dispute)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    for action, data in [
        ("rule", ruling(dispute, OutcomeType.FULL_REFUND)),
        ("assign", {"assignee": alice.pk}),
        ("request_evidence", {"party": "seller", "note": "Send the label photo.", "days": 3}),
    ]:
        response = client.post(case_url(dispute, action), data)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    dispute.refresh_from_db()
    assert (dispute.state, dispute.assignee_id, dispute.ruling_round) == ("escalated", None, 0)
    assert not EvidenceRequest.objects.exists()


def test_staff_without_the_right_read_but_cannot_act(as_user, clerk, sam, queue):
    client = as_user(clerk)
    dispute = queue["old"]
    html = client.get(case_url(dispute)).content.decode()
    assert "Timeline" in html
    for action in ("assign", "rule", "request_evidence"):
        assert case_url(dispute, action) not in html
    assert "Assign to me" not in html
    assert 'value="assign_to_me"' not in client.get(reverse(CHANGELIST)).content.decode()

    for action, data in [
        ("rule", ruling(dispute, OutcomeType.FULL_REFUND)),
        ("assign", {"assignee": sam.pk}),
        ("request_evidence", {"party": "seller", "note": "Send the label photo.", "days": 3}),
    ]:
        assert client.post(case_url(dispute, action), data).status_code == 403
    client.post(reverse(CHANGELIST), {"action": "assign_to_me", "_selected_action": [dispute.pk]})
    dispute.refresh_from_db()
    assert (dispute.state, dispute.assignee_id, dispute.ruling_round) == ("escalated", None, 0)
    assert not EvidenceRequest.objects.exists()


def test_actions_answer_only_posts(as_user, sam, case):
    client = as_user(sam)
    for action in ("assign", "rule", "request_evidence"):
        assert client.get(case_url(case, action)).status_code == 405


# --- the queue ---------------------------------------------------------------------------------
def test_the_queue_lists_escalated_cases_oldest_first(as_user, sam, queue):
    client = as_user(sam)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert reverse(CHANGELIST) + "?queue=1" in html  # the "Arbitration queue" link
    assert "Arbitration queue" in html

    expected = [queue["old"].pk, queue["late"].pk, queue["fresh"].pk]
    for query in ("?queue=1", "?state__exact=escalated"):
        html = client.get(reverse(CHANGELIST) + query).content.decode()
        assert listed(html, *queue.values()) == expected
        assert "3 disputes" in html


def test_the_queue_marks_cases_past_the_target_and_the_limit(as_user, sam, queue):
    html = as_user(sam).get(reverse(CHANGELIST) + "?queue=1").content.decode()
    old, late, fresh = (row_of(html, queue[name]) for name in ("old", "late", "fresh"))
    assert "70 days" in old and "over limit" in old
    assert "20 days" in late and ">late<" in late and "arbitration-over" not in late
    assert "2 days" in fresh and "arbitration-badge" not in fresh
    for row in (old, late, fresh):
        assert "20.00 USD" in row


def test_the_queue_shows_amount_reason_store_buyer_and_arbitrator(as_user, sam, rita, queue):
    from disputes.services import dispute_assign

    dispute_assign(dispute_id=queue["late"].pk, user=sam, assignee=rita)
    html = as_user(sam).get(reverse(CHANGELIST) + "?queue=1").content.decode()
    row = row_of(html, queue["late"])
    for text in ("Not as described", "Dave&#x27;s Gadgets", "Carol", "rita", "With an arbitrator"):
        assert text in row


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("late=target", ["old", "late"]),
        ("late=limit", ["old"]),
        ("late=no", ["fresh"]),
        ("reason__exact=damaged", ["old", "open"]),
        ("queue=1&reason__exact=incomplete", ["fresh"]),
        ("state__exact=open", ["open"]),
        ("q=carol", ["late", "fresh"]),
        ("q=Dave%27s", ["late", "open"]),
    ],
)
def test_queue_filters_and_search(query, names, as_user, sam, queue):
    html = as_user(sam).get(reverse(CHANGELIST) + "?" + query).content.decode()
    assert sorted(listed(html, *queue.values())) == sorted(queue[name].pk for name in names)


def test_queue_filters_by_store_and_by_order_number(as_user, sam, queue, daves_store):
    client = as_user(sam)
    html = client.get(reverse(CHANGELIST) + f"?store__id__exact={daves_store.pk}").content.decode()
    assert sorted(listed(html, *queue.values())) == sorted([queue["late"].pk, queue["open"].pk])
    number = queue["fresh"].order.number
    html = client.get(reverse(CHANGELIST) + f"?q={number}").content.decode()
    assert listed(html, *queue.values()) == [queue["fresh"].pk]


def test_queue_filters_by_arbitrator(as_user, sam, rita, queue):
    from disputes.services import dispute_assign

    dispute_assign(dispute_id=queue["old"].pk, user=sam, assignee=sam)
    dispute_assign(dispute_id=queue["late"].pk, user=sam, assignee=rita)
    client = as_user(sam)

    def pks(query):
        html = client.get(reverse(CHANGELIST) + "?queue=1&" + query).content.decode()
        return listed(html, *queue.values())

    assert pks("assignee=me") == [queue["old"].pk]
    assert pks(f"assignee={rita.pk}") == [queue["late"].pk]
    assert pks("assignee=none") == [queue["fresh"].pk]
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert "?assignee=" in html and "rita" in html  # arbitrators are offered in the filter


def test_the_queue_costs_the_same_queries_whatever_its_length(as_user, sam, queue, alice, rita):
    from disputes.services import dispute_assign

    client = as_user(sam)
    url = reverse(CHANGELIST) + "?queue=1"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for days in (5, 6, 7, 30):
        more = escalate(buyer=alice, store=queue["old"].store, days_ago=days)
        dispute_assign(dispute_id=more.pk, user=sam, assignee=rita)
    with CaptureQueriesContext(connection) as many:
        assert "7 disputes" in client.get(url).content.decode()
    assert len(many) == len(few)


def test_assign_to_me_from_the_queue(as_user, sam, queue):
    client = as_user(sam)
    picked = [queue["old"].pk, queue["late"].pk]
    response = client.post(
        reverse(CHANGELIST) + "?queue=1",
        {"action": "assign_to_me", "_selected_action": picked},
        follow=True,
    )
    assert "2 cases assigned to you." in response.content.decode()
    assert set(Dispute.objects.filter(assignee=sam).values_list("pk", flat=True)) == set(picked)
    assert Dispute.objects.get(pk=queue["fresh"].pk).assignee is None


def test_assign_to_me_refuses_cases_not_with_the_arbitrators(as_user, sam, queue):
    response = as_user(sam).post(
        reverse(CHANGELIST),
        {"action": "assign_to_me", "_selected_action": [queue["open"].pk]},
        follow=True,
    )
    assert "Only a case with the arbitrators can be assigned." in response.content.decode()
    assert Dispute.objects.get(pk=queue["open"].pk).assignee is None


# --- the case page -----------------------------------------------------------------------------
def test_the_case_page_shows_the_whole_case(as_user, sam, alice, queue, bobs_store):
    dispute = queue["old"]
    dispute_post_message(dispute_id=dispute.pk, user=alice, body="Please look at the seams.")
    page = as_user(sam).get(case_url(dispute))
    assert page.status_code == 200
    html = page.content.decode()

    assert 'name="state"' not in html  # the state is never a field
    assert dispute.order.number in html and "Canvas bag" in html
    assert "Both bags arrived torn along the seams." in html
    # Timeline: every event, the escalation included.
    assert "Escalated to an arbitrator" in html and "Dispute opened" in html
    assert "Proposal made" in html
    # Both sides' evidence, side by side, through the checked views.
    buyer_item = dispute.evidence.get(party=Party.BUYER)
    seller_item = dispute.evidence.get(party=Party.SELLER)
    buyer_col = html[html.index('class="case-evidence-buyer"') :]
    seller_col = html[html.index('class="case-evidence-seller"') :]
    assert (
        reverse("disputes:evidence_thumbnail", args=[dispute.pk, buyer_item.pk])
        in (buyer_col[: buyer_col.index('class="case-evidence-seller"')])
    )
    assert reverse("disputes:evidence_file", args=[dispute.pk, seller_item.pk]) in seller_col
    # Messages.
    assert "Please look at the seams." in html
    # The store's figures and the buyer's other disputes.
    assert "Bob&#x27;s Boutique: dispute figures" in html
    assert "Disputes per 100 orders" in html and "Share lost by silence" in html
    history = html[html.index('id="buyer-history"') :]
    assert change_link(queue["open"]) in history
    assert change_link(queue["late"]) not in history  # carol's, not alice's
    assert change_link(dispute) not in history
    # The arbitrator's forms.
    for action in ("assign", "rule", "request_evidence"):
        assert case_url(dispute, action) in html
    assert "over limit" in html


def test_staff_open_the_evidence_shown_on_the_case_page(as_user, sam, case):
    item = case.evidence.get(party=Party.SELLER)
    client = as_user(sam)
    assert client.get(reverse("disputes:evidence_file", args=[case.pk, item.pk])).status_code == 200
    thumb = client.get(reverse("disputes:evidence_thumbnail", args=[case.pk, item.pk]), follow=True)
    assert thumb.status_code == 200  # the thumbnail, or the photo itself when it has none


# Session, user, the case, permissions (2), evidence, timeline, messages, evidence requests,
# the store's figures (2; 3 on SQLite, which takes the median in Python), the buyer's history,
# the arbitrators, and the case again for the admin's own form: whatever the number of items.
CASE_PAGE_QUERIES = 14 if connection.vendor == "postgresql" else 15


def test_the_case_page_costs_the_same_with_twenty_items(
    as_user, sam, alice, bob, case, settings, django_assert_max_num_queries
):
    settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY = 30
    client = as_user(sam)
    url = case_url(case)
    client.get(url)  # warm the per-process caches (content types), as a running server has
    with django_assert_max_num_queries(CASE_PAGE_QUERIES):
        assert client.get(url).status_code == 200

    dispute_add_evidence(
        dispute_id=case.pk, user=bob, files=[photo(f"p{i}.jpg") for i in range(20)]
    )
    for i in range(20):
        dispute_post_message(
            dispute_id=case.pk, user=alice if i % 2 else bob, body=f"Message number {i}."
        )
    assert case.evidence.count() == 22 and case.events.count() > 20
    with django_assert_max_num_queries(CASE_PAGE_QUERIES):
        html = client.get(url).content.decode()
    assert "Message number 19." in html and "p19.jpg" in html


# --- assigning ---------------------------------------------------------------------------------
def test_assign_a_case_to_myself(as_user, sam, case):
    response = as_user(sam).post(case_url(case, "assign"), {"assignee": sam.pk}, follow=True)
    assert response.redirect_chain[-1][0] == case_url(case)
    assert "The case is assigned to sam." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == sam
    event = case.events.get(kind=EventKind.ASSIGNED)
    assert (event.actor, event.data["assignee"]) == (sam, sam.pk)


def test_assign_a_case_to_another_arbitrator_and_back_to_nobody(as_user, sam, rita, case):
    client = as_user(sam)
    page = client.get(case_url(case)).content.decode()
    assert f'<option value="{rita.pk}">rita</option>' in page
    client.post(case_url(case, "assign"), {"assignee": rita.pk})
    case.refresh_from_db()
    assert case.assignee == rita
    client.post(case_url(case, "assign"), {"assignee": ""})
    case.refresh_from_db()
    assert case.assignee is None
    assert case.events.filter(kind=EventKind.ASSIGNED).count() == 2


def test_a_case_cannot_be_given_to_staff_who_are_not_arbitrators(as_user, sam, clerk, case):
    response = as_user(sam).post(case_url(case, "assign"), {"assignee": clerk.pk})
    assert response.status_code == 400
    assert "Cases can only be given to arbitrators." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee is None
    assert not case.events.filter(kind=EventKind.ASSIGNED).exists()


# --- ruling ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcome", "amount", "recorded"),
    [
        (OutcomeType.FULL_REFUND, "", D("20.00")),
        (OutcomeType.PARTIAL_REFUND, "7.50", D("7.50")),
        (OutcomeType.RETURN_AND_REFUND, "", D("20.00")),
        (OutcomeType.REJECTED, "", None),
    ],
)
def test_an_arbitrator_rules(outcome, amount, recorded, as_user, sam, case):
    client = as_user(sam)
    response = client.post(case_url(case, "rule"), ruling(case, outcome, amount), follow=True)
    assert response.redirect_chain[-1][0] == case_url(case)
    assert "Ruling recorded" in response.content.decode()
    case.refresh_from_db()
    assert case.state == DisputeState.RULED
    assert (case.ruling_type, case.ruling_amount, case.ruling_round) == (outcome, recorded, 1)
    assert case.ruling_reason == "The photos show torn seams on both bags."
    assert (case.ruled_by, case.assignee) == (sam, sam)
    assert case.next_deadline_at is not None  # the parties' 5 days to reply
    event = case.events.get(kind=EventKind.RULED)
    assert (event.from_state, event.to_state, event.actor) == ("escalated", "ruled", sam)
    # The page now shows the ruling, and no ruling form.
    html = response.content.decode()
    assert "The photos show torn seams on both bags." in html
    assert case_url(case, "rule") not in html


def test_a_partial_refund_above_what_was_paid_is_refused_keeping_the_form(as_user, sam, case):
    data = ruling(case, OutcomeType.PARTIAL_REFUND, "999.00", "Half the bags were fine, half not.")
    response = as_user(sam).post(case_url(case, "rule"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "The amount cannot be more than" in html
    assert 'value="999.00"' in html
    assert "Half the bags were fine, half not." in html
    assert 'value="partial_refund" checked' in html or (
        re.search(r'value="partial_refund"[^>]*checked', html) is not None
    )
    case.refresh_from_db()
    assert (case.state, case.ruling_round, case.ruling_type) == ("escalated", 0, "")


def test_a_ruling_needs_written_reasons(as_user, sam, case):
    response = as_user(sam).post(
        case_url(case, "rule"), ruling(case, OutcomeType.FULL_REFUND, reason="")
    )
    assert response.status_code == 400
    assert "Write the reasons both sides will read" in response.content.decode()
    case.refresh_from_db()
    assert case.state == DisputeState.ESCALATED


def test_a_stale_ruling_form_is_refused(as_user, sam, rita, case):
    data = ruling(case, OutcomeType.REJECTED)
    from disputes.services import dispute_rule

    dispute_rule(
        dispute_id=case.pk,
        user=rita,
        outcome=OutcomeType.FULL_REFUND,
        reason="Rita ruled first on this one.",
    )
    response = as_user(sam).post(case_url(case, "rule"), data, follow=True)
    assert response.redirect_chain[-1][0] == case_url(case)
    assert "This dispute changed while you were looking at it." in response.content.decode()
    case.refresh_from_db()
    assert (case.ruling_type, case.ruled_by, case.ruling_round) == ("full_refund", rita, 1)


def test_the_second_ruling_after_an_objection_is_final(as_user, sam, alice, case):
    client = as_user(sam)
    client.post(case_url(case, "rule"), ruling(case, OutcomeType.PARTIAL_REFUND, "5.00"))
    dispute_reply_ruling(
        dispute_id=case.pk, user=alice, agree=False, reason="Five dollars does not cover it."
    )
    case.refresh_from_db()
    assert (case.state, case.ruling_round) == (DisputeState.ESCALATED, 1)

    html = client.get(case_url(case)).content.decode()
    assert "final ruling" in html
    assert "Five dollars does not cover it." in html  # the objection, on the timeline

    response = client.post(
        case_url(case, "rule"),
        ruling(case, OutcomeType.REJECTED, reason="The seams tore in use, not in transit."),
        follow=True,
    )
    assert "Final ruling recorded" in response.content.decode()
    case.refresh_from_db()
    assert case.ruling_round == 2
    assert (case.ruling_type, case.outcome_type) == ("rejected", "rejected")
    assert case.state == DisputeState.RESOLVED
    assert case.closing == Closing.REJECTED
    assert case.events.filter(kind=EventKind.RULED).count() == 2
    # Nothing more to rule.
    again = client.post(case_url(case, "rule"), ruling(case, OutcomeType.FULL_REFUND), follow=True)
    assert "This is no longer possible" in again.content.decode()
    case.refresh_from_db()
    assert case.outcome_type == "rejected"


# --- asking for evidence -----------------------------------------------------------------------
def test_ask_a_side_for_more_evidence(as_user, sam, bob, case):
    before = timezone.now()
    response = as_user(sam).post(
        case_url(case, "request_evidence"),
        {"party": "seller", "note": "Send a photo of the shipping label.", "days": 4},
        follow=True,
    )
    assert "Evidence asked of the seller" in response.content.decode()
    asked = EvidenceRequest.objects.get(dispute=case)
    assert (asked.party, asked.requested_by, asked.answered_at) == ("seller", sam, None)
    assert asked.note == "Send a photo of the shipping label."
    assert before + 4 * DAY <= asked.due_at <= timezone.now() + 4 * DAY
    assert case.events.filter(kind=EventKind.EVIDENCE_REQUESTED).count() == 1
    assert "Send a photo of the shipping label." in response.content.decode()


def test_an_evidence_request_out_of_bounds_is_refused_keeping_the_form(as_user, sam, case):
    response = as_user(sam).post(
        case_url(case, "request_evidence"),
        {"party": "buyer", "note": "The unpacking video, please.", "days": 45},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Give between 1 and 30 days." in html
    assert "The unpacking video, please." in html and 'value="45"' in html
    assert not EvidenceRequest.objects.exists()


# --- complaints --------------------------------------------------------------------------------
@pytest.fixture
def complaints(alice, carol, sam, bobs_store, daves_store):
    """Three complaints on orders whose dispute windows closed long ago, one answered."""
    long_ago = timezone.now() - 200 * DAY
    made = []
    for index, (buyer, store) in enumerate(
        [(alice, bobs_store), (carol, daves_store), (alice, daves_store)]
    ):
        order = make_order(
            buyer=buyer, store=store, shipped_at=long_ago, confirmed_at=long_ago + DAY
        )
        made.append(
            complaint_open(
                order=order,
                buyer=buyer,
                body=f"The seller never answered my messages about order {index}.",
                files=[photo(f"c{index}.jpg")],
                now=timezone.now() - (10 - index) * DAY,
            ).complaint
        )
    complaint_answer(complaint_id=made[0].pk, user=sam, answer="We have warned the seller.")
    return made


COMPLAINTS = "admin:complaints_complaint_changelist"


def complaint_url(complaint, action="change"):
    return reverse(f"admin:complaints_complaint_{action}", args=[complaint.pk])


def complaint_link(complaint):
    return f"/admin/complaints/complaint/{complaint.pk}/change/"


def test_the_complaints_queue_lists_open_ones_first_oldest_first(as_user, sam, complaints):
    html = as_user(sam).get(reverse(COMPLAINTS)).content.decode()
    positions = [html.index(complaint_link(c)) for c in complaints]
    answered, first_open, second_open = positions
    assert first_open < second_open < answered


@pytest.mark.parametrize(
    ("query", "indexes"),
    [("state__exact=open", [1, 2]), ("state__exact=answered", [0]), ("q=carol", [1])],
)
def test_the_complaints_queue_filters_and_searches(query, indexes, as_user, sam, complaints):
    html = as_user(sam).get(reverse(COMPLAINTS) + "?" + query).content.decode()
    shown = [i for i, c in enumerate(complaints) if complaint_link(c) in html]
    assert shown == indexes


def test_the_complaints_queue_filters_by_store_and_order(as_user, sam, complaints, daves_store):
    client = as_user(sam)
    html = client.get(reverse(COMPLAINTS) + f"?store__id__exact={daves_store.pk}").content.decode()
    assert [i for i, c in enumerate(complaints) if complaint_link(c) in html] == [1, 2]
    html = client.get(reverse(COMPLAINTS) + f"?q={complaints[2].order.number}").content.decode()
    assert [i for i, c in enumerate(complaints) if complaint_link(c) in html] == [2]


def test_answer_a_complaint(as_user, sam, complaints):
    complaint = complaints[1]
    client = as_user(sam)
    html = client.get(complaint_url(complaint)).content.decode()
    assert "The seller never answered my messages about order 1." in html
    item = complaint.evidence.get()
    assert item.original_name in html
    file_url = reverse("complaints:evidence_file", args=[complaint.pk, item.pk])
    assert f'href="{file_url}"' in html
    assert complaint_url(complaint, "answer") in html

    response = client.post(
        complaint_url(complaint, "answer"),
        {"answer": "We wrote to the seller and will follow up."},
        follow=True,
    )
    assert "The answer was sent to the buyer." in response.content.decode()
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.ANSWERED
    assert (complaint.answer, complaint.answered_by) == (
        "We wrote to the seller and will follow up.",
        sam,
    )
    assert complaint_url(complaint, "answer") not in response.content.decode()


def test_a_short_answer_is_refused_keeping_the_text(as_user, sam, complaints):
    response = as_user(sam).post(complaint_url(complaints[1], "answer"), {"answer": "Ok."})
    assert response.status_code == 400
    assert "Write an answer for the buyer." in response.content.decode()
    assert "Ok.</textarea>" in response.content.decode()
    assert Complaint.objects.get(pk=complaints[1].pk).state == ComplaintState.OPEN


def test_complaints_are_read_only_for_staff_without_the_right(as_user, clerk, complaints):
    client = as_user(clerk)
    assert client.get(reverse(COMPLAINTS)).status_code == 200
    html = client.get(complaint_url(complaints[1])).content.decode()
    assert "The seller never answered my messages about order 1." in html
    assert complaint_url(complaints[1], "answer") not in html
    response = client.post(
        complaint_url(complaints[1], "answer"), {"answer": "We wrote to the seller."}
    )
    assert response.status_code == 403
    assert Complaint.objects.get(pk=complaints[1].pk).state == ComplaintState.OPEN


def test_complaints_are_not_for_buyers(as_user, alice, complaints):
    client = as_user(alice)
    assert client.get(reverse(COMPLAINTS)).status_code == 302
    response = client.post(
        complaint_url(complaints[1], "answer"), {"answer": "I answer my own complaint."}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert Complaint.objects.get(pk=complaints[1].pk).state == ComplaintState.OPEN
