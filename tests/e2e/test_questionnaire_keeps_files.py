"""The buyer's questionnaire in Chromium.

A buyer picks an unpacking video and a photo, writes the description in Cyrillic and
sends: the page refuses the description and shows both files as already sent; the buyer
writes it in English and sends again without choosing the files again, and the dispute
page shows both pieces of evidence (item 3). "No, it never arrived" leaves only a refund to
ask for (item 7), the upload's pre-check states sizes in decimal MB (item 12), and a line
that cannot be disputed says what is left, with the link (item 8).

Screenshots go to ``$QUESTIONNAIRE_SHOTS`` (e.g. /tmp/shots/questionnaire), or to the
suite's test-artifacts folder."""

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Page, expect

from disputes.models import Dispute
from disputes.services import DisputeRequest, dispute_withdraw
from disputes.states import RequestedOutcome
from evidence.models import HeldFile
from orders.models import Order
from tests.e2e.test_buyer_orders import login
from tests.factories import open_dispute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "unboxing.mp4"
CYRILLIC = "Куртка порвана по шву, молния сломана"
ENGLISH = "The jacket is torn along the seam and the zip is broken."


@pytest.fixture
def shots(screenshots_dir) -> str:
    path = os.environ.get("QUESTIONNAIRE_SHOTS") or screenshots_dir
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def rain_jacket(live_server, page: Page):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__product_name="Rain jacket")
    page.set_viewport_size({"width": 1280, "height": 1000})
    login(page, live_server.url, "alice")
    return order.lines.get()


def jpeg(path: Path, size=(800, 600), pad_to: int = 0) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(buffer, "JPEG")
    data = buffer.getvalue()
    path.write_bytes(data + b"\0" * max(pad_to - len(data), 0))
    return path


def test_a_refused_questionnaire_keeps_the_files(
    live_server, page: Page, rain_jacket, shots, tmp_path
):
    line = rain_jacket
    photo_path = jpeg(tmp_path / "torn-seam.jpg")
    page.goto(f"{live_server.url}/lines/{line.pk}/dispute/")
    page.get_by_label("What is the problem?").select_option("damaged")
    page.get_by_label("Describe the problem").fill(CYRILLIC)
    page.locator("input[name=evidence]").set_input_files([str(VIDEO), str(photo_path)])
    page.get_by_role("button", name="Open the dispute").click()

    # Refused: the description is named, and both files are shown as already sent.
    expect(page.get_by_text("not in the Latin alphabet")).to_be_visible(timeout=30000)
    held = page.locator("#held-files")
    expect(held).to_contain_text("Already sent: 2 files")
    expect(held).to_contain_text("unboxing.mp4")
    expect(held).to_contain_text("torn-seam.jpg")
    rows = {row.original_name: row for row in HeldFile.objects.all()}
    assert set(rows) == {"unboxing.mp4", "torn-seam.jpg"}
    expect(page.locator(f"#held-{rows['torn-seam.jpg'].pk} img")).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#held-{rows['torn-seam.jpg'].pk} img').naturalWidth > 0"
    )
    # The video's preview: its poster frame (made after the commit) or the player.
    page.wait_for_function(
        f"""() => {{
            const box = document.querySelector('#held-{rows["unboxing.mp4"].pk}');
            const img = box.querySelector('img'), video = box.querySelector('video');
            return (img && img.naturalWidth > 0) || (video && video.readyState >= 1);
        }}"""
    )
    expect(page.locator(f"#held-{rows['unboxing.mp4'].pk}")).to_contain_text("2.9 kB")
    expect(page.get_by_label("Describe the problem")).to_have_value(CYRILLIC)
    assert page.evaluate("document.querySelector('input[name=evidence]').files.length") == 0
    assert not Dispute.objects.filter(line=line).exists()
    page.locator("#open-dispute").screenshot(path=f"{shots}/1-refused-files-kept.png")
    page.screenshot(path=f"{shots}/1-refused-page.png", full_page=True)

    # Corrected and sent again, without choosing any file.
    page.get_by_label("Describe the problem").fill(ENGLISH)
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible(timeout=30000)

    dispute = Dispute.objects.get(line=line)
    photo_item = dispute.evidence.get(kind="photo")
    video_item = dispute.evidence.get(kind="video")
    assert (photo_item.original_name, video_item.original_name) == ("torn-seam.jpg", "unboxing.mp4")
    assert not HeldFile.objects.exists()
    expect(page.locator(f"#evidence-{photo_item.pk} img")).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#evidence-{photo_item.pk} img').naturalWidth > 0"
    )
    player = page.locator(f"#evidence-{video_item.pk} video")
    expect(player).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#evidence-{video_item.pk} video').readyState >= 1"
    )
    page.locator("#evidence").scroll_into_view_if_needed()
    page.screenshot(path=f"{shots}/2-dispute-with-both-files.png", full_page=True)


def test_removing_a_kept_file_before_sending(live_server, page: Page, rain_jacket, shots, tmp_path):
    line = rain_jacket
    page.goto(f"{live_server.url}/lines/{line.pk}/dispute/")
    page.get_by_label("What is the problem?").select_option("damaged")
    page.get_by_label("Describe the problem").fill(CYRILLIC)
    page.locator("input[name=evidence]").set_input_files(
        [str(jpeg(tmp_path / "keep.jpg")), str(jpeg(tmp_path / "wrong-photo.jpg"))]
    )
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator("#held-files")).to_contain_text("Already sent: 2 files", timeout=30000)
    # One more through "Add more photos or videos", still refused: sent once, kept with the
    # others.
    page.get_by_label("Add more photos or videos").set_input_files(
        [str(jpeg(tmp_path / "label.jpg", size=(400, 300)))]
    )
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator("#held-files")).to_contain_text("Already sent: 3 files", timeout=30000)
    assert HeldFile.objects.count() == 3
    wrong = HeldFile.objects.get(original_name="wrong-photo.jpg")
    page.get_by_label("Remove wrong-photo.jpg").check()
    expect(page.locator(f"#held-{wrong.pk}")).to_have_class("evidence held-file hidden-item")
    page.locator("#held-files").screenshot(path=f"{shots}/3-remove-ticked.png")
    page.get_by_label("Describe the problem").fill(ENGLISH)
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible(timeout=30000)
    dispute = Dispute.objects.get(line=line)
    assert sorted(item.original_name for item in dispute.evidence.all()) == [
        "keep.jpg",
        "label.jpg",
    ]


def test_never_arrived_leaves_only_a_refund(live_server, page: Page, rain_jacket, shots, tmp_path):
    line = rain_jacket
    page.goto(f"{live_server.url}/lines/{line.pk}/dispute/")
    keep = page.locator("label[data-outcome=refund_only]")
    send_back = page.locator("label[data-outcome=return_and_refund]")
    expect(keep).to_be_visible()
    expect(send_back).to_be_visible()

    # Sizes as the server says them: 15,500,000 bytes is 15.5 MB, over the 15 MB allowed.
    page.locator("input[name=evidence]").set_input_files(
        [str(jpeg(tmp_path / "huge.jpg", pad_to=15_500_000))]
    )
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator(".upload-errors")).to_have_text(
        "huge.jpg: the file is 15.5 MB; a photo can be at most 15 MB."
    )
    page.locator("input[name=evidence]").set_input_files([])

    page.get_by_label("No, it never arrived").check()
    expect(keep).to_be_hidden()
    expect(send_back).to_be_hidden()
    expect(page.locator("#refund-note")).to_be_visible()
    expect(page.get_by_label("What is the problem?")).to_have_value("not_received")
    page.locator("#field-requested_outcome").screenshot(path=f"{shots}/4-never-arrived.png")

    page.get_by_label("Yes, it arrived").check()
    expect(keep).to_be_visible()
    expect(send_back).to_be_visible()
    page.get_by_label("No, it never arrived").check()
    page.get_by_label("Describe the problem").fill(
        "The parcel never came; the tracking stopped three weeks ago."
    )
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible(timeout=30000)
    dispute = Dispute.objects.get(line=line)
    assert dispute.requested_outcome == RequestedOutcome.REFUND_ONLY
    assert not dispute.received


def test_what_is_left_when_a_dispute_cannot_be_opened(live_server, page: Page, shots):
    """A withdrawn dispute says it cannot be opened again and links to it; a closed window
    links to the complaint form for that order (item 8)."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    alice = Order.objects.filter(buyer__username="alice").first().buyer
    jacket = Order.objects.get(buyer=alice, lines__product_name="Rain jacket").lines.get()
    opened = open_dispute(
        line=jacket,
        buyer=alice,
        request=DisputeRequest(True, "damaged", ENGLISH, 1, "refund_only", jacket.amount_paid),
    )
    dispute_withdraw(dispute_id=opened.pk, user=alice)
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, live_server.url, "alice")

    page.goto(f"{live_server.url}/lines/{jacket.pk}/dispute/")
    expect(page.locator("#withdrawn")).to_contain_text("A withdrawn dispute cannot be opened again")
    page.screenshot(path=f"{shots}/5-withdrawn.png", full_page=True)
    page.get_by_role("link", name=f"See the withdrawn dispute #{opened.pk}").click()
    expect(page.get_by_role("heading", name=f"Dispute #{opened.pk}")).to_be_visible()

    tote = Order.objects.get(buyer=alice, lines__product_name="Canvas tote bag")
    page.goto(f"{live_server.url}/lines/{tote.lines.get().pk}/dispute/")
    expect(page.locator("#window-closed")).to_contain_text("The dispute window closed on")
    page.screenshot(path=f"{shots}/6-window-closed.png", full_page=True)
    page.locator("#complain").click()
    expect(page.get_by_role("heading", name="Complain about the seller")).to_be_visible()
    expect(page.locator("#complaint-form")).to_be_visible()
    expect(page.get_by_text(f"Order {tote.number}")).to_be_visible()
