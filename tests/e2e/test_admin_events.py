"""The staff walk-through's last admin finding: the "Dispute events" list at 1280 px shows
every column, "processed" (when a clock's event was really written) included."""

import os

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.e2e.test_admin_clocks import HEIGHT, SHOTS, WIDTH, assert_fits
from tests.e2e.test_arbitration import admin_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dispute_events_show_every_column_at_1280(live_server, page: Page):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    os.makedirs(SHOTS, exist_ok=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    admin_login(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/admin/disputes/disputeevent/")
    headers = page.locator("#result_list thead th")
    expect(headers.last).to_contain_text("Processed", ignore_case=True)
    expect(page.locator("#result_list tbody tr").first).to_contain_text("UTC")
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDTH, headers.nth(index).inner_text()
    page.screenshot(path=f"{SHOTS}/dispute-events-1280.png", full_page=True)
    assert_fits(page)
