"""The scheduler was down for a day and a half: whatever the clocks did is dated at their
due times, every clock that starts from them starts from the due time, and only the
"processed" column says when the sweep came back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from disputes.models import Dispute, Notification
from disputes.services import (
    DisputeRequest,
    dispute_propose,
    dispute_rule,
    disputes_send_reminders,
    disputes_sweep_due,
)
from disputes.states import DeadlineKind, DisputeState, EventKind, OutcomeType
from orders.templatetags.clocks import absolute
from refunds.models import Refund
from tests.factories import DRESS_LINES, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db
LATE = timedelta(hours=36)
DAY = timedelta(days=1)


def claim(outcome="refund_only", amount="45.00"):
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome=outcome,
        requested_amount=Decimal(amount),
    )


@pytest.fixture
def order(alice, bobs_store, now):
    return make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 3 * DAY)


def opened(order, alice, now, **kwargs):
    return open_dispute(
        line=order.lines.first(), buyer=alice, request=claim(**kwargs), files=[photo()], now=now
    )


def test_seller_silence_swept_late_is_dated_at_the_seller_deadline(order, alice, now):
    dispute = opened(order, alice, now)
    due = dispute.next_deadline_at
    assert due == now + settings.PORTAL_SELLER_RESPONSE_WINDOW

    assert disputes_sweep_due(now=due + LATE).moved == 1

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    # The outcome was decided, and the dispute ended, when the seller's time ran out.
    assert dispute.decided_at == due
    assert dispute.finished_at == due
    clock_events = dispute.events.exclude(kind=EventKind.OPENED)
    assert {e.kind for e in clock_events} == {EventKind.DEADLINE_PASSED, EventKind.RESOLVED}
    for event in clock_events:
        assert event.created_at == due, event.kind
        assert event.processed_at == due + LATE, event.kind
    # The person's own event was processed as it happened.
    (opening,) = dispute.events.filter(kind=EventKind.OPENED)
    assert opening.created_at == opening.processed_at == now
    # The money really moved when the sweep came back, not in the past.
    (refund,) = Refund.objects.filter(dispute=dispute)
    assert refund.created_at == due + LATE


def test_the_timeline_shows_the_due_time_not_the_sweep_time(order, alice, now, client):
    dispute = opened(order, alice, now)
    due = dispute.next_deadline_at
    disputes_sweep_due(now=due + LATE)

    client.force_login(alice)
    with time_machine.travel(due + LATE + timedelta(minutes=5), tick=False):
        page = client.get(reverse("disputes:detail", args=[dispute.pk])).content.decode()
    assert f'datetime="{due.isoformat()}"' in page
    assert absolute(due) in page
    assert absolute(due + LATE) not in page


def test_the_mail_of_a_late_deadline_names_the_due_time(order, alice, now, mailoutbox):
    dispute = opened(order, alice, now)
    due = dispute.next_deadline_at
    mailoutbox.clear()
    disputes_sweep_due(now=due + LATE)
    notes = Notification.objects.filter(event__kind=EventKind.DEADLINE_PASSED)
    assert notes.count() == 2
    assert {n.event.created_at for n in notes} == {due}


def test_escalation_swept_late_starts_the_arbitration_target_at_the_due_time(
    order, alice, bob, now
):
    dispute = opened(order, alice, now)
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.REJECTED,
        note="It is red.",
        now=now + DAY,
    )
    dispute.refresh_from_db()
    due = dispute.next_deadline_at
    assert dispute.deadline_kind == DeadlineKind.NEGOTIATION

    assert disputes_sweep_due(now=due + LATE).moved == 1

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.ESCALATED
    assert dispute.escalated_at == due
    assert dispute.arbitration_target_at == due + settings.PORTAL_ARBITRATION_TARGET
    assert dispute.arbitration_limit_at == due + settings.PORTAL_ARBITRATION_LIMIT
    assert dispute.next_deadline_at == due + settings.PORTAL_ARBITRATION_LIMIT
    assert dispute.reminder_at == (
        due + settings.PORTAL_ARBITRATION_TARGET - settings.PORTAL_ARBITRATION_REMINDER_LEAD
    )
    (event,) = dispute.events.filter(kind=EventKind.ESCALATED)
    assert (event.created_at, event.processed_at) == (due, due + LATE)


def test_a_ruling_unanswered_swept_late_starts_the_return_window_at_the_due_time(
    order, alice, bob, sam, now
):
    dispute = opened(order, alice, now, outcome="return_and_refund")
    dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REJECTED, note="No.", now=now + DAY
    )
    escalated_at = now + DAY + settings.PORTAL_NEGOTIATION_WINDOW
    disputes_sweep_due(now=escalated_at)
    ruled_at = escalated_at + 2 * DAY
    dispute_rule(
        dispute_id=dispute.pk,
        user=sam,
        outcome=OutcomeType.RETURN_AND_REFUND,
        amount=Decimal("45.00"),
        reason="The photos show an orange dress.",
        now=ruled_at,
    )
    dispute.refresh_from_db()
    due = dispute.next_deadline_at
    assert (dispute.deadline_kind, due) == (
        DeadlineKind.RULING_REPLY,
        ruled_at + settings.PORTAL_RULING_REPLY_WINDOW,
    )

    assert disputes_sweep_due(now=due + LATE).moved == 1

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.AWAITING_RETURN
    assert (dispute.deadline_kind, dispute.next_deadline_at) == (
        DeadlineKind.RETURN_SHIPMENT,
        due + settings.PORTAL_RETURN_SHIPMENT_WINDOW,
    )
    for kind in (EventKind.DEADLINE_PASSED, EventKind.RETURN_STARTED):
        (event,) = dispute.events.filter(kind=kind)
        assert (event.created_at, event.processed_at) == (due, due + LATE), kind
    (started,) = dispute.events.filter(kind=EventKind.RETURN_STARTED)
    assert started.data["due"] == (due + settings.PORTAL_RETURN_SHIPMENT_WINDOW).isoformat()

    # The return is never shipped, and the sweep is late again: it lapsed at its own due time.
    lapse = dispute.next_deadline_at
    assert disputes_sweep_due(now=lapse + LATE).moved == 1
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert dispute.finished_at == lapse
    for event in dispute.events.filter(processed_at=lapse + LATE):
        assert event.created_at == lapse, event.kind


def test_a_reminder_swept_late_is_dated_when_it_was_due_and_one_too_late_is_dropped(
    order, alice, now
):
    dispute = opened(order, alice, now)
    remind_at = dispute.reminder_at
    assert remind_at == dispute.next_deadline_at - settings.PORTAL_REMINDER_LEAD

    # Twelve hours late: the seller still has twelve hours; the reminder goes out, dated
    # when it was due.
    assert disputes_send_reminders(now=remind_at + timedelta(hours=12)) == 1
    (event,) = dispute.events.filter(kind=EventKind.REMINDER)
    assert (event.created_at, event.processed_at) == (
        remind_at,
        remind_at + timedelta(hours=12),
    )

    # A reminder whose deadline has already passed is not sent at all.
    other = Dispute.objects.get(
        pk=opened(
            make_order(buyer=alice, store=order.store, lines=DRESS_LINES, shipped_at=now - 3 * DAY),
            alice,
            now,
        ).pk
    )
    assert disputes_send_reminders(now=other.next_deadline_at + LATE) == 0
    assert not other.events.filter(kind=EventKind.REMINDER).exists()
    other.refresh_from_db()
    assert other.reminder_at is None


def test_the_admin_case_page_shows_when_a_late_clock_was_applied(order, alice, sam, now, client):
    dispute = opened(order, alice, now)
    due = dispute.next_deadline_at
    disputes_sweep_due(now=due + LATE)
    client.force_login(sam)
    with time_machine.travel(due + LATE + timedelta(minutes=5), tick=False):
        page = client.get(reverse("admin:disputes_dispute_change", args=[dispute.pk]))
    html = page.content.decode()
    assert f"applied late: {absolute(due + LATE)}" in html
    assert html.count("applied late") == 2  # the deadline and the outcome, not the opening


def test_the_admin_case_page_says_silence_is_no_reply(order, alice, bob, sam, now, client):
    dispute = opened(order, alice, now)
    dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REJECTED, note="No.", now=now + DAY
    )
    escalated_at = now + DAY + settings.PORTAL_NEGOTIATION_WINDOW
    disputes_sweep_due(now=escalated_at)
    dispute_rule(
        dispute_id=dispute.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20.00"),
        reason="Half the fault each.",
        now=escalated_at + DAY,
    )
    due = escalated_at + DAY + settings.PORTAL_RULING_REPLY_WINDOW
    disputes_sweep_due(now=due)
    client.force_login(sam)
    with time_machine.travel(due + DAY, tick=False):
        html = client.get(reverse("admin:disputes_dispute_change", args=[dispute.pk])).content
    page = html.decode()
    assert page.count("No reply (counts as agreement)") == 2
    assert "Agrees" not in page
