"""Walk-through items 9, 10 and 13 in Chromium, on the demo data.

The buyer confirms receipt of the two-dress order with one dress in dispute (the page names the
held dress and the new date), the seller follows the held line's link to the dispute, and the
error pages (404, 403, a form sent after its token went away, a crash) are the portal's own,
with DEBUG on as under `make run`, under the Content-Security-Policy.
"""

import os
from decimal import Decimal

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from disputes.services import DisputeRequest
from orders.models import Order
from tests.e2e.test_buyer_orders import login
from tests.e2e.test_content_security_policy import watch_for_csp_violations
from tests.factories import open_dispute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("WALKTHROUGH_SHOTS", "")


def shot(page: Page, screenshots_dir: str, name: str) -> None:
    for folder in filter(None, (screenshots_dir, SHOTS)):
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def test_confirm_receipt_with_a_dispute_then_the_sellers_held_line(
    live_server, page: Page, screenshots_dir
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__colour="Red")
    red = order.lines.get(colour="Red")
    dispute = open_dispute(
        line=red,
        buyer=order.buyer,
        request=DisputeRequest(
            received=True,
            reason="not_as_described",
            description="The dress is orange, not red as pictured.",
            quantity=1,
            requested_outcome="refund_only",
            requested_amount=Decimal("45.00"),
        ),
    )
    base = live_server.url
    violations = watch_for_csp_violations(page)
    page.set_viewport_size({"width": 1100, "height": 900})

    login(page, base, "alice")
    page.locator(f"#order-{order.number}").get_by_role("button", name="Confirm receipt").click()
    held = page.locator(f"#held-{red.pk}")
    expect(held).to_contain_text("stays held in escrow until dispute #")
    expect(page.locator("#post-close-window")).to_contain_text(
        "you can still open a dispute on the other items for 15 days, until"
    )
    shot(page, screenshots_dir, "walkthrough-1-confirm-receipt-with-dispute")
    held.get_by_role("link", name=f"dispute #{dispute.pk}").click()
    expect(page).to_have_url(f"{base}/disputes/{dispute.pk}/")
    page.go_back()
    page.get_by_role("button", name="Yes, I received everything else").click()
    expect(page.get_by_text(f"order {order.number} is completed")).to_be_visible()

    page.context.clear_cookies()
    login(page, base, "bob")
    expect(page.locator("#escrow-held")).to_contain_text("released line by line")
    link = page.locator(f"#held-by-{red.pk}")
    expect(link).to_have_text(f"by dispute #{dispute.pk}")
    page.locator(f"#order-{order.number}").scroll_into_view_if_needed()
    shot(page, screenshots_dir, "walkthrough-2-seller-held-line")
    link.click()
    expect(page).to_have_url(f"{base}/disputes/{dispute.pk}/")
    assert violations == []


def test_the_error_pages_with_debug_on(
    live_server, page: Page, screenshots_dir, settings, monkeypatch
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    settings.DEBUG = True  # as `make run` runs
    base = live_server.url
    page.set_viewport_size({"width": 1000, "height": 700})
    login(page, base, "alice")

    answer = page.goto(f"{base}/no-such-page/")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="There is no page here")).to_be_visible()
    expect(page.get_by_text("Django tried these URL patterns")).to_have_count(0)
    expect(page.get_by_role("link", name="My orders")).to_be_visible()
    shot(page, screenshots_dir, "walkthrough-3-404")

    # A form sent after its token went away (the page was open too long).
    order = Order.objects.get(buyer__username="alice", lines__product_name="Leather wallet")
    page.goto(f"{base}/orders/{order.number}/confirm-receipt/")
    page.context.clear_cookies(name="csrftoken")
    page.get_by_role("button", name="Yes, I received everything").click()
    expect(page.get_by_role("heading", name="The form was not sent")).to_be_visible()
    expect(page.get_by_text("The page was open too long")).to_be_visible()
    shot(page, screenshots_dir, "walkthrough-4-csrf")
    page.get_by_role("button", name="Back to the page").click()
    expect(page.get_by_role("button", name="Yes, I received everything")).to_be_visible()

    # A crash.
    def crash(**kwargs):
        raise RuntimeError("the secret detail of a crash")

    monkeypatch.setattr("dashboards.views.buyer_order_rows", crash)
    answer = page.goto(f"{base}/orders/")
    assert answer is not None and answer.status == 500
    expect(page.get_by_role("heading", name="Something went wrong on our side")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    expect(page.get_by_text("the secret detail of a crash")).to_have_count(0)
    shot(page, screenshots_dir, "walkthrough-5-500")
