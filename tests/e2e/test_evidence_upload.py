"""A buyer in Chromium opens a dispute with a photo and a short video, watches the upload
progress, and sees the thumbnail and the player."""

import io
import os
import struct

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Page, expect

from disputes.models import Dispute
from orders.models import Order
from tests.e2e.test_buyer_orders import login
from tests.evidence.corpus import video

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def padded_video(size: int) -> bytes:
    """The tiny fixture MP4 with a 'free' box appended: a real video of about ``size``."""
    data = video("unboxing.mp4")
    padding = max(size - len(data), 16)
    return data + struct.pack(">I", padding) + b"free" + b"\0" * (padding - 8)


def test_open_a_dispute_with_a_photo_and_a_video(
    live_server, page: Page, screenshots_dir, tmp_path
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__product_name="Rain jacket")
    line = order.lines.get()
    photo_path = tmp_path / "torn-sleeve.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (180, 40, 40)).save(buffer, "JPEG")
    photo_path.write_bytes(buffer.getvalue())
    video_path = tmp_path / "unboxing.mp4"
    video_path.write_bytes(padded_video(3 * 1024 * 1024))

    page.set_viewport_size({"width": 1280, "height": 1000})
    login(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/lines/{line.pk}/dispute/")
    page.get_by_label("What is the problem?").select_option("damaged")
    page.get_by_label("Describe the problem").fill("The left sleeve is torn along the seam.")

    # The pre-check refuses a file of the wrong type before anything is sent.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.locator("input[name=evidence]").set_input_files([str(notes)])
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator(".upload-errors")).to_contain_text("notes.txt: not a photo")
    assert not Dispute.objects.filter(line=line).exists()

    page.locator("input[name=evidence]").set_input_files([str(photo_path), str(video_path)])
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 1_000_000},
    )
    page.get_by_role("button", name="Open the dispute").click()
    bar = page.locator("#open-dispute progress")
    expect(bar).to_be_visible()
    page.wait_for_function(
        "() => { const p = document.querySelector('#open-dispute progress');"
        " return p && p.value > 5 && p.value < 100; }",
        timeout=20000,
    )
    page.screenshot(path=f"{screenshots_dir}/evidence-1-progress.png", full_page=True)
    expect(page.get_by_text("Your dispute is open")).to_be_visible(timeout=30000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    dispute = Dispute.objects.get(line=line)
    photo_item = dispute.evidence.get(kind="photo")
    video_item = dispute.evidence.get(kind="video")
    thumbnail = page.locator(f"#evidence-{photo_item.pk} img")
    expect(thumbnail).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#evidence-{photo_item.pk} img').naturalWidth > 0"
    )
    photo_item.refresh_from_db()
    assert photo_item.thumbnail, "the thumbnail task ran after the commit"
    player = page.locator(f"#evidence-{video_item.pk} video")
    expect(player).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#evidence-{video_item.pk} video').readyState >= 1"
    )
    assert page.evaluate(
        f"document.querySelector('#evidence-{video_item.pk} video').duration"
    ) == pytest.approx(1.0, abs=0.2)
    expect(page.locator(".timeline")).to_contain_text("opened a dispute")
    page.locator("#evidence").scroll_into_view_if_needed()
    page.screenshot(path=f"{screenshots_dir}/evidence-2-gallery.png", full_page=True)
