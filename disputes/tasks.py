"""Thin Celery wrappers: each calls one service."""

from celery import shared_task
from django.conf import settings

from disputes.notifications import notifications_deliver
from disputes.services import disputes_send_reminders, disputes_sweep_due


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_notifications(ids: list[int]) -> int:
    """Mail the notifications a change just wrote (queued after its commit)."""
    return notifications_deliver(ids=ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_pending_notifications() -> int:
    """Mail whatever is still unsent: the resend that makes an outage lose nothing."""
    return notifications_deliver(limit=settings.PORTAL_SWEEP_BATCH_SIZE)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_dispute_deadlines() -> dict[str, int]:
    """Apply every dispute deadline that has passed, then send the reminders that are
    due (scheduled by beat)."""
    result = disputes_sweep_due().as_dict()
    result["reminders"] = disputes_send_reminders()
    return result
