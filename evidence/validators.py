"""What a file really is, decided by its content: never by its name or Content-Type.

Photos (JPEG, PNG, WebP) are fully decoded by Pillow, with too many pixels an error (a
decompression bomb); videos (MP4, MOV, WebM) are probed for a video track, its duration,
size and codec. Every refusal is a sentence for the person, naming the file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

import filetype
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
VIDEO_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
PILLOW_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Kinds people try to send, with a word on why they are refused.
KNOWN_REFUSED = {
    "image/gif": "GIF",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
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
                "%(kind)s files are not accepted. Send photos as JPEG, PNG or WebP and videos "
                "as MP4, MOV or WebM."
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
            "as JPEG, PNG or WebP and videos as MP4, MOV or WebM."
        ),
    )


def check_size(name: str, kind: str, size: int) -> None:
    limit = (
        settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES
        if kind == "photo"
        else settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES
    )
    if size > limit:
        raise EvidenceRejected(
            name,
            _("the file is %(size)s MB; %(kind)s can be at most %(limit)s MB.")
            % {
                "size": f"{size / 1024 / 1024:.1f}",
                "kind": _("a photo") if kind == "photo" else _("a video"),
                "limit": limit // (1024 * 1024),
            },
        )


def open_image(name: str, stream: IO[bytes]) -> Image.Image:
    """Decode the whole image, refusing bombs, truncation and anything Pillow doubts."""
    Image.MAX_IMAGE_PIXELS = settings.PORTAL_EVIDENCE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            stream.seek(0)
            with Image.open(stream) as probe:
                probe.verify()
            stream.seek(0)
            image = Image.open(stream)
            if image.format not in PILLOW_FORMATS:
                raise EvidenceRejected(name, _("this image format is not accepted."))
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


def probe_video(name: str, path: str) -> tuple[int | None, int | None, Decimal | None, str]:
    """Width, height, duration (s) and codec of the first video track, or a refusal."""
    from pymediainfo import MediaInfo

    try:
        info = MediaInfo.parse(path)
    except Exception as exc:
        raise EvidenceRejected(name, _("this video cannot be read.")) from exc
    tracks = [t for t in info.tracks if t.track_type == "Video"]
    if not tracks:
        raise EvidenceRejected(name, _("this video is damaged: no picture could be found in it."))
    track = tracks[0]
    general = next((t for t in info.tracks if t.track_type == "General"), None)
    duration_ms = track.duration or (general.duration if general else None)
    duration = (
        (Decimal(str(duration_ms)) / 1000).quantize(Decimal("0.001")) if duration_ms else None
    )
    return track.width, track.height, duration, track.format or track.codec_id or ""
