"""Evidence: validate by content, strip, store; attach to a case; hide with a reason.

Files are checked and stored before the caller's transaction (storage is an external
call); the caller then attaches them in its transaction, and ``stored_evidence`` deletes
them again if that transaction fails. Who may send or see a file is the caller's business;
hiding one is for arbitrators only, and the case that owns it hears of it through
``settings.PORTAL_EVIDENCE_HOOK``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from evidence import storage
from evidence.models import Evidence
from evidence.validators import (
    IMAGE_TYPES,
    PILLOW_FORMATS,
    VIDEO_TYPES,
    EvidenceRejected,
    check_size,
    open_image,
    probe_video,
    sniff,
)
from orders.hooks import call_hook

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (480, 480)
KEEP_INFO = ("icc_profile", "dpi")


@dataclass(frozen=True)
class StoredFile:
    name: str
    kind: str
    content_type: str
    original_name: str
    sha256: str
    size: int
    stored_size: int
    width: int | None = None
    height: int | None = None
    duration: Decimal | None = None
    codec: str = ""


@dataclass(frozen=True)
class Rejection:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def _display_name(upload: Any) -> str:
    name = str(getattr(upload, "name", "") or _("unnamed file"))
    return name.replace("/", "_").replace("\\", "_")[:200]


def _clean_image(name: str, upload: IO[bytes]) -> tuple[IO[bytes], int, int, str]:
    """Decode, turn upright, and re-encode without EXIF (no GPS leaves the phone)."""
    image = open_image(name, upload)
    mime = PILLOW_FORMATS[image.format]
    upright = ImageOps.exif_transpose(image) or image
    upright.info = {key: value for key, value in image.info.items() if key in KEEP_INFO}
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    if mime == "image/jpeg":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=90, optimize=True, exif=b"")
    elif mime == "image/png":
        upright.save(out, "PNG", optimize=True)
    else:
        upright.save(out, "WEBP", quality=90, exif=b"")
    out.seek(0)
    return out, upright.width, upright.height, mime


def _video_path(upload: Any) -> tuple[str, Any]:
    """A path on disk for the probe: the upload's own temporary file, or a copy."""
    if hasattr(upload, "temporary_file_path"):
        return upload.temporary_file_path(), None
    copy = tempfile.NamedTemporaryFile(suffix=".video")  # noqa: SIM115
    upload.seek(0)
    while chunk := upload.read(storage.CHUNK):
        copy.write(chunk)
    copy.flush()
    upload.seek(0)
    return copy.name, copy


def evidence_store(
    *, files: Sequence[Any], allowed: int
) -> tuple[list[StoredFile], list[Rejection]]:
    """Check each file by its content and store the good ones; refuse the rest by name.

    ``allowed`` is how many more files this person may still send in this case.
    """
    stored: list[StoredFile] = []
    rejected: list[Rejection] = []
    for upload in files:
        name = _display_name(upload)
        try:
            if len(stored) >= allowed:
                raise EvidenceRejected(
                    name, _("you have reached the limit of files for this dispute.")
                )
            size = int(getattr(upload, "size", 0) or 0)
            kind, mime = sniff(name, upload, size)
            check_size(name, kind, size)
            sha256, received = storage.sha256_of(upload)
            if kind == "photo":
                cleaned, width, height, mime = _clean_image(name, upload)
                with cleaned:
                    _digest, stored_size = storage.sha256_of(cleaned)
                    key = storage.save(storage.random_key("evidence", IMAGE_TYPES[mime]), cleaned)
                stored.append(
                    StoredFile(key, kind, mime, name, sha256, received, stored_size, width, height)
                )
            else:
                path, copy = _video_path(upload)
                try:
                    width, height, duration, codec = probe_video(name, path)
                finally:
                    if copy is not None:
                        copy.close()
                key = storage.save(storage.random_key("evidence", VIDEO_TYPES[mime]), upload)
                stored.append(
                    StoredFile(
                        key,
                        kind,
                        mime,
                        name,
                        sha256,
                        received,
                        received,
                        width,
                        height,
                        duration,
                        codec[:40],
                    )
                )
        except EvidenceRejected as exc:
            rejected.append(Rejection(exc.name, exc.reason))
    return stored, rejected


def evidence_attach(
    *,
    stored: Sequence[StoredFile],
    dispute_id: int | None,
    uploaded_by: Any,
    party: str,
    message_id: int | None = None,
    complaint_id: int | None = None,
    now: datetime | None = None,
) -> list[Evidence]:
    """Record stored files as evidence of a case (inside the caller's transaction);
    thumbnails are made by Celery after the commit."""
    now = now or timezone.now()
    rows = Evidence.objects.bulk_create(
        Evidence(
            dispute_id=dispute_id,
            complaint_id=complaint_id,
            message_id=message_id,
            uploaded_by=uploaded_by,
            party=party,
            kind=item.kind,
            content_type=item.content_type,
            original_name=item.original_name,
            received_sha256=item.sha256,
            received_size=item.size,
            file=item.name,
            stored_size=item.stored_size,
            width=item.width,
            height=item.height,
            duration=item.duration,
            codec=item.codec,
            created_at=now,
        )
        for item in stored
    )
    photo_ids = [row.pk for row in rows if row.kind == "photo"]
    if photo_ids:
        transaction.on_commit(lambda: _queue_thumbnails(photo_ids))
    return rows


def _queue_thumbnails(ids: list[int]) -> None:
    from evidence.tasks import make_thumbnails

    try:
        make_thumbnails.delay(ids)
    except Exception:
        logger.warning("broker unreachable: thumbnails for %s wait for the next upload", ids)


def evidence_make_thumbnail(*, evidence_id: int) -> bool:
    """A small JPEG of a photo for the gallery; True if one was made."""
    evidence = Evidence.objects.filter(pk=evidence_id, kind="photo", thumbnail="").first()
    if evidence is None:
        return False
    with default_storage.open(evidence.file.name, "rb") as source, Image.open(source) as image:
        image.thumbnail(THUMBNAIL_SIZE)
        out = tempfile.SpooledTemporaryFile()  # noqa: SIM115
        with out:
            image.convert("RGB").save(out, "JPEG", quality=80)
            key = storage.save(storage.random_key("thumbnails", "jpg"), out)
    updated = Evidence.objects.filter(pk=evidence_id, thumbnail="").update(thumbnail=key)
    if not updated:
        storage.delete_quietly([key])
    return bool(updated)


class EvidenceError(Exception):
    """A refused evidence action, with a message for the person (and its form field)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def stored_evidence(
    *, files: Sequence[Any], allowed: int
) -> Iterator[tuple[list[StoredFile], list[Rejection]]]:
    """Check and store the files (before any transaction: storage is an external call),
    and delete them again if the block that attaches them fails."""
    stored, rejected = evidence_store(files=files, allowed=allowed) if files else ([], [])
    try:
        yield stored, rejected
    except BaseException:
        storage.delete_quietly([item.name for item in stored])
        raise


def evidence_hide(*, evidence_id: int, user: Any, reason: str, now: datetime | None = None) -> bool:
    """An arbitrator hides an item of a dispute from the parties, with a reason. The file
    is kept. The case that owns the item hears of it in the same transaction, through the
    hook in ``settings.PORTAL_EVIDENCE_HOOK``. False if it was already hidden."""
    now = now or timezone.now()
    reason = reason.strip()
    if not (user.is_staff and user.has_perm("evidence.hide_evidence")):
        raise EvidenceError(_("Only arbitrators can hide evidence."))
    if not reason:
        raise EvidenceError(_("Give the reason for hiding this item."), field="reason")
    with transaction.atomic():
        item = Evidence.objects.select_for_update().get(pk=evidence_id)
        if item.dispute_id is None:
            raise EvidenceError(_("Only evidence of a dispute can be hidden."))
        hidden = bool(
            Evidence.objects.filter(pk=item.pk, hidden_at__isnull=True).update(
                hidden_at=now, hidden_by=user, hidden_reason=reason
            )
        )
        if hidden:
            call_hook("PORTAL_EVIDENCE_HOOK", evidence=item, user=user, at=now)
    return hidden
