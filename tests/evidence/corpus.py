"""Bad files, made on the fly (plus tiny real videos in tests/fixtures)."""

from __future__ import annotations

import io
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    """As a browser sends it: the name and Content-Type say whatever the sender likes."""
    return SimpleUploadedFile(name, data, content_type=content_type)


def jpeg_bytes(size=(64, 48), exif: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = 6  # rotated: the stored photo must come out upright
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    return exif.tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A few hundred bytes that claim 900 million pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = zlib.compress(row * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def video(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# Where the phone was, as QuickTime's ISO 6709 string (Berlin).
POSITION = "+52.5200+013.4050/"
CODECS = {"mp4": ("libx264", "aac"), "mov": ("libx264", "aac"), "webm": ("libvpx", "libopus")}


def phone_video(
    muxer: str,
    metadata: dict[str, str] | None = None,
    *,
    rotation: int = 0,
    seconds: int = 1,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
) -> bytes:
    """A short video with sound made with PyAV, with the container metadata a phone writes
    (``location``/``LOCATION``, creation time, device): picture frames that change colour, a
    440 Hz tone."""
    import av

    video_codec, audio_codec = CODECS[muxer]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as out:
        out.metadata.update(metadata or {})
        picture = out.add_stream(video_codec, rate=fps)
        picture.width, picture.height = size
        picture.pix_fmt = "yuv420p"
        if rotation:
            picture.set_display_rotation(rotation)
        sound = out.add_stream(audio_codec, rate=48000)
        sound.layout = "mono"
        for index in range(seconds * fps):
            colour = (40 + (index * 20) % 200, 120, 200 - (index * 10) % 150)
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))
            frame.pts = index
            out.mux(picture.encode(frame))
        out.mux(picture.encode())
        samples = sound.codec_context.frame_size or 1024
        for start in range(0, 48000 * seconds, samples):
            chunk = av.AudioFrame(format="s16", layout="mono", samples=samples)
            chunk.planes[0].update(
                b"".join(
                    struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * (start + k) / 48000)))
                    for k in range(samples)
                )
            )
            chunk.sample_rate = 48000
            chunk.pts = start
            chunk.time_base = Fraction(1, 48000)
            out.mux(sound.encode(chunk))
        out.mux(sound.encode())
    return buffer.getvalue()


def heic_bytes(size=(60, 40), exif: bytes = b"") -> bytes:
    """An iPhone-style HEIC photo (through pillow-heif), with the EXIF given."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buffer = io.BytesIO()
    extra = {"exif": exif} if exif else {}
    Image.new("RGB", size, (200, 90, 30)).save(buffer, "HEIF", quality=80, **extra)
    return buffer.getvalue()


def bad_files() -> dict[str, tuple[SimpleUploadedFile, str]]:
    """Each bad file, and words its refusal must contain."""
    good = jpeg_bytes()
    mp4 = video("unboxing.mp4")
    # ftyp box with a brand nobody knows, then garbage: the header cannot be read.
    wrong_header = mp4[:4] + b"ftyp" + b"zzzz" + b"\x00" * 4 + b"\xff" * 200
    return {
        "text named .jpg": (
            upload("photo.jpg", b"Just my notes about the order.\n"),
            "not a photo or a video",
        ),
        "HTML as an image": (
            upload(
                "image.png", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "image/png"
            ),
            "HTML files are not accepted",
        ),
        "PHP as an image": (
            upload("shell.jpg", b"<?php system($_GET['c']); ?>"),
            "PHP files are not accepted",
        ),
        "GIF/JS polyglot": (
            upload(
                "poly.jpg", b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(document.cookie);//;"
            ),
            "GIF files are not accepted",
        ),
        "truncated JPEG": (upload("cut.jpg", good[: len(good) // 2]), "damaged or incomplete"),
        "decompression bomb PNG": (upload("bomb.png", bomb_png(), "image/png"), "too many pixels"),
        "empty file": (upload("empty.jpg", b""), "the file is empty"),
        "SVG": (
            upload(
                "vector.jpg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            ),
            "SVG files are not accepted",
        ),
        "EPS renamed .jpg": (
            upload("print.jpg", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
            "EPS/PostScript files are not accepted",
        ),
        "video with a wrong header": (
            upload("unboxing.mp4", wrong_header, "video/mp4"),
            "this video is damaged",
        ),
    }
