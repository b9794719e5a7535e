"""Sending a refund: once, whatever the retries; backoff, flagging and staff's retry.

The Celery tasks run inline here (``send_refund``/``send_refunds`` called through
``.delay``, as the product queues them); ``test_refund_worker_kill`` runs them on a real
worker that is killed at the worst moment.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from disputes.models import DisputeEvent, Notification
from disputes.services import DisputeRequest, dispute_accept, dispute_propose
from disputes.states import EventKind, OutcomeType
from refunds.gateway import GatewayError
from refunds.models import GatewayCall, Refund, RefundState
from refunds.services import (
    RefundError,
    refund_retry,
    refund_send,
    refunds_due,
    refunds_send_due,
)
from refunds.tasks import send_due_refunds, send_refund, send_refunds
from tests.factories import DRESS_LINES, UserFactory, make_order, open_dispute
from tests.refunds.money_invariants import check_money

pytestmark = pytest.mark.django_db

D = Decimal
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def order(alice, bobs_store, now):
    return make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=4)
    )


@pytest.fixture
def dispute(order, alice, bob, now):
    """A dispute on the blue dress; the seller offers 15.00 back."""
    blue = order.lines.order_by("pk")[1]
    dispute = open_dispute(
        line=blue,
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason="not_as_described",
            description="Wrong colour: the dress is green, not blue.",
            quantity=1,
            requested_outcome="refund_only",
            requested_amount=D("45.00"),
        ),
        now=now,
    )
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("15.00"),
        note="A discount for the colour.",
        now=now + MINUTE,
    )
    return dispute


@pytest.fixture
def refund(dispute, alice, now):
    """The buyer accepts: a 15.00 refund is recorded (its send after the commit never runs
    here, as the test's transaction never commits)."""
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * MINUTE)
    refund = Refund.objects.get(dispute=dispute)
    assert (refund.state, refund.amount, refund.attempts) == (RefundState.PENDING, D("15.00"), 0)
    return refund


@pytest.fixture
def refunds_clerk(db):
    """Staff who handle refunds (the permission the admin's "retry" needs)."""
    user = UserFactory(username="pat", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="refunds", codename="change_refund")
    )
    return user


def calls_for(refund) -> list[GatewayCall]:
    return list(GatewayCall.objects.filter(idempotency_key=refund.idempotency_key))


def timeline(dispute, kind) -> list[DisputeEvent]:
    return list(DisputeEvent.objects.filter(dispute=dispute, kind=kind))


# --- once, whatever the retries ------------------------------------------------------------
def test_five_runs_of_the_refund_task_leave_one_gateway_call_per_refund(
    order, alice, bob, now, django_capture_on_commit_callbacks
):
    red, blue = order.lines.order_by("pk")
    from refunds.services import RefundRequest, refunds_create

    # Recorded together; the send queued after the commit runs (inline) once.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = refunds_create(
            requests=[
                RefundRequest(red.pk, D("10.00"), "goodwill"),
                RefundRequest(blue.pk, D("45.00"), "goodwill"),
            ],
            now=now,
        )
    assert len(callbacks) == 1
    ids = [row.pk for row in rows]
    # Then the task is run five times more, each way it can be queued.
    for _ in range(5):
        assert send_refunds.delay(ids).get() == 2
        for refund_id in ids:
            assert send_refund.delay(refund_id).get() == RefundState.SENT
    for refund in Refund.objects.filter(pk__in=ids):
        (call,) = calls_for(refund)
        assert refund.state == RefundState.SENT and refund.attempts == 1
        assert (call.amount, call.reference, call.times_asked) == (
            refund.amount,
            refund.gateway_reference,
            1,
        )
    assert GatewayCall.objects.count() == 2
    check_money([order.pk])


def test_five_runs_with_lost_replies_still_move_the_money_once(refund, settings):
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "lost_reply"
    for _ in range(4):
        assert send_refund.delay(refund.pk).get().startswith("failed:")
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    assert send_refund.delay(refund.pk).get() == RefundState.SENT
    refund.refresh_from_db()
    (call,) = calls_for(refund)
    assert call.times_asked == 5
    assert refund.gateway_reference == call.reference
    assert refund.attempts == 5 and not refund.flagged


def test_a_lost_reply_then_an_answer_is_one_call_asked_twice(refund, settings, now):
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "lost_reply"
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk, now=now + 3 * MINUTE)
    (first,) = calls_for(refund)  # the money moved; the answer was lost
    refund.refresh_from_db()
    assert refund.state == RefundState.FAILED and not refund.flagged
    assert refund.gateway_reference == ""
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    refund_send(refund_id=refund.pk, now=now + 4 * MINUTE)
    refund.refresh_from_db()
    (call,) = calls_for(refund)
    assert call.times_asked == 2
    assert refund.state == RefundState.SENT
    assert refund.gateway_reference == first.reference == call.reference
    assert refund.sent_at == now + 4 * MINUTE
    assert refund.last_error == "" and refund.next_attempt_at is None


# --- failures: backoff, then flagged to staff ----------------------------------------------
def test_a_timeout_is_retried_after_a_doubling_backoff_then_flagged(refund, dispute, settings, now):
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "timeout"
    assert settings.PORTAL_REFUND_MAX_ATTEMPTS == 5
    at = now + 3 * MINUTE
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk, now=at)
    waits = []
    for attempt in range(1, 5):
        refund.refresh_from_db()
        assert (refund.state, refund.attempts, refund.flagged) == (
            RefundState.FAILED,
            attempt,
            False,
        )
        assert "timed out" in refund.last_error
        waits.append(refund.next_attempt_at - at)
        # Not a moment before its backoff has passed...
        assert refunds_send_due(now=refund.next_attempt_at - SECOND) == {"sent": 0, "failed": 0}
        assert not refunds_due(now=refund.next_attempt_at - SECOND).filter(pk=refund.pk).exists()
        # ...and then the retry sweep sends it (and it fails again).
        at = refund.next_attempt_at
        assert refunds_send_due(now=at) == {"sent": 0, "failed": 1}
    assert waits == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]
    refund.refresh_from_db()
    assert (refund.state, refund.attempts, refund.flagged) == (RefundState.FAILED, 5, True)
    assert refund.next_attempt_at is None
    # Flagged: never picked again, however late, and never sent by a stray task either.
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    assert refunds_send_due(now=at + timedelta(days=30)) == {"sent": 0, "failed": 0}
    assert send_refund.delay(refund.pk).get() == RefundState.FAILED
    assert calls_for(refund) == []
    # The dispute's timeline says so, once.
    (failed,) = timeline(dispute, EventKind.REFUND_FAILED)
    assert failed.data["amount"] == "15.00" and failed.data["refund"] == refund.pk
    assert failed.created_at == at


def test_the_backoff_is_capped_at_an_hour(refund, settings, now):
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "timeout"
    settings.PORTAL_REFUND_MAX_ATTEMPTS = 10
    at = now + 3 * MINUTE
    waits = []
    for _ in range(9):
        with pytest.raises(GatewayError):
            refund_send(refund_id=refund.pk, now=at)
        refund.refresh_from_db()
        waits.append(refund.next_attempt_at - at)
        at = refund.next_attempt_at
    assert [w // MINUTE for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert not refund.flagged


def test_a_declined_refund_is_flagged_at_once_and_staff_retry_it(
    refund, dispute, settings, now, sam, refunds_clerk, django_capture_on_commit_callbacks
):
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "decline"
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk, now=now + 3 * MINUTE)
    refund.refresh_from_db()
    assert (refund.state, refund.attempts, refund.flagged) == (RefundState.FAILED, 1, True)
    assert refund.next_attempt_at is None and "declined" in refund.last_error
    assert calls_for(refund) == []
    assert len(timeline(dispute, EventKind.REFUND_FAILED)) == 1
    assert refunds_send_due(now=now + timedelta(days=1)) == {"sent": 0, "failed": 0}

    # Staff without the refunds permission cannot retry it; a refunds clerk (or an
    # arbitrator, whose group holds the permission) can.
    viewer = UserFactory(username="vic", is_staff=True)
    with pytest.raises(RefundError):
        refund_retry(refund_id=refund.pk, user=viewer, now=now + timedelta(hours=1))
    retried = refund_retry(refund_id=refund.pk, user=refunds_clerk, now=now + timedelta(hours=1))
    assert not retried.flagged and retried.next_attempt_at == now + timedelta(hours=1)
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_refunds.delay().get() == {"sent": 1, "failed": 0}
    refund.refresh_from_db()
    (call,) = calls_for(refund)
    assert refund.state == RefundState.SENT and refund.gateway_reference == call.reference
    # A sent refund cannot be "retried".
    with pytest.raises(RefundError):
        refund_retry(refund_id=refund.pk, user=refunds_clerk)


# --- the first send lost -------------------------------------------------------------------
def test_a_refund_whose_first_send_was_lost_is_sent_by_the_retry_sweep(
    dispute, alice, now, django_capture_on_commit_callbacks
):
    accepted_at = now + 2 * MINUTE
    with (
        mock.patch("refunds.tasks.send_refunds.delay", side_effect=OSError("broker down")),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        dispute_accept(dispute_id=dispute.pk, user=alice, now=accepted_at)
    assert callbacks  # the send was attempted after the commit, and lost
    refund = Refund.objects.get(dispute=dispute)
    assert refund.state == RefundState.PENDING and calls_for(refund) == []
    # Pending for less than a minute: its own send may still be on its way.
    assert refunds_send_due(now=accepted_at + MINUTE - SECOND) == {"sent": 0, "failed": 0}
    assert refunds_send_due(now=accepted_at + MINUTE) == {"sent": 1, "failed": 0}
    refund.refresh_from_db()
    (call,) = calls_for(refund)
    assert refund.state == RefundState.SENT and refund.gateway_reference == call.reference
    assert refunds_send_due(now=accepted_at + timedelta(hours=2)) == {"sent": 0, "failed": 0}
    assert call.times_asked == 1


def test_the_refund_sent_reaches_the_timeline_and_each_party_once_by_mail(
    refund, dispute, alice, bob, now, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    sent_at = now + 5 * MINUTE
    with django_capture_on_commit_callbacks(execute=True):
        refund_send(refund_id=refund.pk, now=sent_at)
    with django_capture_on_commit_callbacks(execute=True):
        refund_send(refund_id=refund.pk, now=sent_at + MINUTE)  # again: nothing new
        refunds_send_due(now=sent_at + timedelta(hours=1))
    refund.refresh_from_db()
    (event,) = timeline(dispute, EventKind.REFUND_SENT)
    assert event.created_at == sent_at
    assert event.data["amount"] == "15.00"
    assert event.data["reference"] == refund.gateway_reference
    assert event.data["method"] == refund.method
    notified = Notification.objects.filter(event=event)
    assert sorted(notified.values_list("recipient__username", flat=True)) == ["alice", "bob"]
    assert all(n.sent_at is not None for n in notified)
    refund_mails = [m for m in mailoutbox if "Refund sent" in m.subject]
    assert len(mailoutbox) == len(refund_mails) == 2
    assert sorted(to for m in refund_mails for to in m.to) == sorted([alice.email, bob.email])
    assert all("15.00" in m.body for m in refund_mails)
