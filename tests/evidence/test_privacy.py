"""No position leaves the buyer's phone, whatever the file (issue 12, items 3 and 7).

Videos are rewritten without container metadata or trailing bytes and still play the same;
HEIC photos are stored as JPEG without EXIF; decoding is bounded (pixel limit, JPEG draft
mode, a limit of decodes at once); videos get a poster frame as their thumbnail.
"""

import hashlib
import io
import threading
import time
from datetime import timedelta
from decimal import Decimal

import av
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import ExifTags, Image

import evidence.services
from disputes.services import DisputeRequest, dispute_open
from evidence.services import evidence_store
from tests.evidence.corpus import (
    POSITION,
    gps_exif,
    heic_bytes,
    jpeg_bytes,
    phone_video,
    upload,
    video,
)
from tests.factories import make_order

PHONE_TAGS = {"creation_time": "2026-05-01T10:00:00Z", "comment": "PhoneMaker X12"}
TRAILER = b"GPS +52.5200+013.4050 sent from PhoneMaker X12"


def received_and_stored(name: str, data: bytes, mime: str):
    (item,), rejected = evidence_store(files=[upload(name, data, mime)], allowed=10)
    assert rejected == []
    with default_storage.open(item.name, "rb") as handle:
        return item, handle.read()


def describe(data: bytes):
    """What a player sees: the tracks (kind, codec, packets) and the duration in seconds."""
    with av.open(io.BytesIO(data)) as container:
        tracks = []
        for stream in container.streams:
            packets = sum(1 for packet in container.demux(stream) if packet.size)
            container.seek(0)
            tracks.append((stream.type, stream.codec_context.name, packets))
        metadata = dict(container.metadata)
        for stream in container.streams:
            metadata.update(stream.metadata)
        return tracks, container.duration / av.time_base, metadata


def no_position(metadata: dict[str, str]) -> bool:
    return not any(
        "location" in key.lower() or "xyz" in key.lower() or "+52.52" in value
        for key, value in metadata.items()
    )


@pytest.mark.parametrize(
    ("name", "mime", "muxer", "tag", "trailer"),
    [
        ("IMG_0001.mp4", "video/mp4", "mp4", "location", b""),
        ("IMG_0002.mov", "video/quicktime", "mov", "location", b""),
        ("VID_0003.webm", "video/webm", "webm", "LOCATION", b""),
        ("IMG_0004.mp4", "video/mp4", "mp4", "location", TRAILER),
    ],
)
def test_a_video_is_stored_without_its_metadata_and_still_plays(name, mime, muxer, tag, trailer):
    original = phone_video(muxer, {tag: POSITION, **PHONE_TAGS}) + trailer
    tracks, duration, metadata = describe(original)
    assert metadata.get(tag) == POSITION  # the phone's position is in what was sent
    assert metadata.get("creation_time", "").startswith("2026-05-01")

    item, stored = received_and_stored(name, original, mime)

    stored_tracks, stored_duration, stored_metadata = describe(stored)
    assert no_position(stored_metadata), stored_metadata
    assert "creation_time" not in stored_metadata
    assert not any("PhoneMaker" in value for value in stored_metadata.values())
    for needle in (b"+52.5200", b"PhoneMaker", b"2026-05-01", b"GPS +52"):
        assert needle not in stored
    # Remuxed, not re-encoded: the same tracks with the same packets, the same duration.
    assert stored_tracks == tracks
    assert [kind for kind, _codec, _n in tracks] == ["video", "audio"]
    assert stored_duration == pytest.approx(duration, abs=0.05)
    assert item.duration == pytest.approx(Decimal(str(duration)), abs=Decimal("0.05"))
    assert (item.width, item.height, item.content_type) == (64, 48, mime)
    # Both hashes: what was received, and what is stored.
    assert item.sha256 == hashlib.sha256(original).hexdigest()
    assert item.size == len(original)
    assert item.stored_sha256 == hashlib.sha256(stored).hexdigest() != item.sha256
    assert item.stored_size == len(stored)


def test_a_video_turned_by_the_phone_keeps_its_turn():
    original = phone_video("mp4", {"location": POSITION}, rotation=90)
    _item, stored = received_and_stored("portrait.mp4", original, "video/mp4")
    with av.open(io.BytesIO(stored)) as container:
        assert next(container.decode(video=0)).rotation == 90


def test_the_committed_fixtures_are_stored_as_remuxed_copies():
    for name, mime in (("unboxing.mp4", "video/mp4"), ("unboxing.webm", "video/webm")):
        data = video(name)
        item, stored = received_and_stored(name, data, mime)
        assert describe(stored)[0] == describe(data)[0]
        assert item.stored_sha256 == hashlib.sha256(stored).hexdigest()


def test_a_heic_photo_is_stored_as_jpeg_without_exif(settings):
    original = heic_bytes(size=(60, 40), exif=gps_exif())
    probe = Image.open(io.BytesIO(original))
    assert probe.format == "HEIF"
    assert probe.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    item, stored = received_and_stored("IMG_0005.HEIC", original, "application/octet-stream")

    assert item.kind == "photo"
    assert item.content_type == "image/jpeg"
    assert item.name.endswith(".jpg")
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert ExifTags.Base.Make not in exif
    assert b"PhoneMaker" not in stored and b"Exif" not in stored
    # Turned upright (orientation 6) before the tag went, as JPEG photos are.
    assert image.size == (item.width, item.height) == (40, 60)
    assert item.sha256 == hashlib.sha256(original).hexdigest()
    assert item.stored_sha256 == hashlib.sha256(stored).hexdigest()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("big.jpg", lambda: jpeg_bytes(size=(2000, 1200))),
        ("big.heic", lambda: heic_bytes(size=(2000, 1200))),
    ],
)
def test_a_photo_over_the_pixel_limit_is_refused_as_a_bomb(settings, name, data):
    settings.PORTAL_EVIDENCE_MAX_PIXELS = 1_000_000
    stored, (rejection,) = evidence_store(files=[upload(name, data())], allowed=10)
    assert stored == []
    assert "too many pixels" in rejection.reason


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(settings):
    settings.PORTAL_EVIDENCE_DRAFT_MIN_SIDE = 300
    (big,), _ = evidence_store(files=[upload("big.jpg", jpeg_bytes(size=(800, 600)))], allowed=10)
    (small,), _ = evidence_store(files=[upload("ok.jpg", jpeg_bytes(size=(590, 440)))], allowed=10)
    # Half size keeps the long side at least 300; a photo not twice that is decoded whole.
    assert (big.width, big.height) == (400, 300)
    assert (small.width, small.height) == (590, 440)


def test_no_more_decodes_at_once_than_the_setting(settings, monkeypatch):
    settings.PORTAL_EVIDENCE_DECODES_AT_ONCE = 1
    busy = 0
    most = 0
    lock = threading.Lock()
    real = evidence.services.open_image

    def counting(name, stream):
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
        time.sleep(0.05)
        try:
            return real(name, stream)
        finally:
            with lock:
                busy -= 1

    monkeypatch.setattr(evidence.services, "open_image", counting)
    results = []

    def send(index: int) -> None:
        results.append(
            evidence_store(files=[upload(f"p{index}.jpg", jpeg_bytes((640, 480)))], allowed=10)
        )

    threads = [threading.Thread(target=send, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [len(stored) for stored, _rejected in results] == [1, 1, 1, 1]
    assert most == 1


@pytest.mark.django_db
def test_a_video_gets_a_poster_frame(alice, bobs_store, django_capture_on_commit_callbacks):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=2))
    portrait = phone_video("mp4", {"location": POSITION}, rotation=90, size=(96, 64))
    with django_capture_on_commit_callbacks(execute=True):
        dispute = dispute_open(
            line=order.lines.first(),
            buyer=alice,
            request=DisputeRequest(
                received=True,
                reason="damaged",
                description="The screen is cracked across.",
                quantity=1,
                requested_outcome="refund_only",
                requested_amount=Decimal("10.00"),
            ),
            files=[
                upload("crack.mp4", portrait, "video/mp4"),
                upload("unboxing.webm", video("unboxing.webm"), "video/webm"),
            ],
        ).dispute
    for item in dispute.evidence.all():
        assert item.thumbnail, f"{item.original_name} has no poster frame"
        with default_storage.open(item.thumbnail.name, "rb") as handle:
            poster = Image.open(io.BytesIO(handle.read()))
        assert poster.format == "JPEG"
        if item.original_name == "crack.mp4":
            assert poster.size == (64, 96)  # turned as the player shows it
            # A frame of the video: the colours phone_video paints, not black.
            assert poster.convert("RGB").getpixel((32, 48))[1] > 80
        else:
            assert poster.size == (64, 48)
