"""The buyer's questionnaire, walked as the buyer does (the test client): a parcel that
never arrived asks for a refund only (item 7); a withdrawn dispute and a closed window say
what is left and link to it (item 8); sizes and limits are decimal and mean what they say
(item 12). Files kept across a refused form: tests/evidence/test_held_files.py (item 3)."""

from __future__ import annotations

import html as html_lib
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from disputes.models import Dispute
from disputes.services import DisputeRequest, dispute_withdraw
from disputes.states import DisputeState, RequestedOutcome
from evidence.models import HeldFile
from evidence.sizes import over_limit_labels, size_label
from evidence.validators import EvidenceRejected, check_size
from orders.templatetags.clocks import absolute
from tests.evidence.corpus import upload
from tests.factories import DRESS_LINES, make_order, open_dispute, photo

pytestmark = pytest.mark.django_db

DESCRIPTION = "The parcel never came: tracking stopped at the border three weeks ago."


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


def outcome_choice(html: str, value: str) -> str:
    """The markup of one "What would you like?" choice: its <label> and radio."""
    match = re.search(rf'<label data-outcome="{value}"[^>]*>.*?</label>', html, re.S)
    assert match, f"no outcome choice {value}"
    return match.group(0)


def is_offered(html: str, value: str) -> bool:
    choice = outcome_choice(html, value)
    return " hidden" not in choice.split(">", 1)[0] and "disabled" not in choice


def refund_note_shown(html: str) -> bool:
    match = re.search(r'<p id="refund-note"([^>]*)>', html)
    assert match, "no refund note on the page"
    return "hidden" not in match.group(1)


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
def buyer(client, alice):
    client.force_login(alice)
    return client


# --- item 7: a parcel that never arrived can only be refunded -----------------------------------
def test_the_page_offers_both_outcomes_while_the_parcel_arrived(buyer, red):
    html = text(buyer.get(reverse("disputes:open", args=[red.pk])))
    assert is_offered(html, "refund_only") and is_offered(html, "return_and_refund")
    assert not refund_note_shown(html)
    # Said on the page without JavaScript too.
    assert "If the parcel never arrived, you can only ask for a refund." in html


def test_a_refused_not_received_form_offers_neither_keeping_nor_returning(buyer, red):
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="no", reason="not_received", description="Lost"),
    )
    html = text(response)
    assert response.status_code == 400
    assert "at least 10 characters" in html
    assert not is_offered(html, "refund_only")
    assert not is_offered(html, "return_and_refund")
    assert refund_note_shown(html)
    assert "nothing to keep or to send back" in html


def test_not_received_without_an_outcome_opens_a_refund(buyer, red):
    """As the page sends it with JavaScript: the choices are disabled, so none is posted."""
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="no", reason="not_received", requested_outcome=None),
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get(line=red)
    assert dispute.requested_outcome == RequestedOutcome.REFUND_ONLY
    assert dispute.requested_amount == red.amount_paid


def test_the_dispute_page_of_a_parcel_that_never_came_says_refund_not_keep_the_goods(buyer, red):
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="no", reason="not_received", requested_outcome=None),
    )
    html = text(buyer.get(response["Location"]))
    assert "Refund (the parcel never arrived)" in html
    assert "I keep the goods" not in html


def test_not_received_with_the_choice_left_as_it_was_opens_a_refund(buyer, red):
    """Without JavaScript the first page still shows the choices; what was left checked
    counts for nothing but a refund."""
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="no", reason="not_received", requested_outcome="refund_only"),
    )
    assert response.status_code == 302
    assert Dispute.objects.get(line=red).requested_outcome == RequestedOutcome.REFUND_ONLY


def test_not_received_with_a_return_is_refused_by_the_form(buyer, red):
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="no", reason="not_received", requested_outcome="return_and_refund"),
    )
    html = text(response)
    assert response.status_code == 400
    error = re.search(r'id="requested_outcome-error">(.*?)</small>', html, re.S)
    assert error and "Nothing can be returned if the parcel never arrived" in error.group(1)
    assert not is_offered(html, "return_and_refund") and refund_note_shown(html)
    assert not Dispute.objects.exists()


def test_the_choices_come_back_when_the_parcel_arrived_after_all(buyer, red):
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        questionnaire(received="yes", reason="damaged", description="short"),
    )
    html = text(response)
    assert is_offered(html, "refund_only") and is_offered(html, "return_and_refund")
    assert not refund_note_shown(html)


# --- item 8: what is left, said plainly, with the link ------------------------------------------
def test_a_withdrawn_dispute_says_it_cannot_be_opened_again_and_links_to_it(buyer, alice, red):
    dispute = open_dispute(
        line=red,
        buyer=alice,
        request=DisputeRequest(
            True, "damaged", "The seam is torn on the left.", 1, "refund_only", red.amount_paid
        ),
    )
    dispute = dispute_withdraw(dispute_id=dispute.pk, user=alice)
    assert dispute.state == DisputeState.WITHDRAWN
    url = reverse("disputes:open", args=[red.pk])

    response = buyer.get(url)
    html = text(response)
    assert response.status_code == 200
    assert (
        f"You withdrew your dispute about this item on {absolute(dispute.finished_at)}. "
        "A withdrawn dispute cannot be opened again" in html
    )
    assert f'href="{dispute.get_absolute_url()}"' in html
    assert f"See the withdrawn dispute #{dispute.pk}" in html
    assert "here it is" not in html
    assert 'id="open-dispute"' not in html

    response = buyer.post(url, {**questionnaire(), "evidence": [photo()]})
    assert response.status_code == 409
    assert "A withdrawn dispute cannot be opened again" in text(response)
    assert Dispute.objects.filter(line=red).count() == 1
    assert not HeldFile.objects.exists(), "nothing is kept for a form that cannot be sent"


def test_a_closed_window_links_to_the_complaint_form_for_that_order(buyer, alice, bobs_store):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=30),
        confirmed_at=timezone.now() - timedelta(days=16),
    )
    line = order.lines.order_by("id")[0]
    html = text(buyer.get(reverse("disputes:open", args=[line.pk])))
    assert "The dispute window closed on" in html
    complaint_url = reverse("complaints:open", args=[order.number])
    assert f'href="{complaint_url}"' in html
    assert "Complain about Bob's Boutique to the administration" in html
    # The link leads to the complaint form for that order and store.
    form = buyer.get(complaint_url)
    assert form.status_code == 200
    assert 'name="body"' in form.content.decode()
    assert order.number in text(form)


def test_a_window_not_yet_open_offers_no_complaint(buyer, alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store)  # paid, not shipped
    html = text(buyer.get(reverse("disputes:open", args=[order.lines.get().pk])))
    assert "once the seller has shipped" in html
    assert reverse("complaints:open", args=[order.number]) not in html


# --- item 12: decimal sizes, limits that mean what they say -------------------------------------
def test_the_limits_in_settings_are_decimal(settings):
    assert settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES == 15_000_000
    assert settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES == 200_000_000


def test_sizes_are_said_in_decimal_units():
    assert size_label(301_000_000) == "301 MB"
    assert size_label(287_100_000) == "287.1 MB"
    assert size_label(15_000_000) == "15 MB"
    assert size_label(850_000) == "850 kB"
    assert size_label(999) == "999 bytes"
    assert size_label(1_500_000_000) == "1.5 GB"
    assert over_limit_labels(200_000_001, 200_000_000) == ("200.000001 MB", "200 MB")
    with pytest.raises(EvidenceRejected) as refused:
        check_size("unboxing.mp4", "video", 301_000_000)
    assert refused.value.reason == "the file is 301 MB; a video can be at most 200 MB."
    check_size("unboxing.mp4", "video", 200_000_000)  # exactly the limit: allowed


def jpeg_of(size: int) -> bytes:
    """A real JPEG padded after its end to exactly ``size`` bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buffer, "JPEG")
    data = buffer.getvalue()
    return data + b"\0" * (size - len(data))


def test_a_photo_over_15_mb_is_refused_as_15_5_mb(buyer, red):
    """15,500,000 bytes is 14.8 MiB: the old limit (15 MiB, stated "15 MB") let it in."""
    response = buyer.post(
        reverse("disputes:open", args=[red.pk]),
        {**questionnaire(), "evidence": [upload("big.jpg", jpeg_of(15_500_000))]},
    )
    html = text(response)
    assert response.status_code == 400
    assert "big.jpg: the file is 15.5 MB; a photo can be at most 15 MB." in html
    assert not HeldFile.objects.exists()


def test_the_pages_state_the_limits_the_server_applies(buyer, alice, red, settings):
    settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES = 15_500_000
    settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES = 250_000_000
    html = text(buyer.get(reverse("disputes:open", args=[red.pk])))
    assert "JPEG, PNG, WebP, HEIC up to 15.5 MB; MP4, MOV, WebM up to 250 MB" in html
    # The upload's pre-check in the browser reads the same limits, in bytes.
    assert 'data-max-photo-bytes="15500000"' in html
    assert 'data-max-video-bytes="250000000"' in html
    dispute = open_dispute(
        line=red,
        buyer=alice,
        request=DisputeRequest(
            True, "damaged", "The seam is torn on the left.", 1, "refund_only", red.amount_paid
        ),
    )
    page = text(buyer.get(dispute.get_absolute_url()))
    assert "Photos: JPEG, PNG, WebP, HEIC up to 15.5 MB. Videos: MP4, MOV, WebM up to 250 MB" in (
        page
    )
    assert 'data-max-photo-bytes="15500000"' in page
