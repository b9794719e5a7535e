"""Finding 2 of the staff walk-through, through Django admin's own pages as an arbitrator:
the arbitration queue and the case page show every clock a case has as a live countdown with
its due date and time and zone (the buyer pages' own include and countdown.js), the
arbitration target and its limit included, and say in words when a clock has run out.
Finding 14, what the test client can see of it: "Act on the case" only when an action is
allowed. (The layout at 1280 pixels is checked in Chromium: tests/e2e/test_admin_clocks.py.)"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, EvidenceRequest
from disputes.states import DisputeState, OutcomeType, Reason
from orders.templatetags.clocks import absolute
from tests.disputes.bulk import overdue_disputes
from tests.disputes.test_admin_arbitration import escalate, row_of
from tests.factories import make_arbitrator, make_order, open_dispute

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
CHANGELIST = "admin:disputes_dispute_changelist"
COUNTDOWN_JS = re.compile(r'<script src="/static/js/countdown\.js(?:\?[^"]*)?" defer></script>')
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")


def claim(*, wants_return: bool = False) -> services.DisputeRequest:
    return services.DisputeRequest(
        received=True,
        reason=Reason.NOT_AS_DESCRIBED,
        description="Both bags are grey, the listing says natural.",
        quantity=2,
        requested_outcome="return_and_refund" if wants_return else "refund_only",
        requested_amount=Decimal("20.00"),
    )


def case_url(dispute: Dispute) -> str:
    return reverse("admin:disputes_dispute_change", args=[dispute.pk])


def clocks_in(html: str) -> dict[str, list[str]]:
    """The clocks rendered in a piece of page, by name ("target", "limit", "deadline",
    "evidence"): the HTML of each."""
    found: dict[str, list[str]] = {}
    for name, body in re.findall(
        r'<li class="case-clock[^"]*" data-clock="(\w+)">(.*?)</li>', html, re.DOTALL
    ):
        found.setdefault(name, []).append(body)
    return found


def assert_counts_down(item: str, label: str, due: datetime) -> None:
    """A running clock: its label, a <time> that countdown.js keeps ticking toward the
    stored due time, and that time written out with its zone."""
    assert label in item, item
    assert f'data-countdown="{due.isoformat()}"' in item, item
    assert f"(until {absolute(due)})" in item, item
    assert absolute(due).endswith(" UTC")
    assert "case-clock-ended" not in item


@pytest.fixture
def arbitrator(client, sam):
    client.force_login(sam)
    return client


@pytest.fixture
def stages(alice, carol, bob, sam, bobs_store):
    """One dispute waiting on each clock a case can run, made the way people make them."""

    def opened(buyer=alice, **kwargs) -> Dispute:
        order = make_order(buyer=buyer, store=bobs_store, shipped_at=timezone.now() - 3 * DAY)
        return open_dispute(line=order.lines.get(), buyer=buyer, request=claim(**kwargs))

    seller_response = opened()
    negotiation = opened()
    services.dispute_propose(
        dispute_id=negotiation.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("8.00"),
        note="The colour is close; half back.",
    )
    return_shipment = opened(wants_return=True)
    services.dispute_accept(dispute_id=return_shipment.pk, user=bob)
    return_receipt = opened(wants_return=True)
    services.dispute_accept(dispute_id=return_receipt.pk, user=bob)
    services.dispute_ship_return(
        dispute_id=return_receipt.pk, user=alice, carrier="DHL", tracking="JD0001"
    )
    replacement_shipment = opened(buyer=carol)
    services.dispute_propose(
        dispute_id=replacement_shipment.pk, user=bob, outcome=OutcomeType.REPLACEMENT
    )
    services.dispute_accept(dispute_id=replacement_shipment.pk, user=carol)
    replacement_arrival = opened(buyer=carol)
    services.dispute_propose(
        dispute_id=replacement_arrival.pk, user=bob, outcome=OutcomeType.REPLACEMENT
    )
    services.dispute_accept(dispute_id=replacement_arrival.pk, user=carol)
    services.dispute_ship_replacement(
        dispute_id=replacement_arrival.pk, user=bob, carrier="EMS", tracking="EE123"
    )
    ruling_reply = escalate(buyer=carol, store=bobs_store, days_ago=4)
    services.dispute_rule(
        dispute_id=ruling_reply.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        reason="Grey, not natural: half the price back.",
    )
    made = {
        "seller_response": seller_response,
        "negotiation": negotiation,
        "return_shipment": return_shipment,
        "return_receipt": return_receipt,
        "replacement_shipment": replacement_shipment,
        "replacement_arrival": replacement_arrival,
        "ruling_reply": ruling_reply,
    }
    for kind, dispute in made.items():
        dispute.refresh_from_db()
        assert dispute.deadline_kind == kind
        assert dispute.next_deadline_at > timezone.now()
    return made


@pytest.fixture
def escalated(arbitrator, alice, bobs_store):
    """A case escalated 3 days ago, of which the arbitrator asked the seller for more
    evidence on its page."""
    case = escalate(buyer=alice, store=bobs_store, days_ago=3)
    response = arbitrator.post(
        reverse("admin:disputes_dispute_request_evidence", args=[case.pk]),
        {"party": "seller", "note": "A photo of the bags as packed.", "days": 4},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    return case


@pytest.fixture
def late(carol, bobs_store):
    """Past the arbitration target, within the limit."""
    return escalate(buyer=carol, store=bobs_store, days_ago=20)


LABELS = {
    "seller_response": "Seller&#x27;s answer",
    "negotiation": "Negotiation",
    "return_shipment": "Buyer ships the return",
    "return_receipt": "Seller confirms the return arrived",
    "replacement_shipment": "Seller ships the replacement",
    "replacement_arrival": "Replacement&#x27;s protection",
    "ruling_reply": "Replies to the ruling",
}


# --- the queue ---------------------------------------------------------------------------------
def test_the_queue_counts_down_the_arbitration_target_limit_and_evidence(arbitrator, escalated):
    html = arbitrator.get(reverse(CHANGELIST) + "?queue=1").content.decode()
    assert COUNTDOWN_JS.search(html), "countdown.js is loaded from its static file"
    assert not INLINE_SCRIPT.search(html), "no inline script (the policy forbids it)"
    clocks = clocks_in(row_of(html, escalated))
    assert_counts_down(clocks["target"][0], "15-day target", escalated.arbitration_target_at)
    assert_counts_down(clocks["limit"][0], "60-day limit", escalated.arbitration_limit_at)
    asked = EvidenceRequest.objects.get(dispute=escalated)
    assert_counts_down(clocks["evidence"][0], "Evidence from the seller", asked.due_at)
    # No raw date without a zone (Django's "Jan. 7, 2027, 12:13 p.m.") is left.
    assert not re.search(r"\b[ap]\.m\.", html)


def test_the_queue_says_in_words_when_the_target_has_passed(arbitrator, late):
    html = arbitrator.get(reverse(CHANGELIST) + "?queue=1").content.decode()
    clocks = clocks_in(row_of(html, late))
    target = clocks["target"][0]
    assert "data-countdown" not in target
    assert '<strong class="case-clock-ended">late</strong>' in target
    assert f"(was due {absolute(late.arbitration_target_at)})" in target
    assert_counts_down(clocks["limit"][0], "60-day limit", late.arbitration_limit_at)


def test_every_clock_of_every_stage_counts_down_in_the_list(arbitrator, stages):
    html = arbitrator.get(reverse(CHANGELIST)).content.decode()
    for kind, dispute in stages.items():
        clocks = clocks_in(row_of(html, dispute))
        assert list(clocks) == ["deadline"], kind
        assert_counts_down(clocks["deadline"][0], LABELS[kind], dispute.next_deadline_at)


def test_a_clock_the_sweep_has_not_processed_says_overdue(arbitrator, alice, bobs_store):
    due = timezone.now() - timedelta(hours=1)
    [pk] = overdue_disputes(buyer=alice, store=bobs_store, count=1, due=due)
    dispute = Dispute.objects.get(pk=pk)
    html = arbitrator.get(reverse(CHANGELIST) + "?clock=overdue").content.decode()
    [item] = clocks_in(row_of(html, dispute))["deadline"]
    assert '<strong class="case-clock-ended">overdue</strong>' in item
    assert f"(was due {absolute(dispute.next_deadline_at)})" in item


def test_a_finished_case_has_no_clock(arbitrator, stages, bob):
    dispute = stages["seller_response"]
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    html = arbitrator.get(reverse(CHANGELIST)).content.decode()
    row = row_of(html, dispute)
    assert clocks_in(row) == {}
    assert "no clock running" in row


# --- the case page -----------------------------------------------------------------------------
def test_the_case_page_counts_down_the_target_limit_and_evidence(arbitrator, escalated):
    html = arbitrator.get(case_url(escalated)).content.decode()
    assert COUNTDOWN_JS.search(html)
    assert not INLINE_SCRIPT.search(html)
    summary = html[html.index('id="case-clocks"') : html.index('id="case-order"')]
    clocks = clocks_in(summary)
    assert_counts_down(clocks["target"][0], "15-day target", escalated.arbitration_target_at)
    assert_counts_down(clocks["limit"][0], "60-day limit", escalated.arbitration_limit_at)
    asked = EvidenceRequest.objects.get(dispute=escalated)
    assert_counts_down(clocks["evidence"][0], "Evidence from the seller", asked.due_at)
    # The request itself, under "Evidence asked for", counts down too.
    listed = html[html.index(f'id="evidence-request-{asked.pk}"') :]
    listed = listed[: listed.index("</li>")]
    assert f'data-countdown="{asked.due_at.isoformat()}"' in listed
    assert f"(until {absolute(asked.due_at)})" in listed
    assert f"escalated {absolute(escalated.escalated_at)}" in html


def test_the_case_page_says_the_target_passed(arbitrator, late):
    html = arbitrator.get(case_url(late)).content.decode()
    clocks = clocks_in(html[html.index('id="case-clocks"') :])
    assert '<strong class="case-clock-ended">late</strong>' in clocks["target"][0]
    assert_counts_down(clocks["limit"][0], "60-day limit", late.arbitration_limit_at)
    assert ">late</strong>" in html[: html.index('id="case-clocks"')]  # the age, marked


@pytest.mark.parametrize("kind", list(LABELS))
def test_the_case_page_counts_down_its_running_clock(kind, arbitrator, stages):
    dispute = stages[kind]
    html = arbitrator.get(case_url(dispute)).content.decode()
    clocks = clocks_in(html[html.index('id="case-clocks"') :])
    assert list(clocks) == ["deadline"]
    assert_counts_down(clocks["deadline"][0], LABELS[kind], dispute.next_deadline_at)


# --- "Act on the case" -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    [
        "seller_response",
        "negotiation",
        "return_shipment",
        "return_receipt",
        "replacement_shipment",
        "replacement_arrival",
    ],
)
def test_no_act_on_the_case_heading_when_no_action_is_allowed(kind, arbitrator, stages):
    html = arbitrator.get(case_url(stages[kind])).content.decode()
    assert "Act on the case" not in html
    assert 'id="case-actions"' not in html


def test_no_act_on_the_case_heading_once_finished(arbitrator, stages, bob):
    dispute = stages["negotiation"]
    services.dispute_accept(dispute_id=dispute.pk, user=dispute.buyer)
    dispute.refresh_from_db()
    assert dispute.is_finished
    assert "Act on the case" not in arbitrator.get(case_url(dispute)).content.decode()


def test_act_on_the_case_when_the_arbitrator_may_act(arbitrator, escalated, stages):
    html = arbitrator.get(case_url(escalated)).content.decode()
    assert "Act on the case" in html and 'id="rule-form"' in html
    ruled = stages["ruling_reply"]
    assert ruled.state == DisputeState.RULED
    html = arbitrator.get(case_url(ruled)).content.decode()
    assert "Act on the case" in html and 'id="assign-form"' in html and "rule-form" not in html


def test_staff_who_may_only_read_get_no_act_on_the_case(client, escalated):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_dispute"))
    client.force_login(clerk)
    html = client.get(case_url(escalated)).content.decode()
    assert "Act on the case" not in html
    # They read the clocks all the same.
    assert "target" in clocks_in(html)


def test_the_evidence_request_message_states_the_zone(arbitrator, alice, bobs_store):
    case = escalate(buyer=alice, store=bobs_store, days_ago=1)
    response = arbitrator.post(
        reverse("admin:disputes_dispute_request_evidence", args=[case.pk]),
        {"party": "buyer", "note": "The unpacking video, please.", "days": 2},
        follow=True,
    )
    asked = EvidenceRequest.objects.get(dispute=case)
    assert f"Evidence asked of the buyer, due {absolute(asked.due_at)}." in (
        response.content.decode()
    )


def test_an_arbitrator_other_than_sam_sees_the_same(client, escalated):
    client.force_login(make_arbitrator("rita"))
    html = client.get(reverse(CHANGELIST) + "?queue=1").content.decode()
    assert "target" in clocks_in(row_of(html, escalated))


def test_the_queue_marks_the_column_it_is_sorted_by(arbitrator, escalated, late):
    html = arbitrator.get(reverse(CHANGELIST) + "?queue=1").content.decode()
    sorted_headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+) sorted (\w+)"', html)
    assert sorted_headers == [("age", "ascending")]  # the oldest escalation first
    html = arbitrator.get(reverse(CHANGELIST)).content.decode()
    sorted_headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+) sorted (\w+)"', html)
    assert sorted_headers == [("case", "descending")]  # the newest dispute first
