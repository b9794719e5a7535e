"""The two-dress scenario in Chromium: the buyer disputes one dress, the seller offers a
partial refund, the buyer counters, the seller accepts, and the timeline tells the story."""

import os

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from disputes.models import Dispute
from disputes.states import DisputeState, OutcomeType
from orders.models import Order
from tests.e2e.test_buyer_orders import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dispute_one_dress_negotiate_and_agree(
    live_server, page: Page, browser: Browser, screenshots_dir, tmp_path
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__colour="Red")
    red, blue = order.lines.order_by("id")
    page.set_viewport_size({"width": 1280, "height": 1000})

    # The buyer opens a dispute on the red dress only.
    login(page, live_server.url, "alice")
    page.locator(f"#line-{red.pk}").get_by_role("button", name="Open dispute").click()
    expect(page.get_by_role("heading", name="Open a dispute")).to_be_visible()
    page.get_by_label("Yes, it arrived").check()
    page.get_by_label("What is the problem?").select_option("not_as_described")
    page.get_by_label("Describe the problem").fill("Платье не того цвета")
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("not in the Latin alphabet")).to_be_visible()
    expect(page.get_by_label("Describe the problem")).to_have_value("Платье не того цвета")
    page.screenshot(path=f"{screenshots_dir}/dispute-1-script-refused.png", full_page=True)

    page.get_by_label("Describe the problem").fill(
        "The dress is orange, not red as in the listing photos."
    )
    page.get_by_label("Partial refund").check()
    page.get_by_label("Amount you ask for").fill("30.00")
    photo = tmp_path / "orange-dress.jpg"
    Image.new("RGB", (640, 480), (235, 120, 30)).save(photo, "JPEG")
    page.locator("input[name=evidence]").set_input_files([str(photo)])
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible()
    expect(page.locator("#clock")).to_contain_text("The seller has")
    expect(page.locator("#clock")).to_contain_text("If the seller does not answer by")
    page.screenshot(path=f"{screenshots_dir}/dispute-2-opened.png", full_page=True)
    dispute = Dispute.objects.get(line=red)

    # The other dress is unaffected.
    page.goto(f"{live_server.url}/orders/")
    expect(page.locator(f"#line-{red.pk}")).to_contain_text(f"Dispute #{dispute.pk}")
    expect(
        page.locator(f"#line-{blue.pk}").get_by_role("button", name="Open dispute")
    ).to_be_visible()
    page.screenshot(path=f"{screenshots_dir}/dispute-3-my-orders.png", full_page=True)

    # The seller proposes a partial refund from the dashboard, in another browser session.
    seller = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="UTC")
    spage = seller.new_page()
    login(spage, live_server.url, "bob")
    spage.goto(f"{live_server.url}/seller/disputes/")
    expect(spage.locator(f"#dispute-{dispute.pk}")).to_contain_text("Waiting for the seller")
    spage.screenshot(path=f"{screenshots_dir}/dispute-4-seller-list.png", full_page=True)
    spage.locator(f"#dispute-{dispute.pk}").get_by_role("link").first.click()
    spage.get_by_text("Propose another solution").click()
    spage.get_by_label("Partial refund").check()
    spage.get_by_label("Amount").fill("10.00")
    spage.get_by_label("Explain").fill("The colour varies with the light; we can offer 10.")
    spage.get_by_role("button", name="Send the proposal").click()
    expect(spage.get_by_text("Your proposal was sent")).to_be_visible()

    # The buyer counters with 20.
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    expect(page.locator("#proposal")).to_contain_text("Partial refund: 10.00 USD")
    expect(page.locator("#clock")).to_contain_text("Time left to agree")
    page.get_by_text("Make a counter-proposal").click()
    page.get_by_label("Partial refund").check()
    page.get_by_label("Amount").fill("20.00")
    page.get_by_label("Explain").fill("It is clearly orange. 20 and we are done.")
    page.get_by_role("button", name="Send the proposal").click()
    expect(page.get_by_text("Your proposal was sent")).to_be_visible()
    page.screenshot(path=f"{screenshots_dir}/dispute-5-countered.png", full_page=True)

    # The seller accepts the counter.
    spage.reload()
    expect(spage.locator("#proposal")).to_contain_text("20.00 USD")
    spage.get_by_role("button", name="Accept the buyer's counter-proposal").click()
    expect(spage.get_by_text("You accepted")).to_be_visible()
    seller.close()

    # The buyer reads the whole story.
    page.reload()
    expect(page.locator(".outcome")).to_contain_text("Partial refund, 20.00 USD")
    timeline = page.locator(".timeline li")
    expect(timeline).to_have_count(6)  # with the refund leaving for the gateway
    expect(page.locator(".timeline")).to_contain_text("opened a dispute")
    expect(page.locator(".timeline")).to_contain_text("accepted the proposal")
    page.screenshot(path=f"{screenshots_dir}/dispute-6-resolved.png", full_page=True)

    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.outcome_type, str(dispute.outcome_amount)) == (
        OutcomeType.PARTIAL_REFUND,
        "20.00",
    )
