"""Issue 12, finding 5 in Chromium: the portal's pages run under the Content-Security-Policy
without a single violation (every script and style comes from a static file), and the log-in
page shows the lock-out and the way back by mail."""

import os
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import ConsoleMessage, Page, expect

from demo.management.commands.seed_demo import DEMO_PASSWORD
from disputes.models import Dispute
from orders.models import OrderLine
from orders.states import OrderState
from tests.e2e.test_buyer_orders import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_for_csp_violations(page: Page) -> list[str]:
    """Every console message Chromium logs when the policy blocks something."""
    violations: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", listen)
    page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))
    return violations


def visit(page: Page, url: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.ok, f"{url}: {answer and answer.status}"
    assert "Content-Security-Policy" in {name.title() for name in answer.headers}, url
    page.wait_for_load_state("load")


def test_buyer_and_seller_pages_log_no_csp_violation(live_server, page: Page, screenshots_dir):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    base = live_server.url
    violations = watch_for_csp_violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # The buyer's main pages, a dispute, and the questionnaire with its script.
    login(page, base, "alice")
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()
    countdown = page.locator("[data-countdown]").first
    first = countdown.inner_text()
    page.wait_for_timeout(1100)
    assert countdown.inner_text() != first, "countdown.js runs under the policy"
    visit(page, f"{base}/disputes/")
    visit(page, f"{base}/notifications/")
    visit(page, f"{base}/password/change/")
    line = (
        OrderLine.objects.filter(
            order__buyer__username="alice", order__state=OrderState.SHIPPED, dispute__isnull=True
        )
        .order_by("pk")
        .first()
    )
    visit(page, f"{base}/lines/{line.pk}/dispute/")
    page.get_by_label("No, it never arrived").check()
    expect(page.get_by_label("What is the problem?")).to_have_value("not_received")
    expect(page.locator("input[name=requested_outcome][value=return_and_refund]")).to_be_disabled()

    # The other buyer's dispute page: photos, the timeline, the upload forms.
    dispute = Dispute.objects.get(line__product_name="Silk blouse")
    page.context.clear_cookies()
    login(page, base, "carol")
    visit(page, f"{base}/disputes/{dispute.pk}/")
    photo = page.locator(".evidence img").first
    expect(photo).to_be_visible()
    # The photo loads (waited for: on a busy machine it may still be on its way).
    page.wait_for_function(
        "() => { const img = document.querySelector('.evidence img');"
        " return img && img.complete && img.naturalWidth > 0; }",
        timeout=15000,
    )
    page.screenshot(path=f"{screenshots_dir}/csp-dispute-page.png", full_page=True)

    # The seller's main pages.
    page.context.clear_cookies()
    login(page, base, "bob")
    expect(page.get_by_role("heading", name="Bob's Boutique")).to_be_visible()
    visit(page, f"{base}/seller/disputes/")
    visit(page, f"{base}/disputes/{dispute.pk}/")

    assert violations == []


def test_the_lock_out_and_the_reset_pages_in_the_browser(
    live_server, page: Page, screenshots_dir, settings
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    settings.AXES_FAILURE_LIMIT = 10
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    base = live_server.url
    violations = watch_for_csp_violations(page)
    page.set_viewport_size({"width": 1000, "height": 760})

    for attempt in range(11):
        page.goto(f"{base}/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(f"not-the-password-{attempt}")
        page.get_by_role("button", name="Log in").click()
    lockout = page.locator("#lockout")
    expect(lockout).to_contain_text("Too many wrong passwords")
    expect(lockout).to_contain_text(re.compile(r"locked until \d+ \w+ \d{4}, \d\d:\d\d UTC"))
    page.screenshot(path=f"{screenshots_dir}/login-1-locked-out.png", full_page=True)

    # The right password is refused too, and the page says so again.
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#lockout")).to_be_visible()

    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email").fill("alice@example.com")
    page.screenshot(path=f"{screenshots_dir}/login-2-reset.png", full_page=True)
    page.get_by_role("button", name="Mail me a reset link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()

    link = re.search(r"https?://\S+(/password/reset/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(f"{base}{link}")
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("orchard-lantern-5821")
    page.get_by_label("New password confirmation").fill("orchard-lantern-5821")
    page.screenshot(path=f"{screenshots_dir}/login-3-new-password.png", full_page=True)
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("orchard-lantern-5821")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()
    assert violations == []
