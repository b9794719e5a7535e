"""Files sent with a refused questionnaire are kept for the buyer who sent them (item 3).

A description in another script, an amount too high: the page says what to fix and shows
the photos and videos as already sent; the corrected questionnaire opens the dispute with
them, without a new upload. They are checked and cleaned exactly as evidence is, belong to
their sender only, count toward the dispute's limit, are attached in the transaction that
opens the dispute, and are deleted by the beat sweep once their time has run out."""

from __future__ import annotations

import html as html_lib
import re
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from disputes.models import Dispute
from disputes.outcomes import Change
from disputes.services import DisputeRequest, dispute_open
from disputes.services.opening import dispute_hold_files
from evidence.models import Evidence, HeldFile
from evidence.services import evidence_sweep_held
from evidence.tasks import sweep_expired_held_files
from portal.celery import app
from tests.evidence.corpus import bad_files, gps_exif, jpeg_bytes, upload, video
from tests.factories import DRESS_LINES, make_order, photo

pytestmark = pytest.mark.django_db

CYRILLIC = "Платье порвано по шву, верните деньги"
DESCRIPTION = "The dress is torn along the seam, see the unpacking video."


# --- helpers ------------------------------------------------------------------------------------
def unboxing(size: int = 3_000_000) -> bytes:
    """The fixture MP4 padded with a 'free' box: a real video of exactly ``size`` bytes."""
    data = video("unboxing.mp4")
    padding = size - len(data)
    return data + struct.pack(">I", padding) + b"free" + b"\0" * (padding - 8)


def questionnaire(**changes) -> dict:
    data = {
        "received": "yes",
        "reason": "damaged",
        "description": DESCRIPTION,
        "requested_outcome": "refund_only",
        "quantity": "1",
        "amount_choice": "full",
        "requested_amount": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def held_on(html: str) -> list[int]:
    """The ids of the files the page shows as already sent (as the form posts them back)."""
    return [int(pk) for pk in re.findall(r'<input type="hidden" name="held" value="(\d+)"', html)]


def stored(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def files_on_disk() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def order(alice, bobs_store):
    return make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=2),
    )


@pytest.fixture
def red(order):
    return order.lines.order_by("id")[0]


@pytest.fixture
def blue(order):
    return order.lines.order_by("id")[1]


@pytest.fixture
def carols_line(carol, bobs_store):
    order = make_order(buyer=carol, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    return order.lines.get()


@pytest.fixture
def refused(client, alice, red, django_capture_on_commit_callbacks):
    """Alice sent a photo and a 3 MB unpacking video with a description in Cyrillic."""
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:open", args=[red.pk]),
            {
                **questionnaire(description=CYRILLIC),
                "evidence": [
                    photo("torn-seam.jpg", size=(800, 600)),
                    upload("unboxing.mp4", unboxing(), "video/mp4"),
                ],
            },
        )
    return response


# --- the walk: refused, corrected, opened with the files ----------------------------------------
def test_a_refused_questionnaire_keeps_the_files_and_the_corrected_one_attaches_them(
    client, alice, red, refused, django_capture_on_commit_callbacks
):
    page = text(refused)
    assert refused.status_code == 400
    assert "not in the Latin alphabet" in page
    # Nothing to choose again: both files are shown as already sent, with name and size
    # (decimal units: 3,000,000 bytes is "3 MB"), a preview and a box to leave one out.
    assert "please choose your photos and videos again" not in page
    assert "Already sent: 2 files" in page
    assert "torn-seam.jpg" in page and "unboxing.mp4" in page
    assert '<span class="held-size">3 MB</span>' in page
    ids = held_on(page)
    assert len(ids) == 2
    for pk in ids:
        assert reverse("evidence:held_thumbnail", args=[pk]) in page or (
            reverse("evidence:held_file", args=[pk]) in page
        )
        assert f'name="remove_held" value="{pk}"' in page
    assert "Add more photos or videos" in page
    assert not Dispute.objects.filter(line=red).exists()
    assert not Evidence.objects.exists()
    held = {row.original_name: row for row in HeldFile.objects.filter(owner=alice)}
    assert set(held) == {"torn-seam.jpg", "unboxing.mp4"}
    assert held["unboxing.mp4"].received_size == 3_000_000
    assert held["torn-seam.jpg"].thumbnail, "the preview was made after the commit"

    # The buyer fixes the description and sends again, choosing no file.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:open", args=[red.pk]), {**questionnaire(), "held": ids}
        )
    dispute = Dispute.objects.get(line=red)
    assert response.status_code == 302 and response.url == dispute.get_absolute_url()
    items = {item.original_name: item for item in dispute.evidence.all()}
    assert set(items) == {"torn-seam.jpg", "unboxing.mp4"}
    for name, item in items.items():
        # The very files checked and stored at the first send: nothing uploaded twice.
        assert item.file.name == held[name].file.name and stored(item.file.name)
        assert item.received_sha256 == held[name].received_sha256
        assert (item.party, item.uploaded_by) == ("buyer", alice)
    assert items["torn-seam.jpg"].thumbnail.name == held["torn-seam.jpg"].thumbnail.name
    assert items["unboxing.mp4"].kind == "video" and items["unboxing.mp4"].duration
    assert not HeldFile.objects.exists()
    detail = text(client.get(response.url))
    assert "Your dispute is open" in detail
    for item in items.values():
        assert f'id="evidence-{item.pk}"' in detail


def test_held_files_are_checked_and_cleaned_as_evidence_is(client, alice, red):
    """The same evidence services: type by content, metadata stripped, each refusal named."""
    client.force_login(alice)
    response = client.post(
        reverse("disputes:open", args=[red.pk]),
        {
            **questionnaire(description=CYRILLIC),
            "evidence": [
                upload("at-home.jpg", jpeg_bytes(size=(64, 48), exif=gps_exif())),
                bad_files()["PHP as an image"][0],
            ],
        },
    )
    page = text(response)
    assert response.status_code == 400
    assert "Not added: shell.jpg: PHP files are not accepted" in page
    (kept,) = HeldFile.objects.filter(owner=alice)
    assert kept.original_name == "at-home.jpg"
    with default_storage.open(kept.file.name, "rb") as stored_copy:
        image = Image.open(stored_copy)
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info
    assert len(files_on_disk()) == 1, "the refused file was never stored"


def test_a_file_can_be_removed_before_sending(
    client, alice, red, refused, django_capture_on_commit_callbacks
):
    photo_id, video_id = held_on(text(refused))
    video = HeldFile.objects.get(pk=video_id)
    # Ticked "Remove", and the description still wrong: the video is gone, the photo stays.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("disputes:open", args=[red.pk]),
            {
                **questionnaire(description=CYRILLIC),
                "held": [photo_id, video_id],
                "remove_held": [video_id],
            },
        )
    page = text(response)
    assert response.status_code == 400
    assert not stored(video.file.name) and not stored(video.thumbnail.name)
    assert held_on(page) == [photo_id]
    assert "Already sent: 1 file" in page and "unboxing.mp4" not in page
    assert not HeldFile.objects.filter(pk=video_id).exists()
    assert client.get(reverse("evidence:held_file", args=[video_id])).status_code == 404
    response = client.post(
        reverse("disputes:open", args=[red.pk]), {**questionnaire(), "held": [photo_id]}
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(line=red)
    assert [item.original_name for item in dispute.evidence.all()] == ["torn-seam.jpg"]


def test_removing_a_file_and_sending_leaves_it_out(client, alice, red, refused):
    photo_id, video_id = held_on(text(refused))
    response = client.post(
        reverse("disputes:open", args=[red.pk]),
        {**questionnaire(), "held": [photo_id, video_id], "remove_held": [video_id]},
    )
    assert response.status_code == 302
    assert [i.original_name for i in Dispute.objects.get(line=red).evidence.all()] == [
        "torn-seam.jpg"
    ]


def test_the_preview_is_for_its_sender_only(client_for, alice, refused, persona):
    ids = held_on(text(refused))
    for pk in ids:
        for name in ("held_file", "held_thumbnail"):
            url = reverse(f"evidence:{name}", args=[pk])
            assert client_for("alice").get(url).status_code in (200, 302)
            for who in ("carol", "bob", "dave", "sam"):
                assert client_for(who).get(url).status_code == 404, (who, url)
            client_for("anonymous").logout()
            response = client_for("anonymous").get(url)
            assert response.status_code == 302 and response.url.startswith(reverse("login"))
    served = client_for("alice").get(reverse("evidence:held_file", args=[ids[0]]))
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "private" in served["Cache-Control"]


def test_another_buyer_cannot_attach_a_held_file(client, alice, carol, refused, carols_line):
    alices = held_on(text(refused))
    client.force_login(carol)
    page = client.get(reverse("disputes:open", args=[carols_line.pk]))
    assert held_on(text(page)) == [] and "torn-seam.jpg" not in text(page)
    response = client.post(
        reverse("disputes:open", args=[carols_line.pk]),
        {**questionnaire(), "held": alices},
    )
    page = text(response)
    assert response.status_code == 400
    assert "no longer kept" in page
    assert "torn-seam.jpg" not in page and held_on(page) == []
    assert not Dispute.objects.filter(line=carols_line).exists()
    # Alice's files are hers still, untouched.
    assert HeldFile.objects.filter(pk__in=alices, owner=alice).count() == 2
    assert not Evidence.objects.exists()


def test_a_held_file_belongs_to_the_questionnaire_it_was_sent_with(client, alice, red, blue):
    """Held for the red dress: not offered on, nor attachable to, the blue one."""
    client.force_login(alice)
    response = client.post(
        reverse("disputes:open", args=[red.pk]),
        {**questionnaire(description=CYRILLIC), "evidence": [photo("red.jpg")]},
    )
    (pk,) = held_on(text(response))
    assert held_on(text(client.get(reverse("disputes:open", args=[blue.pk])))) == []
    response = client.post(
        reverse("disputes:open", args=[blue.pk]), {**questionnaire(), "held": pk}
    )
    assert response.status_code == 400 and not Dispute.objects.exists()


def test_held_files_count_toward_the_dispute_limit(client, alice, red, settings):
    settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY = 3
    client.force_login(alice)
    url = reverse("disputes:open", args=[red.pk])
    first = client.post(
        url,
        {**questionnaire(description=CYRILLIC), "evidence": [photo("a.jpg"), photo("b.jpg")]},
    )
    assert len(held_on(text(first))) == 2
    second = client.post(
        url,
        {
            **questionnaire(description=CYRILLIC),
            "held": held_on(text(first)),
            "evidence": [photo("c.jpg"), photo("d.jpg")],
        },
    )
    page = text(second)
    assert "d.jpg: you have reached the limit of files for this dispute." in page
    assert len(held_on(page)) == 3
    response = client.post(url, {**questionnaire(), "held": held_on(page)})
    assert response.status_code == 302
    assert Dispute.objects.get(line=red).evidence.count() == 3


def test_a_person_holds_only_so_many_files_across_forms(client, alice, red, blue, settings):
    settings.PORTAL_EVIDENCE_HOLD_MAX_FILES = 2
    client.force_login(alice)
    client.post(
        reverse("disputes:open", args=[red.pk]),
        {**questionnaire(description=CYRILLIC), "evidence": [photo("a.jpg"), photo("b.jpg")]},
    )
    response = client.post(
        reverse("disputes:open", args=[blue.pk]),
        {**questionnaire(description=CYRILLIC), "evidence": [photo("c.jpg")]},
    )
    assert "c.jpg: you have too many files waiting in unfinished forms" in text(response)
    assert HeldFile.objects.filter(owner=alice).count() == 2


def test_a_failed_opening_loses_nothing(alice, red, refused, monkeypatch):
    """The files become evidence in the transaction that opens the dispute: if it rolls
    back, they are still held and still stored; a new file sent with it is deleted."""
    ids = held_on(text(refused))
    names = set(HeldFile.objects.values_list("file", flat=True))

    def broken(self, **kwargs):
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr(Change, "flush", broken)
    request = DisputeRequest(True, "damaged", DESCRIPTION, 1, "refund_only", red.amount_paid)
    before = set(files_on_disk())
    with pytest.raises(RuntimeError):
        dispute_open(line=red, buyer=alice, request=request, held=ids, files=[photo("new.jpg")])
    assert not Dispute.objects.exists() and not Evidence.objects.exists()
    assert set(HeldFile.objects.values_list("pk", flat=True)) == set(ids)
    assert all(stored(name) for name in names)
    assert set(files_on_disk()) == before, "the new file was deleted again"


def test_a_second_send_of_the_same_form_attaches_nothing_twice(client, alice, red, refused):
    ids = held_on(text(refused))
    url = reverse("disputes:open", args=[red.pk])
    assert client.post(url, {**questionnaire(), "held": ids}).status_code == 302
    again = client.post(url, {**questionnaire(), "held": ids})
    assert again.status_code == 302  # to the dispute it opened
    assert Evidence.objects.count() == 2 and not HeldFile.objects.exists()


# --- time runs out ------------------------------------------------------------------------------
def test_an_expired_hold_is_no_longer_offered_nor_attached(client, alice, red, refused):
    ids = held_on(text(refused))
    HeldFile.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = text(client.get(reverse("disputes:open", args=[red.pk])))
    assert held_on(page) == [] and "Already sent" not in page
    assert client.get(reverse("evidence:held_file", args=[ids[0]])).status_code == 404
    response = client.post(
        reverse("disputes:open", args=[red.pk]), {**questionnaire(), "held": ids}
    )
    assert response.status_code == 400
    assert "no longer kept" in text(response)
    assert not Dispute.objects.exists()


def test_the_hold_lasts_the_duration_in_settings(client, alice, red, settings):
    settings.PORTAL_EVIDENCE_HOLD = timedelta(hours=5)
    client.force_login(alice)
    before = timezone.now()
    client.post(
        reverse("disputes:open", args=[red.pk]),
        {**questionnaire(description=CYRILLIC), "evidence": [photo()]},
    )
    row = HeldFile.objects.get()
    assert before + timedelta(hours=5) <= row.expires_at <= timezone.now() + timedelta(hours=5)


def test_the_beat_sweep_deletes_expired_holds_and_their_files(
    client, alice, red, blue, refused, django_capture_on_commit_callbacks
):
    expired = list(HeldFile.objects.all())
    names = [name for row in expired for name in (row.file.name, row.thumbnail.name) if name]
    assert names and all(stored(name) for name in names)
    HeldFile.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    # A hold on the blue dress that has not run out is left alone.
    fresh = dispute_hold_files(line=blue, buyer=alice, files=[photo("fresh.jpg")]).held[0]

    entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-expired-held-files"]
    assert entry["task"] == sweep_expired_held_files.name
    assert entry["task"] in app.tasks
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_expired_held_files.delay().get() == 2
    assert list(HeldFile.objects.all()) == [fresh]
    assert not any(stored(name) for name in names)
    assert stored(fresh.file.name)
    # Safe to run twice: nothing left to do, nothing broken.
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_expired_held_files.delay().get() == 0
        assert evidence_sweep_held(now=timezone.now()) == 0
    assert list(HeldFile.objects.all()) == [fresh]
    page = text(client.get(reverse("disputes:open", args=[red.pk])))
    assert "Already sent" not in page


def test_the_sweep_works_in_batches(alice, blue):
    for _ in range(3):
        dispute_hold_files(line=blue, buyer=alice, files=[photo()])
    later = timezone.now() + django_settings.PORTAL_EVIDENCE_HOLD + timedelta(seconds=1)
    assert evidence_sweep_held(now=later, batch_size=2) == 3
    assert not HeldFile.objects.exists()
