"""Handing an evidence file or its thumbnail to a person the caller has already checked.

Evidence belongs to a dispute or to a complaint; the app that owns the case finds the item
through its own selector scoped to the person asking, then answers with these. Hidden items
are shown to arbitrators only (``accounts.roles``). Files held for a refused form are the
evidence app's own pages: their sender sees them, nobody else.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.roles import may_see_hidden_evidence
from evidence import storage
from evidence.models import Evidence, HeldFile
from evidence.selectors import held_file_of


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


# --- files held for a refused form: their sender's only -------------------------------------
def _held_or_404(request: HttpRequest, held_id: int) -> HeldFile:
    """A held file is seen by the person who sent it, nobody else (staff included)."""
    item = held_file_of(owner=request.user, held_id=held_id, now=timezone.now())
    if item is None:
        raise Http404
    return item


@login_required
@require_safe
def held_file(request: HttpRequest, held_id: int) -> HttpResponse:
    """A file kept for its sender's refused form, as stored (cleaned of its metadata)."""
    item = _held_or_404(request, held_id)
    extension = item.file.name.rsplit(".", 1)[-1]
    response = storage.serve(
        item.file.name, content_type=item.content_type, filename=f"held-{item.pk}.{extension}"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def held_thumbnail(request: HttpRequest, held_id: int) -> HttpResponse:
    """Its preview: the thumbnail once made, the file itself until then."""
    item = _held_or_404(request, held_id)
    if not item.thumbnail:
        return redirect("evidence:held_file", item.pk)
    response = storage.serve(
        item.thumbnail.name, content_type="image/jpeg", filename=f"held-{item.pk}.jpg"
    )
    response["Cache-Control"] = "private, no-store"
    return response
