"""A buyer in Chromium: logs in, sees the protection countdown, confirms receipt."""

import os
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from demo.management.commands.seed_demo import DEMO_PASSWORD
from orders.models import Order
from orders.states import OrderState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_demo_buyer_sees_countdown_and_confirms_receipt(live_server, page: Page, screenshots_dir):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", lines__product_name="Leather wallet")

    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server.url, "alice")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()

    card = page.locator(f"#order-{order.number}")
    countdown = card.locator("[data-countdown]").first
    expect(countdown).to_have_text(re.compile(r"^(58|59) days \d+ h \d+ min \d+ s$"))
    first = countdown.inner_text()
    page.wait_for_timeout(1100)
    assert countdown.inner_text() != first, "the countdown should tick every second"
    expect(card).to_contain_text("You can open a dispute until")
    page.screenshot(path=f"{screenshots_dir}/orders-1-my-orders.png", full_page=True)

    card.get_by_role("button", name="Confirm receipt").click()
    expect(page.get_by_text("ends your buyer protection now")).to_be_visible()
    page.screenshot(path=f"{screenshots_dir}/orders-2-confirm.png")
    page.get_by_role("button", name="Yes, I received everything").click()

    expect(page.get_by_text(f"order {order.number} is completed")).to_be_visible()
    card = page.locator(f"#order-{order.number}")
    expect(card.locator(".badge")).to_have_text("Completed")
    expect(card).to_contain_text("you can still open a dispute until")
    expect(card.get_by_role("button", name="Confirm receipt")).to_have_count(0)
    page.screenshot(path=f"{screenshots_dir}/orders-3-completed.png", full_page=True)

    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED


def test_my_orders_reads_on_a_phone(live_server, page: Page, screenshots_dir):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "alice")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=f"{screenshots_dir}/orders-4-phone.png", full_page=True)


def test_seller_ships_an_order_from_the_dashboard(live_server, page: Page, screenshots_dir):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    order = Order.objects.get(buyer__username="alice", state=OrderState.PAID)
    login(page, live_server.url, "bob")
    expect(page.get_by_role("heading", name="Bob's Boutique")).to_be_visible()
    page.locator(f"#order-{order.number}").get_by_role("button", name="Mark shipped").click()
    page.get_by_label("Carrier").fill("DHL")
    page.get_by_label("Tracking number").fill("JD0146 0000 123")
    page.get_by_role("button", name="Mark shipped").click()
    expect(page.get_by_text("protection clock has started")).to_be_visible()
    page.screenshot(path=f"{screenshots_dir}/orders-5-seller.png", full_page=True)
    order.refresh_from_db()
    assert order.state == OrderState.SHIPPED
    assert order.tracking_number == "JD01460000123"


def test_seller_pages_read_on_a_phone(live_server, page: Page, screenshots_dir):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "bob")
    for path, shot in (
        ("/seller/", "orders-6-seller-phone"),
        ("/seller/disputes/", "orders-7-seller-disputes-phone"),
    ):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=f"{screenshots_dir}/{shot}.png", full_page=True)
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
