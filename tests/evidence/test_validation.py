"""Files are judged by what they are: each bad one refused with its own reason, nothing of
it stored; good photos come out without their EXIF (no GPS)."""

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import ExifTags, Image

from evidence.services import evidence_store
from evidence.validators import EvidenceRejected, probe_video, sniff
from tests.evidence.corpus import bad_files, gps_exif, jpeg_bytes, upload, video

BAD = bad_files()


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_file_is_refused_with_its_own_reason(case, settings):
    file, words = BAD[case]
    stored, rejected = evidence_store(files=[file], allowed=10)
    assert stored == []
    (rejection,) = rejected
    assert rejection.name == file.name
    assert words in rejection.reason, rejection.reason
    assert stored_files(settings) == []


def test_the_reasons_are_all_different():
    reasons = {evidence_store(files=[f], allowed=10)[1][0].reason for f, _ in bad_files().values()}
    assert len(reasons) >= 9


def test_an_oversized_photo_is_refused_before_it_is_read(settings):
    settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES = 1024
    big = upload("big.jpg", jpeg_bytes(size=(400, 300)))
    assert big.size > 1024
    stored, (rejection,) = evidence_store(files=[big], allowed=10)
    assert stored == []
    assert "can be at most 0 MB" in rejection.reason or "at most" in rejection.reason
    assert stored_files(settings) == []


def test_good_files_are_kept_when_others_in_the_same_upload_are_refused(settings):
    files = [
        upload("good.jpg", jpeg_bytes()),
        BAD["PHP as an image"][0],
        upload("unboxing.webm", video("unboxing.webm"), "video/webm"),
    ]
    stored, rejected = evidence_store(files=files, allowed=10)
    assert [s.original_name for s in stored] == ["good.jpg", "unboxing.webm"]
    assert [r.name for r in rejected] == ["shell.jpg"]
    assert len(stored_files(settings)) == 2


@pytest.mark.parametrize(
    ("name", "mime", "codec"),
    [
        ("unboxing.mp4", "video/mp4", "AVC"),
        ("unboxing.mov", "video/quicktime", "AVC"),
        ("unboxing.webm", "video/webm", "VP8"),
    ],
)
def test_videos_are_probed_for_duration_size_and_codec(name, mime, codec):
    stored, rejected = evidence_store(
        files=[upload(name, video(name), "application/x-whatever")], allowed=10
    )
    assert rejected == []
    (item,) = stored
    assert (item.kind, item.content_type, item.codec) == ("video", mime, codec)
    assert (item.width, item.height) == (64, 48)
    assert item.duration == 1
    assert item.name.startswith("evidence/") and item.name.endswith(name.rsplit(".", 1)[1])
    assert name not in item.name  # random keys, never the sender's name


def test_a_video_whose_picture_is_missing_is_refused(tmp_path):
    broken = tmp_path / "x.mp4"
    data = video("unboxing.mp4")
    broken.write_bytes(data[:40] + b"\x00" * (len(data) - 40))
    with pytest.raises(EvidenceRejected, match="damaged"):
        _kind, _mime = sniff("x.mp4", io.BytesIO(broken.read_bytes()), broken.stat().st_size)
        probe_video("x.mp4", str(broken))


def test_a_photo_with_a_gps_tag_is_stored_without_it(settings):
    original = jpeg_bytes(size=(60, 40), exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    (item,), rejected = evidence_store(files=[upload("IMG_0001.jpg", original)], allowed=10)
    assert rejected == []
    with default_storage.open(item.name, "rb") as handle:
        data = handle.read()
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert ExifTags.Base.Make not in exif
    assert b"PhoneMaker" not in data
    # Turned upright from the EXIF orientation before the tag was dropped.
    assert image.size == (40, 60)
    # What was received is what the hash and size describe.
    import hashlib

    assert item.sha256 == hashlib.sha256(original).hexdigest()
    assert item.size == len(original)


def test_no_more_files_than_allowed(settings):
    files = [upload(f"p{i}.jpg", jpeg_bytes()) for i in range(3)]
    stored, rejected = evidence_store(files=files, allowed=2)
    assert len(stored) == 2
    assert [r.name for r in rejected] == ["p2.jpg"]
    assert "limit of files" in rejected[0].reason
