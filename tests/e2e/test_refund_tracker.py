"""Issue 6 in Chromium: the buyer of the demo two-dress order gets a partial refund on one
dress and follows it on the tracker; the seller sees the undisputed dress paid out and the
disputed one held, then settled."""

import os

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from disputes.models import Dispute
from disputes.states import Closing, DisputeState
from orders.models import Order
from refunds.business_days import expected_arrival
from refunds.models import GatewayCall, Refund, RefundState
from tests.e2e.test_buyer_orders import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def day(value) -> str:
    return f"{value.day} {value:%b %Y}"


def test_partial_refund_on_one_dress_tracker_and_escrow(
    live_server, page: Page, browser: Browser, screenshots_dir, tmp_path
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__colour="Blue")
    red, blue = order.lines.order_by("id")
    page.set_viewport_size({"width": 1280, "height": 1000})

    # The buyer disputes the blue dress, asking for 20.00 back.
    login(page, live_server.url, "alice")
    page.locator(f"#line-{blue.pk}").get_by_role("button", name="Open dispute").click()
    page.get_by_label("Yes, it arrived").check()
    page.get_by_label("What is the problem?").select_option("not_as_described")
    page.get_by_label("Describe the problem").fill("The blue dress has a pulled thread on the hem.")
    page.get_by_label("Partial refund").check()
    page.get_by_label("Amount you ask for").fill("20.00")
    photo = tmp_path / "hem.jpg"
    Image.new("RGB", (640, 480), (40, 60, 200)).save(photo, "JPEG")
    page.locator("input[name=evidence]").set_input_files([str(photo)])
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible()
    dispute = Dispute.objects.get(line=blue)

    # Then confirms receipt of the order: the red dress is settled, the blue one is not.
    page.goto(f"{live_server.url}/orders/")
    page.locator(f"#order-{order.number}").get_by_role("button", name="Confirm receipt").click()
    page.get_by_role("button", name="Yes, I received everything").click()
    expect(page.get_by_text(f"order {order.number} is completed")).to_be_visible()

    # The seller: the undisputed red dress paid out, the disputed blue one held.
    seller = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="UTC")
    spage = seller.new_page()
    login(spage, live_server.url, "bob")
    row = spage.locator(f"#order-{order.number}")
    expect(row.locator(f"#line-{red.pk}")).to_contain_text("paid out 45.00 USD")
    expect(row.locator(f"#line-{blue.pk}")).to_contain_text("held 45.00 USD")
    expect(row.locator(f"#line-{blue.pk}")).not_to_contain_text("paid out")
    row.scroll_into_view_if_needed()
    spage.screenshot(path=f"{screenshots_dir}/money-1-seller-held.png", full_page=True)

    # The seller accepts the buyer's request: a partial refund of 20.00.
    spage.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    spage.get_by_role("button", name="Accept the buyer's request").click()
    expect(spage.get_by_text("You accepted")).to_be_visible()

    # The buyer follows the refund: amount, method, date sent and the arrival window.
    refund = Refund.objects.get(dispute=dispute)
    assert refund.state == RefundState.SENT
    sent_on = timezone.localdate(refund.sent_at)
    window = expected_arrival(method="card", sent_on=sent_on)
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    tracker = page.locator(f"#refund-{refund.pk}")
    expect(tracker).to_contain_text("20.00 USD")
    expect(tracker).to_contain_text("Card")
    expect(tracker.locator("dt", has_text="Sent").locator("+ dd")).to_have_text(day(sent_on))
    expect(tracker).to_contain_text(f"between {day(window.earliest)} and {day(window.latest)}")
    expect(tracker).not_to_contain_text("Overdue")
    tracker.scroll_into_view_if_needed()
    page.screenshot(path=f"{screenshots_dir}/money-2-buyer-tracker.png", full_page=True)

    # The buyer says the money arrived; the tracker says so.
    tracker.get_by_role("button", name="The money arrived").click()
    expect(page.locator(f"#refund-{refund.pk}")).to_contain_text("Arrived")

    # The seller: the blue dress settled, 25.00 paid out and 20.00 refunded.
    spage.goto(f"{live_server.url}/seller/")
    row = spage.locator(f"#order-{order.number}")
    expect(row.locator(f"#line-{blue.pk}")).to_contain_text("paid out 25.00 USD")
    expect(row.locator(f"#line-{blue.pk}")).to_contain_text("refunded 20.00 USD")
    expect(row.locator(f"#line-{blue.pk}")).not_to_contain_text("held")
    spage.screenshot(path=f"{screenshots_dir}/money-3-seller-settled.png", full_page=True)
    seller.close()

    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    order.refresh_from_db()
    assert (order.refunded_total, order.paid_out_total, order.held_in_escrow) == (
        20,
        70,
        0,
    )
    assert GatewayCall.objects.filter(idempotency_key=refund.idempotency_key).count() == 1
