"""Findings 2 and 14 of the staff walk-through, in Chromium at 1280 by 800: an arbitrator opens
the arbitration queue and an escalated case; every running clock ticks (countdown.js, loaded
from its static file under the Content-Security-Policy, with no violation logged), every
queue column is on the screen without sideways scrolling, the buyer's other disputes stay
clear of the History buttons, and a case where nothing can be done shows no "Act on the
case". Screenshots go to /tmp/shots/staff-clocks/."""

import os
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Locator, Page, expect

from disputes.models import Dispute, EvidenceRequest
from orders.templatetags.clocks import absolute
from tests.e2e.test_arbitration import admin_login
from tests.e2e.test_content_security_policy import watch_for_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/shots/staff-clocks"
WIDTH, HEIGHT = 1280, 800
# What countdown.js writes (the server writes "11 days 23 hours"): seconds included.
TICKING = re.compile(r"^(\d+ days? )?(\d+ h )?\d+ min \d+ s$")


def assert_ticks(countdown: Locator) -> None:
    """The script filled the countdown in, and it changes within two seconds."""
    expect(countdown).to_have_text(TICKING)
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=2000)


def assert_fits(page: Page) -> None:
    """No sideways scrolling: neither the page nor the list's own scroll box."""
    widths = page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            results: document.querySelector('#changelist-form .results')?.scrollWidth ?? 0,
            box: document.querySelector('#changelist-form .results')?.clientWidth ?? 0,
        })"""
    )
    assert widths["page"] <= WIDTH, widths
    assert widths["results"] <= widths["box"], widths


def test_arbitrator_sees_ticking_clocks_and_every_column_at_1280(live_server, page: Page):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    os.makedirs(SHOTS, exist_ok=True)
    coat = Dispute.objects.get(line__product_name="Wool coat")
    boots = Dispute.objects.get(line__product_name="Leather boots")
    trousers = Dispute.objects.get(line__product_name="Linen trousers")
    base = live_server.url
    violations = watch_for_csp_violations(page)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    admin_login(page, base, "sam")

    # On the coat's page the arbitrator asks the seller for more evidence: a third clock.
    page.goto(f"{base}/admin/disputes/dispute/{coat.pk}/change/")
    form = page.locator("#evidence-request-form")
    form.get_by_label("The seller").check()
    form.locator("textarea").fill("A photo of the coat's label, please.")
    form.get_by_role("button", name="Ask").click()
    expect(page.locator(".messagelist")).to_contain_text("Evidence asked of the seller")
    asked = EvidenceRequest.objects.get(dispute=coat)

    # The queue: every header cell inside the screen, nothing to scroll sideways.
    page.goto(f"{base}/admin/disputes/dispute/?queue=1")
    headers = page.locator("#result_list thead th")
    expect(headers).to_have_count(10)  # the checkbox and nine columns
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["width"] > 0
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (
            headers.nth(index).inner_text(),
            box,
        )
    assert [t.strip().lower() for t in headers.all_inner_texts()[1:]] == [
        "case",
        "with staff",
        "amount",
        "reason",
        "store",
        "buyer",
        "arbitrator",
        "state",
        "clocks",
    ]
    assert_fits(page)

    # Each escalated case counts down its target and limit; the boots, past the target,
    # say so in words.
    coat_row = page.locator("#result_list tbody tr", has_text="Wool coat")
    target = coat_row.locator("[data-clock=target]")
    expect(target).to_contain_text("15-day target")
    expect(target).to_contain_text(f"until {absolute(coat.arbitration_target_at)}")
    assert_ticks(target.locator("[data-countdown]"))
    assert_ticks(coat_row.locator("[data-clock=limit] [data-countdown]"))
    evidence = coat_row.locator("[data-clock=evidence]")
    expect(evidence).to_contain_text("Evidence from the seller")
    expect(evidence).to_contain_text(f"until {absolute(asked.due_at)}")
    assert_ticks(evidence.locator("[data-countdown]"))
    boots_row = page.locator("#result_list tbody tr", has_text="Leather boots")
    expect(boots_row.locator("[data-clock=target]")).to_contain_text("late")
    expect(boots_row.locator("[data-clock=target]")).to_contain_text(
        f"was due {absolute(boots.arbitration_target_at)}"
    )
    assert_ticks(boots_row.locator("[data-clock=limit] [data-countdown]"))
    page.screenshot(path=f"{SHOTS}/queue-1280.png", full_page=True)

    # Every dispute, not only the queue: the same columns fit, each clock ticks.
    page.goto(f"{base}/admin/disputes/dispute/")
    assert_fits(page)
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDTH
    trousers_row = page.locator("#result_list tbody tr", has_text="Linen trousers")
    expect(trousers_row.locator("[data-clock=deadline]")).to_contain_text("Buyer ships the return")
    assert_ticks(trousers_row.locator("[data-clock=deadline] [data-countdown]"))
    page.screenshot(path=f"{SHOTS}/all-disputes-1280.png", full_page=True)

    # The coat's case page: its three clocks tick, the actions are there.
    page.goto(f"{base}/admin/disputes/dispute/{coat.pk}/change/")
    clocks = page.locator("#case-clocks")
    for name in ("target", "limit", "evidence"):
        assert_ticks(clocks.locator(f"[data-clock={name}] [data-countdown]"))
    expect(clocks).to_contain_text(f"until {absolute(coat.arbitration_limit_at)}")
    assert_ticks(page.locator(f"#evidence-request-{asked.pk} [data-countdown]"))
    expect(page.get_by_role("heading", name="Act on the case")).to_be_visible()
    # The buyer's other disputes stay on the page and clear of the History buttons.
    history = page.locator("#buyer-history")
    expect(history).to_be_visible()
    tools = page.locator("ul.object-tools").bounding_box()
    table = history.bounding_box()
    assert tools is not None and table is not None
    assert tools["y"] + tools["height"] <= table["y"], (tools, table)
    assert table["x"] + table["width"] <= WIDTH, table
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    page.screenshot(path=f"{SHOTS}/case-escalated-1280.png", full_page=True)

    # A case waiting for the buyer's return: its clock ticks, nothing to act on.
    page.goto(f"{base}/admin/disputes/dispute/{trousers.pk}/change/")
    expect(page.locator("#case-clocks")).to_contain_text("Buyer ships the return")
    assert_ticks(page.locator("#case-clocks [data-countdown]"))
    expect(page.get_by_text("Act on the case")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    page.screenshot(path=f"{SHOTS}/case-awaiting-return-1280.png", full_page=True)

    assert violations == []
