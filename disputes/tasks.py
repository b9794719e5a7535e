from celery import shared_task

from disputes.notifications import send_event_mail


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=8,
)
def mail_event(event_id: int) -> int:
    """Mail the people a dispute event concerns."""
    return send_event_mail(event_id)
