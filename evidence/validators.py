"""What a file really is, decided by its content: never by its name or Content-Type.

Photos (JPEG, PNG, WebP, and HEIC/HEIF from phones through pillow-heif) are fully decoded
by Pillow, with too many pixels an error (a decompression bomb); a JPEG much larger than
needed is decoded at a reduced scale (draft mode), and at most
``PORTAL_EVIDENCE_DECODES_AT_ONCE`` photos or video frames are decoded at once in a process
(``decode_slot``). Videos (MP4, MOV, WebM) are opened with PyAV and probed for a video
track, its duration, size and codec. Every refusal is a sentence for the person, naming
the file.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import filetype
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from pillow_heif import register_heif_opener

from evidence.sizes import over_limit_labels

# HEIC/HEIF through Pillow, without the extra images a HEIF may carry (never stored).
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# The sniffed type of an accepted photo, and the extension of the stored file of that type.
IMAGE_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "jpg",
    "image/heif": "jpg",
}
VIDEO_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
# The container each accepted video is written back to (PyAV's muxer names).
VIDEO_MUXERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
# Codec names as people know them (PyAV gives FFmpeg's short names).
CODEC_NAMES = {"h264": "AVC", "hevc": "HEVC", "vp8": "VP8", "vp9": "VP9", "av1": "AV1"}
# How long an upload waits for a free decode slot before it is refused (seconds).
DECODE_WAIT_SECONDS = 120
# Kinds people try to send, with a word on why they are refused.
KNOWN_REFUSED = {
    "image/gif": "GIF",
    "image/avif": "AVIF",
    "image/svg+xml": "SVG",
    "application/postscript": "EPS/PostScript",
    "application/pdf": "PDF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}


class EvidenceRejected(Exception):
    """A refused file, with the reason in words for the person who sent it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Inspected:
    kind: str  # "photo" or "video"
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    duration: Decimal | None = None
    codec: str = ""


def _head(stream: IO[bytes], size: int = 8192) -> bytes:
    stream.seek(0)
    head = stream.read(size)
    stream.seek(0)
    return head


def _looks_like_text(head: bytes) -> str:
    lowered = head[:512].lstrip().lower()
    for marker, label in (
        (b"<?php", "PHP"),
        (b"<svg", "SVG"),
        (b"<?xml", "XML/SVG"),
        (b"<!doctype html", "HTML"),
        (b"<html", "HTML"),
        (b"<script", "HTML"),
        (b"%!ps", "EPS/PostScript"),
    ):
        if lowered.startswith(marker) or marker in lowered[:256]:
            return label
    return ""


def sniff(name: str, stream: IO[bytes], size: int) -> tuple[str, str]:
    """(kind, content type) from the first bytes; refuses empty, unknown and unwanted files."""
    if size == 0:
        raise EvidenceRejected(name, _("the file is empty."))
    head = _head(stream)
    guess = filetype.guess(head)
    mime = guess.mime if guess else ""
    if mime in IMAGE_TYPES:
        return "photo", mime
    if mime in VIDEO_TYPES:
        return "video", mime
    if head[:4] == b"\xc5\xd0\xd3\xc6":  # a DOS EPS binary header
        mime = "application/postscript"
    label = KNOWN_REFUSED.get(mime) or _looks_like_text(head)
    if label:
        raise EvidenceRejected(
            name,
            _(
                "%(kind)s files are not accepted. Send photos as JPEG, PNG, WebP or HEIC and "
                "videos as MP4, MOV or WebM."
            )
            % {"kind": label},
        )
    if (guess is None and head[4:8] in (b"ftyp", b"moov", b"mdat")) or head[
        :4
    ] == b"\x1a\x45\xdf\xa3":
        raise EvidenceRejected(name, _("this video is damaged: its header cannot be read."))
    raise EvidenceRejected(
        name,
        _(
            "this is not a photo or a video we can read, whatever its name says. Send photos "
            "as JPEG, PNG, WebP or HEIC and videos as MP4, MOV or WebM."
        ),
    )


def check_size(name: str, kind: str, size: int) -> None:
    """Refuse a file above its kind's limit (decimal MB, as the limit is stated)."""
    limit = (
        settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES
        if kind == "photo"
        else settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES
    )
    if size > limit:
        said, allowed = over_limit_labels(size, limit)
        raise EvidenceRejected(
            name,
            _("the file is %(size)s; %(kind)s can be at most %(limit)s.")
            % {
                "size": said,
                "kind": _("a photo") if kind == "photo" else _("a video"),
                "limit": allowed,
            },
        )


_slots: tuple[int, threading.BoundedSemaphore] | None = None
_slots_lock = threading.Lock()


@contextmanager
def decode_slot(name: str, *, wait: float | None = DECODE_WAIT_SECONDS) -> Iterator[None]:
    """Hold one of the ``PORTAL_EVIDENCE_DECODES_AT_ONCE`` decode slots of this process.

    A decoded photo of 40 Mpx takes 120 MB; the slots bound how many are in memory at once
    whatever the number of threads. Refused (a busy server) if none frees up in ``wait``
    seconds; ``wait=None`` waits as long as it takes (background tasks).
    """
    global _slots
    size = max(1, int(settings.PORTAL_EVIDENCE_DECODES_AT_ONCE))
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        slots = _slots[1]
    if not slots.acquire(timeout=wait):
        raise EvidenceRejected(
            name, _("the server is busy reading other photos; please send this file again.")
        )
    try:
        yield
    finally:
        slots.release()


def _draft_size(size: tuple[int, int]) -> tuple[int, int] | None:
    """The size to ask of JPEG draft mode: the long side kept at least
    ``PORTAL_EVIDENCE_DRAFT_MIN_SIDE``; None when the photo is not twice as large."""
    side = int(settings.PORTAL_EVIDENCE_DRAFT_MIN_SIDE)
    width, height = size
    if side <= 0 or max(width, height) < 2 * side:
        return None
    if width >= height:
        return side, max(1, side * height // width)
    return max(1, side * width // height), side


def open_image(name: str, stream: IO[bytes]) -> Image.Image:
    """Decode the whole image, refusing bombs, truncation and anything Pillow doubts.

    Call it in a ``decode_slot``. A JPEG at least twice ``PORTAL_EVIDENCE_DRAFT_MIN_SIDE`` on
    its long side is decoded at 1/2, 1/4 or 1/8 scale (never below that side).
    """
    Image.MAX_IMAGE_PIXELS = settings.PORTAL_EVIDENCE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            stream.seek(0)
            with Image.open(stream, formats=list(PILLOW_FORMATS)) as probe:
                probe.verify()
            stream.seek(0)
            image = Image.open(stream, formats=list(PILLOW_FORMATS))
            if image.format not in PILLOW_FORMATS:
                raise EvidenceRejected(name, _("this image format is not accepted."))
            if image.format == "JPEG" and (target := _draft_size(image.size)):
                image.draft(None, target)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise EvidenceRejected(
            name,
            _(
                "the image has too many pixels (more than %(n)s million); it may be a "
                "decompression bomb."
            )
            % {"n": settings.PORTAL_EVIDENCE_MAX_PIXELS // 1_000_000},
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise EvidenceRejected(
            name, _("the image is damaged or incomplete and cannot be opened.")
        ) from exc
    return image


def _open_video(name: str, source: Any) -> Any:
    import av

    try:
        return av.open(source, "r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise EvidenceRejected(
            name, _("this video is damaged: it cannot be read as a video.")
        ) from exc


def picture_streams(container: Any) -> list[Any]:
    """The moving-picture tracks (not a cover image some files carry)."""
    import av

    return [
        stream
        for stream in container.streams.video
        if not stream.disposition & av.stream.Disposition.attached_pic
    ]


def probe_video(name: str, path: str) -> tuple[int | None, int | None, Decimal | None, str]:
    """Width, height, duration (s) and codec of the first video track, or a refusal."""
    import av

    with _open_video(name, path) as container:
        tracks = picture_streams(container)
        if not tracks:
            raise EvidenceRejected(
                name, _("this video is damaged: no picture could be found in it.")
            )
        track = tracks[0]
        context = track.codec_context
        width, height = (context.width or None, context.height or None) if context else (None, None)
        if width and height and width * height > settings.PORTAL_EVIDENCE_MAX_PIXELS:
            raise EvidenceRejected(
                name,
                _("the video's picture is too large (more than %(n)s million pixels).")
                % {"n": settings.PORTAL_EVIDENCE_MAX_PIXELS // 1_000_000},
            )
        seconds = None
        if track.duration and track.time_base:
            seconds = track.duration * track.time_base
        elif container.duration:
            seconds = container.duration / av.time_base
        duration = Decimal(str(float(seconds))).quantize(Decimal("0.001")) if seconds else None
        codec = context.name if context else ""
        return width, height, duration, CODEC_NAMES.get(codec, codec.upper())
