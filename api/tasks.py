"""Thin Celery wrappers: each calls one service."""

from celery import shared_task

from api.idempotency import idempotent_responses_purge
from api.webhooks import webhooks_deliver_due


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhooks() -> dict[str, int]:
    """Send what a change just wrote (queued after its commit)."""
    return webhooks_deliver_due()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_due_webhooks() -> dict[str, int]:
    """The periodic resend: first tries the broker lost, retries whose backoff passed; and
    forget idempotent answers past their 24 hours."""
    result = webhooks_deliver_due()
    result["idempotency_purged"] = idempotent_responses_purge()
    return result
