from celery import shared_task

from evidence.services import (
    evidence_make_held_thumbnail,
    evidence_make_thumbnail,
    evidence_sweep_held,
)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def make_thumbnails(ids: list[int]) -> int:
    """Make the gallery thumbnails of freshly sent photos, and the poster frames of videos."""
    return sum(evidence_make_thumbnail(evidence_id=pk) for pk in ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def make_held_thumbnails(ids: list[int]) -> int:
    """The previews of files kept for a refused form (photos scaled down, poster frames)."""
    return sum(evidence_make_held_thumbnail(held_id=pk) for pk in ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_expired_held_files() -> int:
    """Delete the files kept for refused forms whose time ran out (scheduled by beat)."""
    return evidence_sweep_held()
