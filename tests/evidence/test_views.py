"""Evidence URLs and uploads as every persona, and what the files are served with."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from disputes.services import DisputeRequest, dispute_open
from disputes.states import EventKind
from evidence.models import Evidence
from evidence.services import EvidenceError, evidence_hide
from tests.evidence.corpus import bad_files, upload, video
from tests.factories import DRESS_LINES, make_order, photo

pytestmark = pytest.mark.django_db
PERSONAS = ["alice", "carol", "bob", "dave", "sam", "anonymous"]


@pytest.fixture
def dispute(alice, bobs_store, django_capture_on_commit_callbacks):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        return dispute_open(
            line=order.lines.first(),
            buyer=alice,
            request=DisputeRequest(
                received=True,
                reason="damaged",
                description="Torn seam and a stain on the front.",
                quantity=1,
                requested_outcome="refund_only",
                requested_amount=Decimal("45.00"),
            ),
            files=[photo("torn.jpg"), upload("unboxing.mp4", video("unboxing.mp4"), "video/mp4")],
        ).dispute


def test_opening_requires_a_photo_unless_nothing_arrived(client_for, alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    line = order.lines.get()
    data = {
        "received": "yes",
        "reason": "damaged",
        "description": "Broken in two on arrival.",
        "requested_outcome": "refund_only",
        "quantity": "1",
        "amount_choice": "full",
    }
    client = client_for("alice")
    response = client.post(reverse("disputes:open", args=[line.pk]), data)
    assert response.status_code == 400
    assert "Add at least one photo or video" in response.content.decode()
    assert 'value="Broken in two on arrival."' in response.content.decode() or (
        "Broken in two on arrival." in response.content.decode()
    )
    # Only bad files: the reason of each is named, nothing is opened or stored.
    response = client.post(
        reverse("disputes:open", args=[line.pk]),
        {**data, "evidence": [bad_files()["PHP as an image"][0]]},
    )
    assert response.status_code == 400
    assert "shell.jpg: PHP files are not accepted" in response.content.decode()
    assert not Evidence.objects.exists()
    # Nothing arrived: no photo needed.
    response = client.post(
        reverse("disputes:open", args=[line.pk]),
        {**data, "received": "no", "reason": "not_received"},
    )
    assert response.status_code == 302


@pytest.mark.parametrize("who", PERSONAS)
def test_evidence_files_only_for_the_parties_and_staff(who, client_for, dispute):
    item = dispute.evidence.get(kind="photo")
    client = client_for(who)
    for name in ("disputes:evidence_file", "disputes:evidence_thumbnail"):
        url = reverse(name, args=[dispute.pk, item.pk])
        response = client.get(url, follow=True)
        if who == "anonymous":
            assert response.redirect_chain[0][0].startswith(reverse("login"))
        elif who in ("alice", "bob", "sam"):
            assert response.status_code == 200
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Type"] == "image/jpeg"
            assert response["Content-Disposition"].startswith("inline; filename=")
            assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
        else:
            assert response.status_code == 404


def test_evidence_of_another_dispute_is_not_reachable_through_mine(
    client_for, dispute, carol, bobs_store
):
    order = make_order(buyer=carol, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    hers = dispute_open(
        line=order.lines.get(),
        buyer=carol,
        request=DisputeRequest(
            True, "damaged", "Cracked screen, see photo.", 1, "refund_only", Decimal("10.00")
        ),
        files=[photo("cracked.jpg")],
    ).dispute
    item = hers.evidence.get()
    url = reverse("disputes:evidence_file", args=[dispute.pk, item.pk])
    assert client_for("alice").get(url).status_code == 404


@pytest.mark.parametrize("who", PERSONAS)
def test_adding_evidence_as_each_persona(who, client_for, dispute):
    before = Evidence.objects.count()
    response = client_for(who).post(
        reverse("disputes:evidence_add", args=[dispute.pk]), {"files": [photo("more.jpg")]}
    )
    added = Evidence.objects.count() - before
    if who == "anonymous":
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
        assert added == 0
    elif who in ("carol", "dave"):
        assert response.status_code == 404
        assert added == 0
    else:
        assert response.status_code == 302
        assert added == 1
        item = Evidence.objects.latest("id")
        assert item.party == {"alice": "buyer", "bob": "seller", "sam": "staff"}[who]
        assert dispute.events.filter(kind=EventKind.EVIDENCE_ADDED).count() == 1


def test_an_upload_keeps_the_good_files_and_names_the_refused_ones(client_for, dispute):
    response = client_for("bob").post(
        reverse("disputes:evidence_add", args=[dispute.pk]),
        {"files": [photo("packed.jpg"), bad_files()["SVG"][0]]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 file added." in html
    assert "vector.jpg: SVG files are not accepted" in html
    assert dispute.evidence.filter(party="seller").count() == 1


def test_a_party_sends_at_most_ten_files(client_for, dispute, settings):
    settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY = 3  # alice already sent 2
    response = client_for("alice").post(
        reverse("disputes:evidence_add", args=[dispute.pk]),
        {"files": [photo("a.jpg"), photo("b.jpg")]},
        follow=True,
    )
    assert "b.jpg: you have reached the limit of files" in response.content.decode()
    assert dispute.evidence.filter(party="buyer").count() == 3


def test_nothing_sent_can_be_changed_or_deleted_by_the_parties(client_for, dispute):
    item = dispute.evidence.first()
    for who in ("alice", "bob"):
        client = client_for(who)
        assert client.delete(
            reverse("disputes:evidence_file", args=[dispute.pk, item.pk])
        ).status_code in (
            404,
            405,
        )
        assert (
            client.get(reverse("admin:evidence_evidence_change", args=[item.pk])).status_code == 302
        )
    assert Evidence.objects.filter(pk=item.pk).exists()


def test_staff_hide_an_item_with_a_reason_shown_in_the_timeline(client_for, dispute, sam):
    item = dispute.evidence.get(kind="photo")
    assert evidence_hide(evidence_id=item.pk, user=sam, reason="Shows a home address.")
    url = reverse("disputes:evidence_file", args=[dispute.pk, item.pk])
    assert client_for("alice").get(url).status_code == 404
    page = client_for("bob").get(dispute.get_absolute_url()).content.decode()
    assert "Hidden by staff: Shows a home address." in page
    assert "Staff hid “torn.jpg”." in page
    assert client_for("sam").get(url).status_code == 200


def test_only_arbitrators_hide_evidence(dispute, bob):
    item = dispute.evidence.first()
    with pytest.raises(EvidenceError):
        evidence_hide(evidence_id=item.pk, user=bob, reason="I do not like it.")
    item.refresh_from_db()
    assert item.hidden_at is None


def test_the_gallery_shows_thumbnails_and_a_video_player(client_for, dispute):
    html = client_for("bob").get(dispute.get_absolute_url()).content.decode()
    photo_item = dispute.evidence.get(kind="photo")
    video_item = dispute.evidence.get(kind="video")
    assert reverse("disputes:evidence_thumbnail", args=[dispute.pk, photo_item.pk]) in html
    player = reverse("disputes:evidence_file", args=[dispute.pk, video_item.pk])
    poster = reverse("disputes:evidence_thumbnail", args=[dispute.pk, video_item.pk])
    assert f'<video controls preload="metadata" poster="{poster}" src="{player}"' in html
    photo_item.refresh_from_db()
    video_item.refresh_from_db()
    # Made by the task after commit: the photo scaled down, the video's poster frame.
    assert photo_item.thumbnail.name.startswith("thumbnails/")
    assert video_item.thumbnail.name.startswith("thumbnails/")


def test_an_arbitrator_hides_an_item_through_the_admin_page(client_for, dispute):
    item = dispute.evidence.get(kind="photo")
    url = reverse("admin:evidence_evidence_change", args=[item.pk])
    client = client_for("sam")
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="hidden_reason"' in page.content.decode()
    response = client.post(url, {"hidden_reason": "Shows the buyer's face."})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.hidden_reason == "Shows the buyer's face." and item.hidden_at is not None
    assert dispute.events.filter(kind=EventKind.EVIDENCE_HIDDEN).count() == 1
    # Once hidden, nothing more can be changed.
    assert 'name="hidden_reason"' not in client.get(url).content.decode()
