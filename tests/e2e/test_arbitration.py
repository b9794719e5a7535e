"""Issue 7 in Chromium: an arbitrator takes the oldest case from the queue in Django admin
and rules a partial refund; the buyer and the seller each agree on their dispute page; the
ruling becomes final and the refund appears on the buyer's page."""

import os
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from demo.management.commands.seed_demo import DEMO_PASSWORD
from disputes.models import Dispute
from disputes.states import Closing, DisputeState
from refunds.models import Refund
from tests.e2e.test_buyer_orders import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def admin_login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("input[type=submit]").click()


def test_arbitrator_rules_parties_agree_refund_appears(
    live_server, page: Page, browser: Browser, screenshots_dir
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    coat = Dispute.objects.get(line__product_name="Wool coat")
    boots = Dispute.objects.get(line__product_name="Leather boots")
    page.set_viewport_size({"width": 1400, "height": 1000})

    # The queue: escalated cases oldest first, the boots past their 15-day target.
    admin_login(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/admin/disputes/dispute/?queue=1")
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_contain_text("Leather boots")
    expect(rows.first).to_contain_text("late")
    expect(page.locator("#result_list")).to_contain_text("Wool coat")
    page.screenshot(path=f"{screenshots_dir}/arbitration-1-queue.png", full_page=True)

    # The coat's case page: both sides, the timeline, the store's figures.
    page.goto(f"{live_server.url}/admin/disputes/dispute/{coat.pk}/change/")
    expect(page.locator("#case-timeline")).to_contain_text("Dispute opened")
    expect(page.locator("#case-standing")).to_be_visible()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator("#case-summary")).to_contain_text("Sam")
    page.locator("#rule-form input[value=partial_refund]").check()
    page.locator("#rule-form input[name=amount]").fill("50.00")
    page.locator("#rule-form textarea[name=reason]").fill(
        "The photos show pilling on both sleeves; the coat is wearable, so 50.00 is refunded "
        "and the buyer keeps it."
    )
    page.screenshot(path=f"{screenshots_dir}/arbitration-2-case.png", full_page=True)
    page.get_by_role("button", name="Record the ruling").click()
    expect(page.locator("#case-ruling")).to_contain_text("50.00")
    coat.refresh_from_db()
    assert coat.state == DisputeState.RULED

    # The buyer reads the ruling and its reasons, with the 5-day countdown, and agrees.
    buyer = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="UTC")
    bpage = buyer.new_page()
    login(bpage, live_server.url, "carol")
    bpage.goto(f"{live_server.url}/disputes/{coat.pk}/")
    ruling = bpage.locator("#ruling")
    expect(ruling).to_contain_text("Partial refund")
    expect(ruling).to_contain_text("50.00")
    expect(ruling).to_contain_text("pilling on both sleeves")
    expect(ruling.locator("[data-countdown]").first).to_have_text(re.compile(r"^4 days"))
    bpage.screenshot(path=f"{screenshots_dir}/arbitration-3-buyer-ruling.png", full_page=True)
    bpage.get_by_role("button", name="Agree to the ruling").click()
    expect(bpage.locator("#reply-buyer")).to_have_text("Agrees")

    # The seller agrees too: the ruling is final and takes effect.
    seller = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="UTC")
    spage = seller.new_page()
    login(spage, live_server.url, "bob")
    spage.goto(f"{live_server.url}/disputes/{coat.pk}/")
    spage.get_by_role("button", name="Agree to the ruling").click()
    seller.close()

    # The refund appears on the buyer's page, with its arrival window.
    bpage.reload()
    refund = Refund.objects.get(dispute=coat)
    tracker = bpage.locator(f"#refund-{refund.pk}")
    expect(tracker).to_contain_text("50.00 USD")
    expect(tracker).to_contain_text("Expected")
    expect(bpage.locator(".timeline")).to_contain_text("50.00")
    bpage.screenshot(path=f"{screenshots_dir}/arbitration-4-buyer-refund.png", full_page=True)

    # The in-app list shows the ruling, with an unread badge in the menu.
    bpage.goto(f"{live_server.url}/notifications/")
    expect(bpage.locator("main")).to_contain_text("Wool coat")
    buyer.close()

    coat.refresh_from_db()
    assert (coat.state, coat.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert str(refund.amount) == "50.00"
    boots.refresh_from_db()
    assert boots.state == DisputeState.ESCALATED
