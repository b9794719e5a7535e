"""Evidence: validate by content, strip, store; attach to a case; hide with a reason.

Files are checked and stored before the caller's transaction (storage is an external
call); the caller then attaches them in its transaction, and ``stored_evidence`` deletes
them again if that transaction fails. Who may send or see a file is the caller's business;
hiding one is for arbitrators only, and the case that owns it hears of it through
``settings.PORTAL_EVIDENCE_HOOK``.

Files sent with a form that is refused are not lost: ``evidence_hold`` checks and stores
them exactly as evidence (the same ``evidence_store``) and keeps them for their sender
(``HeldFile``), in the form they came with, until a time the caller gives;
``evidence_attach_held`` makes them evidence of the case inside the transaction that opens
it, ``evidence_release`` lets the sender remove one, and ``evidence_sweep_held`` deletes
the holds that ran out.
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
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from evidence import storage
from evidence.models import Evidence, HeldFile
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
    thumbnail: str = ""  # already made (a held file's), or made after the commit


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
    *, files: Sequence[Any], allowed: int, full: str = ""
) -> tuple[list[StoredFile], list[Rejection]]:
    """Check each file by its content and store the good ones; refuse the rest by name.

    ``allowed`` is how many more files this person may still send in this case; ``full``
    says why a file beyond that is refused (the case's limit by default).
    """
    stored: list[StoredFile] = []
    rejected: list[Rejection] = []
    for upload in files:
        name = _display_name(upload)
        try:
            if len(stored) >= allowed:
                raise EvidenceRejected(
                    name, full or _("you have reached the limit of files for this dispute.")
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
            thumbnail=item.thumbnail,
            created_at=now,
        )
        for item in stored
    )
    ids = [row.pk for row in rows if not row.thumbnail]
    if ids:
        transaction.on_commit(lambda: _queue_thumbnails(ids))
    return rows


def _queue_thumbnails(ids: list[int], *, held: bool = False) -> None:
    from evidence.tasks import make_held_thumbnails, make_thumbnails

    try:
        (make_held_thumbnails if held else make_thumbnails).delay(ids)
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


def _thumbnail_key(*, kind: str, name: str) -> str | None:
    """Store a small JPEG of a stored file (the photo scaled down, or a video's poster
    frame) and return its key; None if no picture can be had."""
    with default_storage.open(name, "rb") as source, decode_slot(name, wait=None):
        if kind == "photo":
            Image.MAX_IMAGE_PIXELS = settings.PORTAL_EVIDENCE_MAX_PIXELS
            with Image.open(source) as photo:
                photo.thumbnail(THUMBNAIL_SIZE)  # draft mode for JPEG: a reduced decode
                image = photo.convert("RGB")
        else:
            poster = _poster_frame(name, source)
            if poster is None:
                return None
            image = poster.convert("RGB")
    out = tempfile.SpooledTemporaryFile()  # noqa: SIM115
    with out:
        image.save(out, "JPEG", quality=80)
        return storage.save(storage.random_key("thumbnails", "jpg"), out)


def evidence_make_thumbnail(*, evidence_id: int) -> bool:
    """A small JPEG for the gallery: the photo scaled down, or a video's poster frame;
    True if one was made."""
    evidence = Evidence.objects.filter(pk=evidence_id, thumbnail="").first()
    if evidence is None:
        return False
    key = _thumbnail_key(kind=evidence.kind, name=evidence.file.name)
    if key is None:
        return False
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
    *, files: Sequence[Any], allowed: int, full: str = ""
) -> Iterator[tuple[list[StoredFile], list[Rejection]]]:
    """Check and store the files (before any transaction: storage is an external call),
    and delete them again if the block that attaches them fails."""
    stored, rejected = (
        evidence_store(files=files, allowed=allowed, full=full) if files else ([], [])
    )
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


# --- files kept for a refused form ---------------------------------------------------------
@dataclass(frozen=True)
class Hold:
    """What ``evidence_hold`` kept of one upload, and what it refused (by name)."""

    held: list[HeldFile]
    rejected: list[Rejection]


def _live_holds(*, owner: Any, now: datetime) -> QuerySet[HeldFile]:
    return HeldFile.objects.filter(owner=owner, expires_at__gt=now)


def evidence_hold(
    *,
    owner: Any,
    scope: str,
    files: Sequence[Any],
    limit: int,
    expires_at: datetime,
    now: datetime | None = None,
) -> Hold:
    """Check and store files exactly as evidence is (``evidence_store``: type by content,
    metadata stripped, bomb and size limits), and keep them for ``owner`` in the form named
    ``scope`` until ``expires_at``.

    ``limit`` is how many files the case takes from this person (the files already held
    for this form count); a person holds at most ``PORTAL_EVIDENCE_HOLD_MAX_FILES`` files
    across all forms. Files beyond either are refused by name. Thumbnails are made by Celery
    after the commit."""
    now = now or timezone.now()
    if not files:
        return Hold([], [])
    holds = _live_holds(owner=owner, now=now)
    for_form = max(limit - holds.filter(scope=scope).count(), 0)
    for_person = max(settings.PORTAL_EVIDENCE_HOLD_MAX_FILES - holds.count(), 0)
    full = ""
    if for_person < for_form:
        full = _("you have too many files waiting in unfinished forms; send or remove those first.")
    with (
        stored_evidence(files=files, allowed=min(for_form, for_person), full=full) as (
            stored,
            rejected,
        ),
        transaction.atomic(),
    ):
        rows = HeldFile.objects.bulk_create(
            HeldFile(
                owner=owner,
                scope=scope,
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
                expires_at=expires_at,
            )
            for item in stored
        )
        ids = [row.pk for row in rows]
        if ids:
            transaction.on_commit(lambda: _queue_thumbnails(ids, held=True))
    return Hold(rows, rejected)


def _drop_files(rows: Sequence[HeldFile]) -> None:
    """Delete the stored files of held rows deleted in this transaction, once it commits."""
    names = [name for row in rows for name in (row.file.name, row.thumbnail.name) if name]
    if names:
        transaction.on_commit(lambda: storage.delete_quietly(names))


def evidence_release(*, owner: Any, scope: str, held_id: int) -> HeldFile | None:
    """The owner removes one file held for a form before sending it: the row now, the file
    after the commit. None (nothing done) if no such file is held for this person."""
    with transaction.atomic():
        row = (
            HeldFile.objects.select_for_update()
            .filter(pk=held_id, owner=owner, scope=scope)
            .first()
        )
        if row is None:
            return None
        row.delete()
        _drop_files([row])
    return row


def evidence_attach_held(
    *,
    owner: Any,
    scope: str,
    held_ids: Sequence[int],
    limit: int,
    party: str,
    dispute_id: int | None = None,
    complaint_id: int | None = None,
    now: datetime | None = None,
) -> list[Evidence]:
    """Inside the caller's transaction: the files held for ``owner`` in the form ``scope``
    become evidence of the case (the same stored files, nothing copied), and the form's
    other held files are dropped (the form is done).

    Every id must be a file this person holds for this form and that has not run out;
    otherwise nothing is attached (``EvidenceError``). If the caller's transaction rolls
    back, the files are still held."""
    now = now or timezone.now()
    wanted = set(held_ids)
    rows = list(
        HeldFile.objects.select_for_update()
        .filter(owner=owner, scope=scope)
        .order_by("created_at", "pk")
    )
    chosen = [row for row in rows if row.pk in wanted and row.expires_at > now]
    if len(chosen) != len(wanted):
        raise EvidenceError(
            _(
                "Some of the files you sent earlier are no longer kept (they are kept for a "
                "limited time, or were removed): please choose them again."
            )
        )
    if len(chosen) > limit:
        raise EvidenceError(
            _("At most %(n)d files can be sent here: remove %(extra)d of them.")
            % {"n": limit, "extra": len(chosen) - limit}
        )
    attached = evidence_attach(
        stored=[
            StoredFile(
                row.file.name,
                row.kind,
                row.content_type,
                row.original_name,
                row.received_sha256,
                row.received_size,
                row.stored_size,
                row.width,
                row.height,
                row.duration,
                row.codec,
                stored_sha256=row.stored_sha256,
                thumbnail=row.thumbnail.name,
            )
            for row in chosen
        ],
        dispute_id=dispute_id,
        complaint_id=complaint_id,
        uploaded_by=owner,
        party=party,
        now=now,
    )
    HeldFile.objects.filter(pk__in=[row.pk for row in rows]).delete()
    _drop_files([row for row in rows if row not in chosen])
    return attached


def evidence_sweep_held(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Delete the held files whose time ran out: the rows, then their files after each
    batch commits. Safe to run twice or at once (rows being used are skipped, and a file
    already gone is no error); returns how many were deleted."""
    now = now or timezone.now()
    swept = 0
    while True:
        with transaction.atomic():
            rows = list(
                HeldFile.objects.select_for_update(skip_locked=True)
                .filter(expires_at__lte=now)
                .order_by("expires_at", "pk")[:batch_size]
            )
            if not rows:
                return swept
            HeldFile.objects.filter(pk__in=[row.pk for row in rows]).delete()
            _drop_files(rows)
        swept += len(rows)
        if len(rows) < batch_size:
            return swept


def evidence_make_held_thumbnail(*, held_id: int) -> bool:
    """The preview of a held file (as a gallery thumbnail); True if one was made. If the
    file became evidence or was removed meanwhile, the preview is deleted again."""
    row = HeldFile.objects.filter(pk=held_id, thumbnail="").first()
    if row is None:
        return False
    try:
        key = _thumbnail_key(kind=row.kind, name=row.file.name)
    except FileNotFoundError:  # removed or swept meanwhile
        return False
    if key is None:
        return False
    updated = HeldFile.objects.filter(pk=held_id, thumbnail="").update(thumbnail=key)
    if not updated:
        storage.delete_quietly([key])
    return bool(updated)
