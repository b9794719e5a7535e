"""Reads of evidence that belong to one person: the files held for their refused forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from evidence.models import HeldFile


def held_files(*, owner: Any, scope: str, now: datetime) -> QuerySet[HeldFile]:
    """The files ``owner`` sent with the form ``scope`` that are still kept, oldest first."""
    if not getattr(owner, "is_authenticated", False):
        return HeldFile.objects.none()
    return HeldFile.objects.filter(owner=owner, scope=scope, expires_at__gt=now).order_by(
        "created_at", "pk"
    )


def held_file_of(*, owner: Any, held_id: int, now: datetime) -> HeldFile | None:
    """One file held for ``owner`` (and only for them), if it is still kept."""
    if not getattr(owner, "is_authenticated", False):
        return None
    return HeldFile.objects.filter(pk=held_id, owner=owner, expires_at__gt=now).first()
