from celery import shared_task

from evidence.services import evidence_make_thumbnail


@shared_task(acks_late=True, reject_on_worker_lost=True)
def make_thumbnails(ids: list[int]) -> int:
    """Make the gallery thumbnails of freshly sent photos, and the poster frames of videos."""
    return sum(evidence_make_thumbnail(evidence_id=pk) for pk in ids)
