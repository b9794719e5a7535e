"""A buyer in Chromium opens a dispute with an iPhone's HEIC photo and an MP4 that both
carry the phone's GPS position; the seller downloads both through the page's own links and
finds no position in either. The video shows its poster frame (issue 12, item 3)."""

import io
import os

import av
import pytest
from django.core.management import call_command
from PIL import ExifTags, Image
from playwright.sync_api import Page, expect

from disputes.models import Dispute
from orders.models import Order
from tests.e2e.test_buyer_orders import login
from tests.evidence.corpus import POSITION, gps_exif, heic_bytes, phone_video

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_position_leaves_the_buyers_phone(live_server, page: Page, screenshots_dir, tmp_path):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__product_name="Rain jacket")
    line = order.lines.get()
    photo_path = tmp_path / "IMG_0042.HEIC"
    photo_path.write_bytes(heic_bytes(size=(800, 600), exif=gps_exif()))
    video_path = tmp_path / "IMG_0043.mp4"
    video_path.write_bytes(
        phone_video(
            "mp4",
            {"location": POSITION, "creation_time": "2026-05-01T10:00:00Z"},
            seconds=2,
            size=(320, 240),
        )
    )
    with av.open(str(video_path)) as sent:
        assert sent.metadata["location"] == POSITION
    assert Image.open(photo_path).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    page.set_viewport_size({"width": 1280, "height": 1000})
    login(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/lines/{line.pk}/dispute/")
    page.get_by_label("What is the problem?").select_option("damaged")
    page.get_by_label("Describe the problem").fill("The hood is torn, see the photo and video.")
    page.locator("input[name=evidence]").set_input_files([str(photo_path), str(video_path)])
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible(timeout=30000)

    dispute = Dispute.objects.get(line=line)
    photo = dispute.evidence.get(kind="photo")
    clip = dispute.evidence.get(kind="video")
    assert (photo.content_type, clip.content_type) == ("image/jpeg", "video/mp4")

    # The seller opens the dispute and follows the page's own links.
    page.context.clear_cookies()
    login(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    page.locator("#evidence").scroll_into_view_if_needed()
    photo_link = page.locator(f"#evidence-{photo.pk} a").first.get_attribute("href")
    player = page.locator(f"#evidence-{clip.pk} video")
    expect(player).to_be_visible()
    video_link = player.get_attribute("src")
    poster_link = player.get_attribute("poster")
    assert poster_link, "the video has a poster frame"

    downloaded = page.context.request.get(f"{live_server.url}{photo_link}")
    assert downloaded.ok and downloaded.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(downloaded.body()))
    assert image.format == "JPEG"
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not image.getexif()

    downloaded = page.context.request.get(f"{live_server.url}{video_link}")
    assert downloaded.ok and downloaded.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(downloaded.body())) as received:
        tags = dict(received.metadata)
        for stream in received.streams:
            tags.update(stream.metadata)
        assert [s.type for s in received.streams] == ["video", "audio"]
        assert received.duration / av.time_base == pytest.approx(2.0, abs=0.1)
    assert not [key for key in tags if "location" in key.lower() or "xyz" in key.lower()], tags
    assert "creation_time" not in tags
    assert b"+52.5200" not in downloaded.body()

    poster = page.context.request.get(f"{live_server.url}{poster_link}")
    assert poster.ok and poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.body())).size == (320, 240)
    page.wait_for_function(
        f"() => document.querySelector('#evidence-{clip.pk} video').readyState >= 1"
    )
    # The poster shows in the player until it is started.
    frame = page.locator(f"#evidence-{clip.pk}")
    frame.scroll_into_view_if_needed()
    page.screenshot(path=f"{screenshots_dir}/evidence-privacy-seller.png", full_page=True)
    frame.screenshot(path=f"{screenshots_dir}/evidence-privacy-poster.png")
    # The video's first frame is blue (40, 120, 200); the poster is the frame at 0.5 s,
    # purple (140, 120, 150): the player shows the poster, not the frame it decoded.
    red, green, blue = (
        Image.open(f"{screenshots_dir}/evidence-privacy-poster.png")
        .convert("RGB")
        .getpixel((120, 30))
    )
    assert abs(red - 140) < 20 and abs(green - 120) < 20 and abs(blue - 150) < 20, (
        red,
        green,
        blue,
    )
