"""Complaints about a seller, over HTTP: only once the order's dispute windows have closed,
in English, with photos and videos kept or refused by name, listed on "My complaints" with
the staff answer, and their files served to the complaint's buyer and staff only."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint, ComplaintState
from complaints.services import complaint_answer, complaint_open
from evidence.models import Evidence
from orders.services import order_cancel
from tests.factories import UserFactory, make_order, photo

pytestmark = pytest.mark.django_db

PERSONAS = ["alice", "carol", "bob", "dave", "sam", "anonymous"]
BODY = "The seller sent a used bag and never answered my messages about it."
CYRILLIC = "Продавец прислал сумку б/у и не отвечает на сообщения"


def page_text(response) -> str:
    return html_lib.unescape(response.content.decode())


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("login"))


def textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {name}"
    return html_lib.unescape(match.group(1)).strip()


def not_a_picture(name: str = "notes.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"just some text, not a photo", content_type="text/plain")


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def closed(alice, bobs_store):
    """Alice's order from Bob: completed 16 days ago, so the 15-day post-close window is over."""
    return make_order(
        buyer=alice,
        store=bobs_store,
        shipped_at=timezone.now() - timedelta(days=30),
        confirmed_at=timezone.now() - timedelta(days=16),
    )


@pytest.fixture
def running(alice, bobs_store):
    """Shipped two days ago: protection runs, a dispute is the way."""
    return make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=2))


@pytest.fixture
def complaint(closed, alice, django_capture_on_commit_callbacks):
    """Alice's complaint about Bob with a photo (its thumbnail made after the commit)."""
    with django_capture_on_commit_callbacks(execute=True):
        made = complaint_open(
            order=closed, buyer=alice, body=BODY, files=[photo("bag.jpg")]
        ).complaint
    return made


@pytest.fixture
def item(complaint) -> Evidence:
    return complaint.evidence.get()


# --- the windows ----------------------------------------------------------------------------
def test_before_the_window_closes_the_page_points_to_a_dispute(client_for, running):
    url = reverse("complaints:open", args=[running.number])
    client = client_for("alice")

    page = client.get(url)
    assert page.status_code == 200
    text = page_text(page)
    assert "You can open a dispute until" in text
    assert "open a dispute on the item instead" in text
    assert 'id="complaint-form"' not in text

    response = client.post(url, {"body": BODY, "evidence": photo()})
    assert response.status_code == 400
    assert "open a dispute on the item instead" in page_text(response)
    assert not Complaint.objects.exists()
    assert not Evidence.objects.exists()


@pytest.mark.parametrize("stage", ["paid", "cancelled", "completed_recently"])
def test_no_complaint_while_a_dispute_can_be_opened_or_was_never_possible(
    stage, client_for, alice, bobs_store
):
    order = make_order(buyer=alice, store=bobs_store)
    if stage == "cancelled":
        order_cancel(order=order, by=alice)
    elif stage == "completed_recently":
        order = make_order(
            buyer=alice,
            store=bobs_store,
            shipped_at=timezone.now() - timedelta(days=30),
            confirmed_at=timezone.now() - timedelta(days=14),
        )
    response = client_for("alice").post(
        reverse("complaints:open", args=[order.number]), {"body": BODY}
    )
    assert response.status_code == 400
    assert not Complaint.objects.exists()


def test_after_the_window_closes_the_complaint_is_sent(client_for, closed, alice):
    url = reverse("complaints:open", args=[closed.number])
    client = client_for("alice")
    page = client.get(url)
    assert page.status_code == 200
    assert 'id="complaint-form"' in page_text(page)
    assert "data-upload" in page_text(page) and "<progress" in page_text(page)

    response = client.post(url, {"body": f"  {BODY}  ", "evidence": [photo("bag.jpg")]})
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response.url == f"{reverse('complaints:list')}#complaint-{complaint.pk}"
    assert (complaint.buyer, complaint.order, complaint.store_id) == (
        alice,
        closed,
        closed.store_id,
    )
    assert complaint.body == BODY
    assert complaint.state == ComplaintState.OPEN
    assert list(complaint.evidence.values_list("original_name", "party")) == [("bag.jpg", "buyer")]


def test_my_orders_offers_a_complaint_only_once_the_window_closed(client_for, closed, running):
    html = client_for("alice").get(reverse("dashboards:my_orders")).content.decode()
    assert reverse("complaints:open", args=[closed.number]) in html
    assert reverse("complaints:open", args=[running.number]) not in html
    assert "Complain about the seller" in html
    assert reverse("complaints:list") in html


# --- the text and the files -------------------------------------------------------------------
def test_text_in_another_script_is_refused_and_kept(client_for, closed):
    response = client_for("alice").post(
        reverse("complaints:open", args=[closed.number]),
        {"body": CYRILLIC, "evidence": [photo()]},
    )
    assert response.status_code == 400
    html = page_text(response)
    assert textarea(html, "body") == CYRILLIC
    error = re.search(r'id="body-error">(.*?)</small>', html, re.S).group(1)
    assert "not in the Latin alphabet" in error and "Cyrillic" in error
    # The photo was not stored and the page says to choose it again.
    assert "please choose your photos and videos again" in html
    assert not Complaint.objects.exists()
    assert not Evidence.objects.exists()


def test_text_in_another_script_is_accepted_when_the_setting_is_off(client_for, closed, settings):
    settings.PORTAL_REQUIRE_LATIN_DESCRIPTION = False
    response = client_for("alice").post(
        reverse("complaints:open", args=[closed.number]), {"body": CYRILLIC}
    )
    assert response.status_code == 302
    assert Complaint.objects.get().body == CYRILLIC


@pytest.mark.parametrize("body", ["", "Too short."])
def test_a_missing_or_short_text_says_so_and_keeps_it(body, client_for, closed):
    response = client_for("alice").post(
        reverse("complaints:open", args=[closed.number]), {"body": body}
    )
    assert response.status_code == 400
    html = page_text(response)
    assert 'id="body-error"' in html
    assert textarea(html, "body") == body
    assert not Complaint.objects.exists()


def test_files_are_kept_or_refused_by_name(client_for, closed):
    client = client_for("alice")
    response = client.post(
        reverse("complaints:open", args=[closed.number]),
        {"body": BODY, "evidence": [photo("box.jpg"), not_a_picture("notes.txt")]},
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert list(complaint.evidence.values_list("original_name", flat=True)) == ["box.jpg"]
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("Not added: notes.txt:")

    listing = page_text(client.get(reverse("complaints:list")))
    item = complaint.evidence.get()
    assert reverse("complaints:evidence_thumbnail", args=[complaint.pk, item.pk]) in listing


# --- My complaints ------------------------------------------------------------------------------
def test_my_complaints_lists_state_answer_and_thumbnails(client_for, complaint, item, sam):
    client = client_for("alice")
    html = page_text(client.get(reverse("complaints:list")))
    assert f'id="complaint-{complaint.pk}"' in html
    assert BODY in html and "Waiting for staff" in html
    assert complaint.order.number in html and "Bob's Boutique" in html
    assert reverse("complaints:evidence_thumbnail", args=[complaint.pk, item.pk]) in html
    assert reverse("complaints:evidence_file", args=[complaint.pk, item.pk]) in html

    complaint_answer(
        complaint_id=complaint.pk, user=sam, answer="We have warned the seller about this."
    )
    html = page_text(client.get(reverse("complaints:list")))
    assert "Answered by staff" in html
    assert "We have warned the seller about this." in html


@pytest.mark.parametrize("who", PERSONAS)
def test_my_complaints_shows_only_ones_own(who, client_for, complaint):
    response = client_for(who).get(reverse("complaints:list"))
    if who == "anonymous":
        assert is_login_redirect(response)
        return
    assert response.status_code == 200
    assert (BODY in page_text(response)) is (who == "alice")


def test_my_complaints_query_count_does_not_grow(client_for, alice, bobs_store, closed):
    complaint_open(order=closed, buyer=alice, body=BODY, files=[photo()])
    client = client_for("alice")
    url = reverse("complaints:list")
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(6):
        order = make_order(
            buyer=alice,
            store=bobs_store,
            shipped_at=timezone.now() - timedelta(days=40),
            confirmed_at=timezone.now() - timedelta(days=20),
        )
        complaint_open(order=order, buyer=alice, body=BODY, files=[photo(), photo("b.jpg")])
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(one)


# --- who may do what --------------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_complain_page_is_only_for_the_orders_buyer(who, client_for, closed):
    url = reverse("complaints:open", args=[closed.number])
    client = client_for(who)
    page = client.get(url)
    response = client.post(url, {"body": BODY})
    if who == "anonymous":
        assert is_login_redirect(page) and is_login_redirect(response)
    elif who == "alice":
        assert page.status_code == 200 and response.status_code == 302
    else:
        assert page.status_code == 404 and response.status_code == 404
    assert Complaint.objects.count() == (1 if who == "alice" else 0)


@pytest.mark.parametrize("who", PERSONAS)
@pytest.mark.parametrize("name", ["complaints:evidence_file", "complaints:evidence_thumbnail"])
def test_complaint_files_are_served_to_the_buyer_and_staff_only(
    who, name, client_for, complaint, item
):
    assert item.thumbnail  # made after the commit
    response = client_for(who).get(reverse(name, args=[complaint.pk, item.pk]))
    if who == "anonymous":
        assert is_login_redirect(response)
    elif who in ("alice", "sam"):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    else:
        # carol (another buyer), bob (the store's seller), dave (another seller)
        assert response.status_code == 404


def test_staff_without_the_complaints_permission_get_404(client, complaint, item):
    client.force_login(UserFactory(username="clerk", is_staff=True))
    for name in ("complaints:evidence_file", "complaints:evidence_thumbnail"):
        assert client.get(reverse(name, args=[complaint.pk, item.pk])).status_code == 404


def test_a_file_of_another_complaint_is_404(client_for, complaint, item, closed, alice):
    other = complaint_open(order=closed, buyer=alice, body=BODY).complaint
    url = reverse("complaints:evidence_file", args=[other.pk, item.pk])
    assert client_for("alice").get(url).status_code == 404


def test_a_hidden_file_is_for_staff_only(client_for, complaint, item, sam):
    # Staff hide a complaint's file from its buyer (admin hides only a dispute's items).
    Evidence.objects.filter(pk=item.pk).update(
        hidden_at=timezone.now(), hidden_by=sam, hidden_reason="Shows another customer's address."
    )
    url = reverse("complaints:evidence_file", args=[complaint.pk, item.pk])
    assert client_for("alice").get(url).status_code == 404
    listing = page_text(client_for("alice").get(reverse("complaints:list")))
    assert "Hidden by staff: Shows another customer's address." in listing
    assert client_for("sam").get(url).status_code == 200


@pytest.mark.parametrize("name", ["complaints:evidence_file", "complaints:evidence_thumbnail"])
def test_complaint_file_urls_refuse_post(name, client_for, complaint, item):
    response = client_for("alice").post(reverse(name, args=[complaint.pk, item.pk]))
    assert response.status_code == 405
