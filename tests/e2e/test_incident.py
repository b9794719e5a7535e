"""Incident mode in Chromium: the arbitrator starts an incident over China Post's parcels to
one country in the admin (form, preview, confirmation); the buyer's dispute page then says
"Protection extended by N days: <reason>" and its countdown runs to the extended due time.
Screenshots go to the session's screenshots directory (incident-*.png)."""

import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from disputes.models import Dispute
from orders.models import Incident
from tests.e2e.test_arbitration import admin_login
from tests.e2e.test_buyer_orders import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REASON = "Customs backlog at Frankfurt airport: parcels held up to a week"


def test_staff_start_an_incident_and_the_buyer_sees_the_extended_countdown(
    live_server, page: Page, screenshots_dir
):
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    dispute = (
        Dispute.objects.filter(order__state="shipped", deadline_kind="seller_response")
        .select_related("order", "buyer")
        .order_by("pk")
        .first()
    )
    order = dispute.order
    country = order.destination_country
    assert country in ("DE", "FR")
    due_before = dispute.next_deadline_at
    shipped = order.shipped_at.date()
    base = live_server.url

    admin_login(page, base, "sam")
    page.goto(f"{base}/admin/orders/incident/add/")
    page.locator("#id_carrier").select_option(order.carrier)
    page.locator("#id_destination_country").fill(country.lower())
    page.locator("#id_shipped_from").fill(str(shipped - timedelta(days=1)))
    page.locator("#id_shipped_to").fill(str(shipped))
    page.locator("#id_days").fill("7")
    page.locator("#id_reason").fill(REASON)
    page.get_by_role("button", name="Show what it covers").click()
    expect(page.locator("#incident-preview")).to_contain_text("would be extended")
    page.screenshot(path=f"{screenshots_dir}/incident-preview.png", full_page=True)
    assert not Incident.objects.exists()
    page.get_by_role("button", name="Start the incident").click()
    expect(page.locator(".messagelist")).to_contain_text("Incident started")
    page.screenshot(path=f"{screenshots_dir}/incident-started.png", full_page=True)

    dispute.refresh_from_db()
    assert dispute.next_deadline_at == due_before + timedelta(days=7)

    page.context.clear_cookies()
    login(page, base, dispute.buyer.username)
    page.goto(f"{base}/disputes/{dispute.pk}/")
    notice = page.locator(".incident-notice")
    expect(notice).to_contain_text("Protection extended by 7 days:")
    expect(notice).to_contain_text(REASON)
    countdown = page.locator("#clock time.countdown")
    expect(countdown).to_have_attribute("datetime", dispute.next_deadline_at.isoformat())
    expect(page.locator("#clock")).to_contain_text(dispute.next_deadline_at.strftime("%Y"))
    expect(page.locator("#timeline")).to_contain_text("the next deadline is now")
    page.screenshot(path=f"{screenshots_dir}/incident-buyer-dispute.png", full_page=True)
