"""Thin Celery wrappers: each calls one service.

The periodic ones report each completed run through ``settings.PORTAL_SWEEP_HOOK`` (the
heartbeat ``/health/`` reads to tell that the scheduler and a worker are alive)."""

from time import monotonic
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from disputes.notifications import notifications_deliver
from disputes.services import disputes_send_reminders, disputes_sweep_due
from orders.hooks import call_hook


def _completed(task_name: str, started: float, result: Any) -> None:
    call_hook(
        "PORTAL_SWEEP_HOOK",
        name=task_name,
        at=timezone.now(),
        duration_ms=round((monotonic() - started) * 1000),
        result=result if isinstance(result, dict) else {"done": result},
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_notifications(ids: list[int]) -> int:
    """Mail the notifications a change just wrote (queued after its commit)."""
    return notifications_deliver(ids=ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_pending_notifications() -> int:
    """Mail whatever is still unsent: the resend that makes an outage lose nothing."""
    started = monotonic()
    sent = notifications_deliver(limit=settings.PORTAL_SWEEP_BATCH_SIZE)
    _completed(deliver_pending_notifications.name, started, sent)
    return sent


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_dispute_deadlines() -> dict[str, int]:
    """Apply every dispute deadline that has passed, then send the reminders that are
    due (scheduled by beat)."""
    started = monotonic()
    result = disputes_sweep_due().as_dict()
    result["reminders"] = disputes_send_reminders()
    _completed(sweep_dispute_deadlines.name, started, result)
    return result
