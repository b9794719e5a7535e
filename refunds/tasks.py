from celery import shared_task

from refunds.gateway import GatewayError
from refunds.models import Refund
from refunds.services import refund_send, refunds_send_due


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_refunds(ids: list[int]) -> int:
    """Send a set of refunds just recorded. One that fails keeps its row's backoff and is
    sent again by ``send_due_refunds``; the idempotency key makes every resend safe."""
    sent = 0
    for refund_id in ids:
        try:
            refund_send(refund_id=refund_id)
            sent += 1
        except (GatewayError, Refund.DoesNotExist):
            continue
    return sent


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_refund(refund_id: int) -> str:
    """Send one refund (what staff's "retry now" queues)."""
    try:
        return refund_send(refund_id=refund_id).state
    except GatewayError as exc:
        return f"failed: {exc}"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_due_refunds() -> dict[str, int]:
    """Every minute: resend what is pending or failed and due after its backoff."""
    return refunds_send_due()
