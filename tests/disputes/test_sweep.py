"""Every clock fires on time, exactly once, late or early, and never blocks on a bad row."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from disputes.models import Dispute, DisputeEvent, Notification
from disputes.services import (
    DeadlinePassed,
    DisputeRequest,
    dispute_accept,
    dispute_process_deadline,
    dispute_propose,
    disputes_stalled,
    disputes_sweep_due,
)
from disputes.states import DeadlineKind, DisputeState, EventKind, OutcomeType, Party
from orders.models import Order
from orders.services import orders_complete_expired
from orders.states import CompletionReason, OrderState
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)


def request(amount="45.00", outcome="refund_only"):
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome=outcome,
        requested_amount=Decimal(amount),
    )


@pytest.fixture
def opened(alice, bobs_store, now):
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=3)
    )
    return open_dispute(line=order.lines.first(), buyer=alice, request=request("30.00"), now=now)


@pytest.fixture
def negotiating(opened, bob, now):
    return dispute_propose(
        dispute_id=opened.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        now=now + timedelta(days=1),
    )


def deadline_events(dispute):
    return DisputeEvent.objects.filter(dispute=dispute, actor_party=Party.DEADLINE)


def test_seller_silent_five_days_loses(opened, now):
    due = now + timedelta(days=5)
    assert opened.next_deadline_at == due

    assert disputes_sweep_due(now=due - SECOND).moved == 0
    opened.refresh_from_db()
    assert opened.state == DisputeState.OPEN
    assert not deadline_events(opened).exists()

    assert disputes_sweep_due(now=due + SECOND).moved == 1
    opened.refresh_from_db()
    assert opened.state == DisputeState.RESOLVED
    assert opened.outcome_type == OutcomeType.PARTIAL_REFUND
    assert opened.outcome_amount == Decimal("30.00")  # the buyer's own request
    assert opened.decided_by == Party.DEADLINE
    assert opened.next_deadline_at is None
    (event,) = deadline_events(opened)
    assert event.kind == EventKind.DEADLINE_PASSED
    assert (event.from_state, event.to_state) == (DisputeState.OPEN, DisputeState.AGREED)
    assert event.created_at == due  # dated when it was due...
    assert event.processed_at == due + SECOND  # ...processed when the sweep ran
    assert opened.events.filter(kind=EventKind.RESOLVED).count() == 1

    assert disputes_sweep_due(now=due + timedelta(days=1)).moved == 0
    assert opened.events.count() == 3  # opened, deadline passed, resolved


def test_negotiation_seven_days_escalates(negotiating, now):
    due = now + timedelta(days=1, weeks=1)
    assert negotiating.next_deadline_at == due
    assert negotiating.deadline_kind == DeadlineKind.NEGOTIATION

    assert disputes_sweep_due(now=due - SECOND).moved == 0
    negotiating.refresh_from_db()
    assert negotiating.state == DisputeState.SELLER_RESPONDED

    assert disputes_sweep_due(now=due + SECOND).moved == 1
    negotiating.refresh_from_db()
    assert negotiating.state == DisputeState.ESCALATED
    assert negotiating.outcome_type == ""
    (event,) = deadline_events(negotiating)
    assert event.kind == EventKind.ESCALATED
    assert (event.from_state, event.to_state) == (
        DisputeState.SELLER_RESPONDED,
        DisputeState.ESCALATED,
    )
    assert (event.created_at, event.processed_at) == (due, due + SECOND)
    assert disputes_sweep_due(now=due + timedelta(days=3)).moved == 0
    assert deadline_events(negotiating).count() == 1


def test_counter_proposals_do_not_move_the_negotiation_clock(negotiating, alice, bob, now):
    due = negotiating.next_deadline_at
    dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20.00"),
        now=now + timedelta(days=3),
    )
    negotiating.refresh_from_db()
    assert negotiating.next_deadline_at == due


def test_protection_period_completes_the_order(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, protection_days=60, shipped_at=now)
    due = now + timedelta(days=60)
    assert orders_complete_expired(now=due - SECOND) == 0
    assert Order.objects.get(pk=order.pk).state == OrderState.SHIPPED
    assert orders_complete_expired(now=due + SECOND) == 1
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert order.completion_reason == CompletionReason.PROTECTION_EXPIRED
    assert order.completed_at == due
    assert order.dispute_window_ends_at == due + timedelta(days=15)
    assert orders_complete_expired(now=due + timedelta(days=1)) == 0


def test_post_close_window_end_removes_the_dispute_button(client_for, alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=10))
    from orders.services import order_confirm_receipt

    order_confirm_receipt(order=order, buyer=alice, now=now)
    line = order.lines.get()
    end = now + timedelta(days=15)
    open_url = reverse("disputes:open", args=[line.pk])
    with time_machine.travel(end - SECOND, tick=False):
        client = client_for("alice")
        assert open_url in client.get(reverse("dashboards:my_orders")).content.decode()
    with time_machine.travel(end + SECOND, tick=False):
        client = client_for("alice")
        html = client.get(reverse("dashboards:my_orders")).content.decode()
        assert open_url not in html
        assert "complain about the seller" in html
        response = client.post(open_url, {"received": "yes"})
        assert "dispute window closed" in response.content.decode()
        assert disputes_sweep_due().moved == 0
        assert orders_complete_expired() == 0
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert not Dispute.objects.exists()


def test_a_sweep_after_a_day_of_downtime_catches_everything_up(alice, bobs_store, now):
    disputes = []
    for i in range(6):
        order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=3))
        disputes.append(
            open_dispute(
                line=order.lines.get(),
                buyer=alice,
                request=request("5.00"),
                now=now + timedelta(hours=i),
            )
        )
    result = disputes_sweep_due(now=now + timedelta(days=6, hours=6), batch_size=4)
    assert (result.moved, result.batches) == (6, 2)
    assert set(Dispute.objects.values_list("state", flat=True)) == {DisputeState.RESOLVED}
    assert DisputeEvent.objects.filter(kind=EventKind.DEADLINE_PASSED).count() == 6


def test_the_oldest_deadline_goes_first(alice, bobs_store, now):
    ids = []
    for hours in (5, 1, 3):
        order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=3))
        ids.append(
            open_dispute(
                line=order.lines.get(),
                buyer=alice,
                request=request("5.00"),
                now=now + timedelta(hours=hours),
            ).pk
        )
    disputes_sweep_due(now=now + timedelta(days=6), batch_size=1, max_batches=1)
    moved = set(Dispute.objects.filter(state=DisputeState.RESOLVED).values_list("pk", flat=True))
    assert moved == {ids[1]}


def test_a_failing_row_is_pushed_aside_and_the_rest_move(opened, alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=3))
    good = open_dispute(line=order.lines.get(), buyer=alice, request=request("5.00"), now=now)
    # Corrupt one row: a negotiation clock on a dispute nobody answered.
    Dispute.objects.filter(pk=opened.pk).update(deadline_kind=DeadlineKind.NEGOTIATION)
    later = now + timedelta(days=6)

    result = disputes_sweep_due(now=later)
    assert (result.moved, result.failed) == (1, 1)
    good.refresh_from_db()
    opened.refresh_from_db()
    assert good.state == DisputeState.RESOLVED
    assert opened.state == DisputeState.OPEN
    assert opened.sweep_failures == 1
    assert opened.sweep_error.startswith("ClockMismatch")
    assert opened.sweep_retry_at > later
    # The next run does not crash on it again; it is retried after its backoff.
    assert disputes_sweep_due(now=later + SECOND).as_dict() == {
        "moved": 0,
        "failed": 0,
        "batches": 0,
    }
    assert list(disputes_stalled(now=later + timedelta(hours=1))) == [opened]


def test_a_person_acting_after_the_deadline_is_refused_and_the_clock_applies(opened, bob, now):
    due = opened.next_deadline_at
    with pytest.raises(DeadlinePassed):
        dispute_accept(dispute_id=opened.pk, user=bob, now=due)
    opened.refresh_from_db()
    assert opened.state == DisputeState.OPEN
    assert dispute_process_deadline(dispute_id=opened.pk, now=due) is True
    assert dispute_process_deadline(dispute_id=opened.pk, now=due) is False
    opened.refresh_from_db()
    assert opened.state == DisputeState.RESOLVED


def test_the_page_of_a_late_seller_shows_what_the_deadline_decided(client_for, opened, now):
    due = opened.next_deadline_at
    with time_machine.travel(due + SECOND, tick=False):
        client = client_for("bob")
        response = client.post(
            reverse("disputes:accept", args=[opened.pk]), {"revision": opened.revision}
        )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Too late" in html
    assert "Resolved" in html
    opened.refresh_from_db()
    assert opened.decided_by == Party.DEADLINE


def test_the_deadline_notifies_both_parties_once(opened, now):
    before = Notification.objects.count()
    disputes_sweep_due(now=now + timedelta(days=6))
    new = Notification.objects.order_by("id")[before:]
    assert sorted(n.recipient.username for n in new) == ["alice", "bob"]
    assert {n.event.kind for n in new} == {EventKind.DEADLINE_PASSED}


def test_the_dispute_page_says_what_happens_when_the_clock_runs_out(client_for, opened):
    html = client_for("alice").get(reverse("disputes:detail", args=[opened.pk])).content
    assert "If the seller does not answer by" in html.decode()
    assert "you get what you asked for: Partial refund, 30.00 USD" in html.decode()
    html = client_for("bob").get(reverse("disputes:seller_list")).content.decode()
    assert "If unanswered: the buyer's request is granted." in html


def test_management_command_runs_every_sweep(opened, alice, bobs_store, now, capsys):
    make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=90))
    with time_machine.travel(now + timedelta(days=6), tick=False):
        call_command("sweep_deadlines", "--deliver")
    out = capsys.readouterr().out
    assert "orders completed: 1; disputes moved: 1" in out
    assert "notifications mailed: " in out
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
