"""Two workers sending the same backlog at once: every message reaches the receiver once,
and the messages about one dispute arrive in order."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from werkzeug import Response

from api.models import ExternalOrder, WebhookDelivery
from api.services import webhook_endpoint_create
from api.webhooks import webhooks_deliver_due
from disputes.services import DisputeRequest, dispute_accept
from tests.api.conftest import order_body
from tests.factories import open_dispute

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_two_workers_deliver_each_message_once_and_in_order(
    require_postgres, api, integration, httpserver, settings
):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    webhook_endpoint_create(integration=integration, url=httpserver.url_for("/hook"))
    seen: list[dict] = []
    lock = threading.Lock()

    def receive(request):
        time.sleep(0.05)
        with lock:
            seen.append(json.loads(request.get_data()))
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(receive)
    claim = DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )
    for n in range(4):
        api.post("/orders", order_body(f"T-{n}"))
        api.post(f"/orders/T-{n}/shipment", {"carrier": "DHL", "tracking_number": "1"})
        order = ExternalOrder.objects.get(external_id=f"T-{n}").order
        dispute = open_dispute(line=order.lines.first(), buyer=order.buyer, request=claim)
        dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    total = WebhookDelivery.objects.count()
    assert total >= 12

    def worker():
        try:
            webhooks_deliver_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    webhooks_deliver_due()  # whatever waited behind a message the other worker held

    ids = [message["id"] for message in seen]
    assert len(ids) == len(set(ids)) == total
    assert WebhookDelivery.objects.filter(delivered_at__isnull=True).count() == 0
    for dispute_id in {m["data"]["dispute_id"] for m in seen if "dispute_id" in m["data"]}:
        kinds = [
            m["type"]
            for m in seen
            if m["data"].get("dispute_id") == dispute_id and m["type"].startswith("dispute.")
        ]
        assert kinds == ["dispute.opened", "dispute.accepted", "dispute.resolved"], kinds
