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

from django.conf import settings
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
    VIDEO_MUXERS,
    VIDEO_TYPES,
    EvidenceRejected,
    check_size,
    decode_slot,
    open_image,
    picture_streams,
    probe_video,
    sniff,
)
from orders.hooks import call_hook

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (480, 480)
KEEP_INFO = ("icc_profile", "dpi")
# The poster frame: the first frame at or after this time, decoding no more frames than this.
POSTER_AT_SECONDS = 0.5
POSTER_MAX_FRAMES = 120


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
    stored_sha256: str = ""


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
    """Decode, turn upright, and re-encode without EXIF or XMP (no GPS leaves the phone).

    HEIC/HEIF comes out as JPEG. The decode and the encode hold a decode slot, so only so
    many decoded photos are in memory at once.
    """
    with decode_slot(name):
        image = open_image(name, upload)
        mime = PILLOW_FORMATS[image.format]
        info = {key: value for key, value in image.info.items() if key in KEEP_INFO}
        upright = ImageOps.exif_transpose(image, in_place=True) or image
        upright.info = info
        out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        if mime in ("image/jpeg", "image/heic"):
            if upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            upright.save(out, "JPEG", quality=90, optimize=True, exif=b"")
            mime = "image/jpeg"
        elif mime == "image/png":
            # Not optimize=True: it tries every filter at zlib level 9, seconds for a big image.
            upright.save(out, "PNG")
        else:
            upright.save(out, "WEBP", quality=90, exif=b"")
        width, height = upright.size
        upright.close()
        image.close()
    out.seek(0)
    return out, width, height, mime


def _remux_video(name: str, source: str, target: str, muxer: str) -> None:
    """Copy the picture and sound tracks, packet by packet (no re-encoding), into a new
    container: nothing else of the file is kept (container and track metadata such as GPS
    position, device and dates, other tracks, bytes after the end)."""
    import av

    options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
    try:
        with av.open(source, "r", metadata_errors="ignore") as received:
            kept = picture_streams(received) + list(received.streams.audio)
            if not picture_streams(received):
                raise EvidenceRejected(
                    name, _("this video is damaged: no picture could be found in it.")
                )
            with av.open(target, "w", format=muxer, options=options) as out:
                tracks = {stream.index: out.add_stream_from_template(stream) for stream in kept}
                for packet in received.demux(kept):
                    if packet.dts is None:  # the demuxer's empty packet at the end
                        continue
                    packet.stream = tracks[packet.stream_index]
                    out.mux(packet)
    except ValueError as exc:  # a codec this container cannot hold
        raise EvidenceRejected(
            name, _("the picture or sound of this video is in a format we do not accept.")
        ) from exc
    except (av.FFmpegError, OSError) as exc:
        raise EvidenceRejected(
            name, _("this video is damaged: it cannot be read as a video.")
        ) from exc


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
                    stored_sha256, stored_size = storage.sha256_of(cleaned)
                    key = storage.save(storage.random_key("evidence", IMAGE_TYPES[mime]), cleaned)
                stored.append(
                    StoredFile(
                        key,
                        kind,
                        mime,
                        name,
                        sha256,
                        received,
                        stored_size,
                        width,
                        height,
                        stored_sha256=stored_sha256,
                    )
                )
            else:
                path, copy = _video_path(upload)
                try:
                    with tempfile.NamedTemporaryFile(suffix=f".{VIDEO_TYPES[mime]}") as clean:
                        _remux_video(name, path, clean.name, VIDEO_MUXERS[mime])
                        width, height, duration, codec = probe_video(name, clean.name)
                        with open(clean.name, "rb") as remuxed:
                            stored_sha256, stored_size = storage.sha256_of(remuxed)
                            key = storage.save(
                                storage.random_key("evidence", VIDEO_TYPES[mime]), remuxed
                            )
                finally:
                    if copy is not None:
                        copy.close()
                stored.append(
                    StoredFile(
                        key,
                        kind,
                        mime,
                        name,
                        sha256,
                        received,
                        stored_size,
                        width,
                        height,
                        duration,
                        codec[:40],
                        stored_sha256=stored_sha256,
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
    thumbnails (a poster frame for videos) are made by Celery after the commit."""
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
            stored_sha256=item.stored_sha256,
            width=item.width,
            height=item.height,
            duration=item.duration,
            codec=item.codec,
            created_at=now,
        )
        for item in stored
    )
    ids = [row.pk for row in rows]
    if ids:
        transaction.on_commit(lambda: _queue_thumbnails(ids))
    return rows


def _queue_thumbnails(ids: list[int]) -> None:
    from evidence.tasks import make_thumbnails

    try:
        make_thumbnails.delay(ids)
    except Exception:
        logger.warning("broker unreachable: thumbnails for %s wait for the next upload", ids)


def _poster_frame(name: str, source: Any) -> Image.Image | None:
    """A frame from early in the video (past a fade-in), scaled to the thumbnail size by
    FFmpeg and turned as the video is shown; None if no picture can be decoded."""
    import av

    with av.open(source, "r", metadata_errors="ignore") as container:
        tracks = picture_streams(container)
        if not tracks:
            return None
        track = tracks[0]
        width, height = track.codec_context.width, track.codec_context.height
        if not width or not height or width * height > settings.PORTAL_EVIDENCE_MAX_PIXELS:
            return None
        track.codec_context.thread_count = 1
        scale = min(1.0, THUMBNAIL_SIZE[0] / width, THUMBNAIL_SIZE[1] / height)
        size = {"width": max(2, round(width * scale)), "height": max(2, round(height * scale))}
        frame = None
        try:
            for count, frame in enumerate(container.decode(track)):
                if count >= POSTER_MAX_FRAMES or (frame.time or 0) >= POSTER_AT_SECONDS:
                    break
        except av.FFmpegError:
            logger.warning("video %s: decoding stopped early for its poster frame", name)
        if frame is None:
            return None
        image = frame.to_image(**size)
        rotation = frame.rotation
    return image.rotate(rotation, expand=True) if rotation else image


def evidence_make_thumbnail(*, evidence_id: int) -> bool:
    """A small JPEG for the gallery: the photo scaled down, or a video's poster frame;
    True if one was made."""
    evidence = Evidence.objects.filter(pk=evidence_id, thumbnail="").first()
    if evidence is None:
        return False
    name = evidence.file.name
    with default_storage.open(name, "rb") as source, decode_slot(name, wait=None):
        if evidence.kind == "photo":
            Image.MAX_IMAGE_PIXELS = settings.PORTAL_EVIDENCE_MAX_PIXELS
            with Image.open(source) as photo:
                photo.thumbnail(THUMBNAIL_SIZE)  # draft mode for JPEG: a reduced decode
                image = photo.convert("RGB")
        else:
            poster = _poster_frame(name, source)
            if poster is None:
                return False
            image = poster.convert("RGB")
    out = tempfile.SpooledTemporaryFile()  # noqa: SIM115
    with out:
        image.save(out, "JPEG", quality=80)
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
    from accounts.roles import staff_may  # the one authority on roles

    if not staff_may(user, "evidence.hide_evidence"):
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
