from celery import shared_task

from refunds.gateway import GatewayError
from refunds.services import refund_send


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(GatewayError,),
    retry_backoff=10,
    retry_backoff_max=300,
    max_retries=5,
)
def send_refund(refund_id: int) -> str:
    """Send one refund to the gateway (retried with backoff while the gateway fails)."""
    return refund_send(refund_id=refund_id).state


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_refunds(ids: list[int]) -> int:
    """Send a set of refunds just recorded; each failing one is retried on its own."""
    sent = 0
    for refund_id in ids:
        try:
            refund_send(refund_id=refund_id)
            sent += 1
        except GatewayError as exc:
            if exc.retryable:
                send_refund.apply_async((refund_id,), countdown=30)
    return sent
