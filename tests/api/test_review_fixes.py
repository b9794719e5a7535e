"""What a review of the API found, each kept fixed: shipment dates that would cut the
buyer's protection, one bad store sinking a batch, resends written differently, events
held back until their writers have committed, refusals kept under their idempotency key,
replays keeping their message id, and staff-only events kept from marketplaces."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from api.models import ExternalOrder, WebhookDelivery
from api.services import webhook_endpoint_create
from api.webhooks import webhook_replay
from disputes.services import DisputeRequest, dispute_propose, disputes_sweep_due
from disputes.states import OutcomeType
from orders.models import Order
from tests.api.conftest import order_body
from tests.factories import make_arbitrator, open_dispute

pytestmark = pytest.mark.django_db


def test_a_shipment_before_payment_or_long_ago_is_refused(api):
    api.post("/orders", order_body("Z-1"))
    before = api.post(
        "/orders/Z-1/shipment",
        {"carrier": "DHL", "tracking_number": "1", "shipped_at": "2001-01-01T00:00:00Z"},
    )
    assert before.status_code == 422 and "before the order was paid" in before.json()["detail"]
    api.post("/orders", order_body("Z-2", paid_at="2020-01-01T00:00:00Z"))
    old = api.post(
        "/orders/Z-2/shipment",
        {"carrier": "DHL", "tracking_number": "1", "shipped_at": "2020-02-01T00:00:00Z"},
    )
    assert old.status_code == 422 and "days ago" in old.json()["detail"]
    assert not Order.objects.filter(shipped_at__isnull=False).exists()


def test_one_refused_store_does_not_sink_the_batch(api):
    api.post("/orders", order_body("S-1", store="s-1", seller="u-1"))
    batch = [
        order_body("S-2", store="s-1", seller="u-2"),  # s-1's seller cannot change
        order_body("S-3", store="s-3", seller="u-3"),
        order_body("S-4", store="s-4", seller="u-4"),
        order_body("S-5", store="s-5", seller="u-4"),  # u-4 would own two stores
    ]
    response = api.post("/orders/batch", {"orders": batch})
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["refused", "created", "created", "refused"]
    assert set(ExternalOrder.objects.values_list("external_id", flat=True)) == {
        "S-1",
        "S-3",
        "S-4",
    }


def test_the_same_order_written_differently_is_unchanged(api):
    api.post("/orders", order_body("N-1"))
    api.post("/orders/N-1/shipment", {"carrier": "DHL", "tracking_number": "1"})
    body = order_body("N-1", paid_at="2026-11-20T11:00:00+01:00")
    for line in body["lines"]:
        line["unit_price"] = line["unit_price"].rstrip("0")  # "45.0" for "45.00"
    body["amount_paid"] = "105.0"
    again = api.post("/orders", body)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"


def claim():
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


def disputed(api, order_id="F-1"):
    api.post("/orders", order_body(order_id))
    api.post(f"/orders/{order_id}/shipment", {"carrier": "DHL", "tracking_number": "1"})
    order = ExternalOrder.objects.get(external_id=order_id).order
    return open_dispute(line=order.lines.order_by("id").first(), buyer=order.buyer, request=claim())


def test_the_feed_holds_back_events_until_their_writers_have_committed(api, settings):
    settings.PORTAL_API_FEED_LAG = timedelta(seconds=30)
    disputed(api)
    assert api.get("/events").json()["items"] == []
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert [e["kind"] for e in api.get("/events").json()["items"]] == ["opened"]


def test_a_refusal_is_kept_under_its_idempotency_key(api):
    first = api.post("/orders/Q-1/cancellation", headers={"Idempotency-Key": "c1"})
    assert first.status_code == 404
    api.post("/orders", order_body("Q-1"))
    again = api.post("/orders/Q-1/cancellation", headers={"Idempotency-Key": "c1"})
    assert again.status_code == 404 and again["Idempotent-Replayed"] == "true"


def test_a_replay_keeps_its_message_id_and_can_be_replayed_again(api, integration, settings):
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True  # no DNS here
    webhook_endpoint_create(integration=integration, url="https://hooks.example.com/x")
    disputed(api)
    original = WebhookDelivery.objects.get()
    replay = webhook_replay(delivery=original)
    again = webhook_replay(delivery=replay)
    assert original.message_id == replay.message_id == again.message_id


def test_staff_only_events_stay_with_staff(api, integration, bob, settings):
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True  # no DNS here
    webhook_endpoint_create(integration=integration, url="https://hooks.example.com/x")
    dispute = disputed(api)
    dispute_propose(
        dispute_id=dispute.pk,
        user=dispute.store.owner,
        outcome=OutcomeType.REJECTED,
        note="No.",
        now=timezone.now() + timedelta(hours=1),
    )
    disputes_sweep_due(now=timezone.now() + timedelta(days=9))
    from disputes.services import dispute_assign

    sam = make_arbitrator()
    dispute_assign(dispute_id=dispute.pk, user=sam, assignee=sam)
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        kinds = [e["kind"] for e in api.get("/events").json()["items"]]
    assert "escalated" in kinds and "assigned" not in kinds
    assert not WebhookDelivery.objects.filter(event_type="dispute.assigned").exists()


def test_ipv4_hidden_in_ipv6_is_judged_as_ipv4(monkeypatch, integration, settings):
    import socket

    from api.webhooks import UnsafeDestination, check_destination

    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = False
    for hidden in ("64:ff9b::a9fe:a9fe", "::ffff:10.0.0.1", "::127.0.0.1"):
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda *args, hidden=hidden, **kwargs: [
                (socket.AF_INET6, 1, 6, "", (hidden, 443, 0, 0))
            ],
        )
        with pytest.raises(UnsafeDestination):
            check_destination("https://rebind.example/hook")


def test_a_key_whose_first_request_died_can_be_used_again(api, integration):
    from api.models import IdempotentResponse

    IdempotentResponse.objects.create(
        integration=integration,
        key="k9",
        request_digest="whatever",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    response = api.post("/orders", order_body("D-9"), headers={"Idempotency-Key": "k9"})
    assert response.status_code == 201
