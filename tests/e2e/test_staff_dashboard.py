"""The staff dashboard in Chromium at 1280 by 800: an arbitrator signs in to the admin,
follows the link on its index to the dashboard with a few hundred disputes, sees its five
charts with their tables (nothing blocked by the Content-Security-Policy, nothing wider than
the screen), switches to 7 days, and downloads the CSV of a range. Screenshots go to the
suite's test-artifacts folder."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_content_security_policy import watch_for_csp_violations
from tests.factories import PASSWORD, StoreFactory, UserFactory, make_arbitrator
from tests.operations.dashboard_data import busy_marketplace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1280, 800
DISPUTES = 120


def test_arbitrator_reads_the_dashboard_at_1280(live_server, page: Page, screenshots_dir):
    from django.utils import timezone

    now = timezone.now()
    buyer = UserFactory(username="busy-buyer")
    store = StoreFactory(name="Busy Store", slug="busy-store")
    busy_marketplace(buyer=buyer, store=store, now=now, count=DISPUTES)
    make_arbitrator("sam")
    base = live_server.url
    violations = watch_for_csp_violations(page)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})

    page.goto(f"{base}/admin/login/")
    page.locator("#id_username").fill("sam")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.locator("#staff-dashboard-link").get_by_role("link", name="Staff dashboard").click()
    expect(page).to_have_url(f"{base}/admin/dashboard/")
    expect(page.locator("h1")).to_have_text("Staff dashboard")

    # Five charts, each an image with a name, each beside or above its table of numbers.
    charts = page.locator("figure.dash-chart svg[role=img]")
    expect(charts).to_have_count(5)
    for index in range(5):
        chart = charts.nth(index)
        expect(chart).to_be_visible()
        assert chart.get_attribute("aria-label")
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80, box
        assert box["x"] + box["width"] <= WIDTH, box
    expect(page.locator("#dash-daily table tbody tr")).to_have_count(30)
    expect(page.locator("#dash-outcomes table tbody tr")).to_have_count(6)
    opened = int(page.locator("#figure-opened").inner_text())
    assert 0 < opened < DISPUTES
    assert page.locator("#figure-median").inner_text() != "—"
    # The hover text of a point names its day and figure.
    first_point = page.locator("#dash-daily svg circle title").first
    assert ": Disputes opened: " in first_point.text_content()
    # The charts take the theme's colours from the static stylesheet.
    fill = page.locator("#dash-daily svg text.chart-text").first.evaluate(
        "node => getComputedStyle(node).fill"
    )
    assert fill.startswith("rgb")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    page.screenshot(path=os.path.join(screenshots_dir, "staff-dashboard-1280.png"), full_page=True)
    page.screenshot(path=os.path.join(screenshots_dir, "staff-dashboard-1280-top.png"))

    # The admin's dark theme: the charts' text and axes follow it (light text on dark).
    page.emulate_media(color_scheme="dark")
    dark_fill = page.locator("#dash-daily svg text.chart-text").first.evaluate(
        "node => getComputedStyle(node).fill"
    )
    assert dark_fill != fill, (fill, dark_fill)
    page.screenshot(path=os.path.join(screenshots_dir, "staff-dashboard-1280-dark.png"))
    page.emulate_media(color_scheme="light")

    # Seven days.
    page.get_by_role("link", name="7 days").click()
    expect(page.locator("#dash-daily table tbody tr")).to_have_count(7)
    expect(page.locator("nav.dash-windows strong")).to_have_text("7 days")

    # The CSV of the last 100 days: every dispute, one line each.
    first = (now - timedelta(days=101)).date().isoformat()
    page.locator("#export_date_from").fill(first)
    page.locator("#export_date_to").fill(now.date().isoformat())
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = download.value.path()
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.reader(io.StringIO(handle.read())))
    assert rows[0][:3] == ["id", "order_number", "store"]
    assert len(rows) == DISPUTES + 1

    # A range backwards: the page again, with the dates as typed and the reason.
    page.goto(f"{base}/admin/dashboard/")
    page.locator("#export_date_from").fill("2026-11-30")
    page.locator("#export_date_to").fill("2026-11-01")
    page.get_by_role("button", name="Download CSV").click()
    expect(page.locator("#export-form .errorlist")).to_contain_text("comes before the first day")
    expect(page.locator("#export_date_from")).to_have_value("2026-11-30")
    page.locator("#dash-export").scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(screenshots_dir, "staff-dashboard-export-error.png"))

    assert violations == []
