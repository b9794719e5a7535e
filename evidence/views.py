"""Handing an evidence file or its thumbnail to a person the caller has already checked.

Evidence belongs to a dispute or to a complaint; the app that owns the case finds the item
through its own selector scoped to the person asking, then answers with these. Hidden items
are shown to arbitrators only (``accounts.roles``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect

from accounts.roles import may_see_hidden_evidence
from evidence import storage
from evidence.models import Evidence


def visible_or_404(item: Evidence, *, user: Any) -> Evidence:
    """The item itself, unless it is hidden and the person is not an arbitrator."""
    if item.is_hidden and not may_see_hidden_evidence(user):
        raise Http404
    return item


def file_response(item: Evidence, *, prefix: str = "evidence") -> HttpResponse:
    """The stored file, inline, under a name that says nothing of what was uploaded."""
    extension = item.file.name.rsplit(".", 1)[-1]
    return storage.serve(
        item.file.name, content_type=item.content_type, filename=f"{prefix}-{item.pk}.{extension}"
    )


def thumbnail_response(item: Evidence, *, file_url: str) -> HttpResponse:
    """The gallery thumbnail, or the file itself (``file_url``) until one is made."""
    if not item.thumbnail:
        return redirect(file_url)
    return storage.serve(
        item.thumbnail.name, content_type="image/jpeg", filename=f"thumbnail-{item.pk}.jpg"
    )
