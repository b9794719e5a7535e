"""The marketplace integration end to end, over HTTP against a live server: the example client
(examples/marketplace.py) pushes an order and its shipment; the buyer follows a sign-in link in
Chromium and opens a dispute on one line; a local receiver gets the signed webhooks; the seller
accepts in the browser; the refund goes out; the client reports it arrived; the buyer sees it."""

from __future__ import annotations

import importlib.util
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from standardwebhooks.webhooks import Webhook

from api.keys import api_key_create
from api.models import Integration, WebhookDelivery
from api.webhooks import webhooks_deliver_due
from disputes.models import Dispute
from refunds.models import RefundState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "marketplace.py"
SHOTS = Path("/tmp/shots/api-example")


def example_client():
    """examples/marketplace.py, imported as the developer's own module would be."""
    spec = importlib.util.spec_from_file_location("marketplace_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _portal_sends_to_a_local_receiver(settings, live_server):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS = 5.0
    settings.SITE_URL = live_server.url  # sign-in links point at the live server
    # The feed shows events at once (its hold-back for writers still running is tested apart).
    settings.PORTAL_API_FEED_LAG = timedelta(0)
    SHOTS.mkdir(parents=True, exist_ok=True)


def received(httpserver, secret: str, *wanted: str, timeout: float = 15.0) -> list[dict]:
    """Every message the receiver got, each verified with the endpoint's secret, once all
    the wanted types are among them. Deliveries are queued after each commit (Celery runs
    eagerly here); the loop also sends whatever is due, as the beat task would."""
    deadline = time.monotonic() + timeout
    while True:
        messages = [
            Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers))
            for request, _response in httpserver.log
        ]
        types = [message["type"] for message in messages]
        if set(wanted) <= set(types):
            return messages
        assert time.monotonic() < deadline, f"waited for {wanted}, the receiver got {types}"
        webhooks_deliver_due()
        time.sleep(0.2)


def test_an_order_pushed_by_the_example_disputed_refunded_and_reported(
    live_server, page: Page, browser: Browser, httpserver
):
    example = example_client()
    integration = Integration.objects.create(name="Shopmania", contact_email="ops@shop.test")
    _key, raw = api_key_create(integration=integration, name="e2e")
    portal = example.Portal(live_server.url, raw)
    httpserver.expect_request("/webhooks", method="POST").respond_with_data("", status=204)

    # The marketplace registers its receiver, pushes an order (twice: the retry is replayed)
    # and ships it.
    endpoint = portal.call("POST", "/webhook-endpoints", {"url": httpserver.url_for("/webhooks")})
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    body = example.order_payload("E2E-1")
    order = portal.call("POST", "/orders", body, key="order-E2E-1")
    assert (order["status"], order["state"], order["amount_paid"]) == ("created", "paid", "105.00")
    assert portal.call("POST", "/orders", body, key="order-E2E-1") == order
    shipment = {"carrier": "DHL", "tracking_number": "JD014600006281"}
    order = portal.call("POST", "/orders/E2E-1/shipment", shipment)
    assert order["state"] == "shipped" and order["protection_ends_at"]
    link = portal.call(
        "POST",
        "/sign-in-links",
        {"person_id": "b-1", "page": "open_dispute", "order_id": "E2E-1", "line": 1},
    )
    assert link["url"].startswith(f"{live_server.url}/sign-in/")

    # The buyer follows the link: signed in, on the questionnaire for the red dress.
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(link["url"])
    expect(page.get_by_text("Welcome, Alice Martin.")).to_be_visible()
    expect(page.get_by_role("heading", name="Open a dispute")).to_be_visible()
    expect(page.locator(".meta")).to_contain_text("Summer dress (red, M)")
    page.get_by_label("No, it never arrived").check()
    expect(page.get_by_label("What is the problem?")).to_have_value("not_received")
    page.get_by_label("Describe the problem").fill(
        "The parcel never arrived; the tracking has not moved for a week."
    )
    expect(page.locator("#refund-note")).to_be_visible()
    page.screenshot(path=str(SHOTS / "1-buyer-questionnaire.png"), full_page=True)
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.get_by_text("Your dispute is open")).to_be_visible()
    page.screenshot(path=str(SHOTS / "2-buyer-dispute-open.png"), full_page=True)
    dispute = Dispute.objects.get(order__external__external_id="E2E-1")
    assert dispute.line.colour == "red"

    # The receiver gets dispute.opened, signed with the endpoint's secret.
    (opened,) = received(httpserver, secret, "dispute.opened")
    assert opened["type"] == "dispute.opened"
    assert opened["data"]["dispute_id"] == dispute.pk
    assert opened["data"]["order_id"] == "E2E-1"
    assert opened["data"]["to_state"] == "open"

    # The seller, signed in by a link of their own, accepts the buyer's request.
    link = portal.call(
        "POST", "/sign-in-links", {"person_id": "u-1", "page": "dispute", "dispute_id": dispute.pk}
    )
    seller = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="UTC")
    spage = seller.new_page()
    spage.goto(link["url"])
    expect(spage.get_by_role("heading", name=f"Dispute #{dispute.pk}")).to_be_visible()
    spage.screenshot(path=str(SHOTS / "3-seller-dispute.png"), full_page=True)
    spage.get_by_role("button", name="Accept the buyer's request").click()
    expect(spage.locator(".messages .success")).to_contain_text("You accepted")
    spage.screenshot(path=str(SHOTS / "4-seller-accepted.png"), full_page=True)
    seller.close()

    # The resolution and the refund reach the receiver, in order.
    messages = received(httpserver, secret, "dispute.accepted", "dispute.resolved", "refund.sent")
    types = [message["type"] for message in messages]
    assert types[:4] == ["dispute.opened", "dispute.accepted", "dispute.resolved", "refund.sent"]
    sent = messages[3]["data"]
    assert (sent["dispute_id"], sent["amount"], sent["state"]) == (dispute.pk, "45.00", "sent")

    # The client reacts to refund.sent as the example does: it reports the money arrived.
    example.react(portal, messages[3])
    refund = portal.call("GET", f"/disputes/{dispute.pk}")["refunds"][0]
    assert (refund["id"], refund["state"]) == (sent["id"], RefundState.ARRIVED)
    messages = received(httpserver, secret, "refund.arrived")
    assert messages[-1]["data"]["id"] == sent["id"]
    detail = portal.call("GET", f"/disputes/{dispute.pk}")
    assert detail["state"] == "resolved"
    assert [(r["amount"], r["state"]) for r in detail["refunds"]] == [("45.00", "arrived")]
    feed = portal.call("GET", "/events")
    assert [event["kind"] for event in feed["items"]][:3] == ["opened", "accepted", "resolved"]

    # The buyer's dispute page says the refund arrived.
    page.goto(f"{live_server.url}/disputes/{dispute.pk}/")
    tracker = page.locator(f"#refund-{sent['id']}")
    expect(tracker).to_contain_text("45.00 USD")
    expect(tracker.locator(".badge")).to_have_text("Arrived")
    expect(tracker.get_by_role("button", name="The money arrived")).to_have_count(0)
    tracker.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "5-buyer-refund-arrived.png"), full_page=True)

    # Every message went out once, and none is left waiting.
    ids = [message["id"] for message in messages]
    assert len(ids) == len(set(ids))
    assert not WebhookDelivery.objects.filter(delivered_at__isnull=True).exists()
