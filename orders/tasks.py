from celery import shared_task

from orders.services import orders_complete_expired


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_expired_protection() -> int:
    """Complete orders whose buyer protection has run out (scheduled by beat)."""
    return orders_complete_expired()
