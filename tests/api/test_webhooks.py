"""Webhooks: written with the change, signed per Standard Webhooks, retried with backoff,
in order per dispute, given up after the window (the endpoint disabled, its contact told),
never delivered twice as a success, and signed with both secrets during a rotation."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Response

from api.models import WebhookDelivery, WebhookEndpoint
from api.services import webhook_endpoint_create
from api.webhooks import UnsafeDestination, webhook_endpoint_rotate, webhooks_deliver_due
from disputes.services import DisputeRequest, dispute_accept
from tests.api.conftest import order_body
from tests.factories import open_dispute

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers(settings):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS = 1.0


def claim():
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


@pytest.fixture
def endpoint(integration, httpserver):
    return webhook_endpoint_create(integration=integration, url=httpserver.url_for("/hook"))


def dispute_on(api, order_id="W-1"):
    from api.models import ExternalOrder

    api.post("/orders", order_body(order_id))
    api.post(f"/orders/{order_id}/shipment", {"carrier": "DHL", "tracking_number": "1"})
    order = ExternalOrder.objects.get(external_id=order_id).order
    return open_dispute(line=order.lines.order_by("id").first(), buyer=order.buyer, request=claim())


def received(httpserver, secret):
    """What the receiver got, each verified with the secret."""
    messages = []
    for request, _response in httpserver.log:
        body = request.get_data(as_text=True)
        messages.append(Webhook(secret).verify(body, dict(request.headers)))
    return messages


def test_a_dispute_opened_reaches_the_receiver_signed(api, endpoint, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("thanks")
    dispute = dispute_on(api)
    (row,) = WebhookDelivery.objects.all()
    assert (row.event_type, row.subject) == ("dispute.opened", f"dispute:{dispute.pk}")

    assert webhooks_deliver_due() == {"delivered": 1, "failed": 0}
    (message,) = received(httpserver, endpoint.secret)
    assert message["type"] == "dispute.opened"
    assert message["data"]["order_id"] == "W-1"
    assert message["data"]["dispute_id"] == dispute.pk
    row.refresh_from_db()
    assert row.delivered_at and row.last_status == 200 and row.last_response == "thanks"
    assert row.last_duration_ms is not None
    # A wrong secret does not verify.
    request, _ = httpserver.log[0]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.get_data(as_text=True), dict(request.headers))
    # Sent once: the next run has nothing to do.
    assert webhooks_deliver_due() == {"delivered": 0, "failed": 0}
    assert len(httpserver.log) == 1


def test_a_500_then_200_is_retried_with_backoff_and_delivered_once(api, endpoint, httpserver):
    answers = iter([Response("down", status=500), Response("ok", status=200)])
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    dispute_on(api)
    now = timezone.now()
    assert webhooks_deliver_due(now=now) == {"delivered": 0, "failed": 1}
    row = WebhookDelivery.objects.get()
    assert (row.attempts, row.last_status) == (1, 500)
    assert row.next_attempt_at == now + timedelta(seconds=5)
    assert webhooks_deliver_due(now=now + timedelta(seconds=4)) == {"delivered": 0, "failed": 0}
    assert webhooks_deliver_due(now=now + timedelta(seconds=5)) == {"delivered": 1, "failed": 0}
    row.refresh_from_db()
    assert (row.attempts, row.last_status) == (2, 200)
    assert len(httpserver.log) == 2


def test_a_receiver_that_times_out_is_a_failed_attempt(api, endpoint, httpserver):
    def slow(request):
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    dispute_on(api)
    assert webhooks_deliver_due() == {"delivered": 0, "failed": 1}
    row = WebhookDelivery.objects.get()
    assert row.last_status is None
    assert "Timeout" in row.last_error
    time.sleep(0.7)  # let the slow handler finish before the server is cleared for the next test


def test_messages_about_one_dispute_keep_their_order(api, endpoint, httpserver):
    answers = iter([Response(status=503)] + [Response("ok")] * 10)
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    dispute = dispute_on(api)
    dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    types = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert types[:3] == ["dispute.opened", "dispute.accepted", "dispute.resolved"]
    now = timezone.now()
    # The first fails: the others about the same dispute wait behind it.
    assert webhooks_deliver_due(now=now) == {"delivered": 0, "failed": 1}
    assert len(httpserver.log) == 1
    webhooks_deliver_due(now=now + timedelta(minutes=1))
    got = [json.loads(r.get_data())["type"] for r, _ in httpserver.log]
    assert got[0] == "dispute.opened"
    assert got[1:4] == ["dispute.opened", "dispute.accepted", "dispute.resolved"]


def test_after_three_days_of_failure_the_endpoint_is_disabled_and_its_contact_told(
    api, endpoint, httpserver, mailoutbox, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    dispute_on(api)
    row = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks_deliver_due(now=row.created_at + timedelta(days=3, seconds=1))
    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert row.abandoned_at is not None
    assert endpoint.disabled_at is not None
    assert [m.to for m in mailoutbox] == [["ops@shopmania.test"]]
    # A disabled endpoint gets no new rows.
    dispute_on(api, "W-2")
    assert WebhookDelivery.objects.count() == 1


def test_during_a_rotation_both_secrets_sign(api, endpoint, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    old = endpoint.secret
    new = webhook_endpoint_rotate(endpoint=endpoint)
    dispute_on(api)
    webhooks_deliver_due()
    assert received(httpserver, new)[0]["type"] == "dispute.opened"
    assert received(httpserver, old)[0]["type"] == "dispute.opened"
    endpoint.refresh_from_db()
    endpoint.previous_secret_until = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    dispute_on(api, "W-2")
    webhooks_deliver_due()
    request, _ = httpserver.log[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_only_https_and_public_addresses_unless_allowed(integration, settings):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(UnsafeDestination):
        webhook_endpoint_create(integration=integration, url="http://example.com/hook")
    for url in ["https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/x"]:
        with pytest.raises(UnsafeDestination):
            webhook_endpoint_create(integration=integration, url=url)
    assert not WebhookEndpoint.objects.exists()


def test_endpoints_through_the_api(api, other_api, httpserver):
    made = api.post("/webhook-endpoints", {"url": httpserver.url_for("/hook")})
    assert made.status_code == 201
    assert made.json()["secret"].startswith("whsec_")
    listed = api.get("/webhook-endpoints").json()
    assert [e["secret"] for e in listed] == [None]  # shown once
    endpoint_id = made.json()["id"]
    assert other_api.delete(f"/webhook-endpoints/{endpoint_id}").status_code == 404
    assert other_api.post(f"/webhook-endpoints/{endpoint_id}/rotate-secret").status_code == 404
    assert api.delete(f"/webhook-endpoints/{endpoint_id}").status_code == 204


def test_a_payout_release_is_sent_too(api, endpoint, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    api.post("/orders", order_body("P-1"))
    api.post("/orders/P-1/shipment", {"carrier": "DHL", "tracking_number": "1"})
    api.post("/orders/P-1/receipt")  # completes: both lines leave escrow
    types = sorted(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert types.count("payout.released") == 2
    webhooks_deliver_due()
    messages = received(httpserver, endpoint.secret)
    payouts = [m for m in messages if m["type"] == "payout.released"]
    assert {p["data"]["order_id"] for p in payouts} == {"P-1"}
    assert {p["data"]["store_id"] for p in payouts} == {"s-1"}
    assert sum(float(p["data"]["amount"]) for p in payouts) == 105.0
