"""Orders in: created on first sight, the same order twice changes nothing, money fixed
after shipment, batches, problems, keys, idempotency and rate limits."""

from __future__ import annotations

import pytest
from django.test import override_settings

from api.keys import api_key_revoke
from api.models import ApiKey, ExternalOrder, ExternalPerson, ExternalStore
from orders.models import Order
from orders.states import OrderState
from tests.api.conftest import order_body

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def test_an_order_is_created_with_its_people_and_store_on_first_sight(api, integration):
    response = api.post("/orders", order_body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["id"], body["status"], body["state"], body["amount_paid"]) == (
        "A-1",
        "created",
        "paid",
        "105.00",
    )
    order = ExternalOrder.objects.get(integration=integration, external_id="A-1").order
    assert order.lines.count() == 2
    assert order.buyer.email == "b-1@buyers.test"
    assert order.buyer.get_full_name() == "Alice Martin"
    assert not order.buyer.has_usable_password()
    assert order.store.owner.email == "u-9@sellers.test"
    assert ExternalPerson.objects.filter(integration=integration).count() == 2
    assert ExternalStore.objects.filter(integration=integration).count() == 1


def test_the_same_order_twice_changes_nothing(api):
    api.post("/orders", order_body())
    again = api.post("/orders", order_body())
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert Order.objects.count() == 1


def test_an_unshipped_order_can_be_corrected_a_shipped_one_cannot(api):
    api.post("/orders", order_body())
    fewer = order_body(lines=[{"product": "Summer dress", "quantity": 1, "unit_price": "45.00"}])
    corrected = api.post("/orders", fewer)
    assert corrected.json()["status"] == "updated"
    assert corrected.json()["amount_paid"] == "45.00"

    shipped = api.post("/orders/A-1/shipment", {"carrier": "DHL", "tracking_number": "JD0001"})
    assert shipped.status_code == 200
    assert shipped.json()["state"] == OrderState.SHIPPED
    assert shipped.json()["protection_ends_at"]

    changed = api.post("/orders", order_body())
    assert changed.status_code == 409
    assert changed["Content-Type"] == PROBLEM
    assert changed.json()["type"].endswith("/order-locked")
    assert Order.objects.get().total_paid == 45


def test_amount_paid_must_be_the_lines_sum(api):
    response = api.post("/orders", order_body(amount_paid="99.00"))
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert "sum of the lines" in response.json()["detail"]
    assert not Order.objects.exists()


def test_malformed_bodies_are_problems_not_500s(api):
    for raw in ["{", "[]", '{"id": ""}', "null"]:
        response = api.post("/orders", raw=raw)
        assert response.status_code in (400, 422), raw
        assert response["Content-Type"] == PROBLEM
        assert response.json()["type"].startswith("https://")


def test_a_batch_reports_each_order(api):
    orders = [order_body(f"B-{n}", buyer=f"b-{n % 7}") for n in range(30)]
    orders.append(order_body("bad", amount_paid="1.00"))
    response = api.post("/orders/batch", {"orders": orders})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results].count("created") == 30
    assert results[-1]["status"] == "refused"
    assert results[-1]["problem"]["type"].endswith("/validation")
    assert Order.objects.count() == 30
    again = api.post("/orders/batch", {"orders": orders[:30]})
    assert {r["status"] for r in again.json()["results"]} == {"unchanged"}


def test_a_batch_over_500_is_refused(api):
    response = api.post("/orders/batch", {"orders": [order_body(f"C-{n}") for n in range(501)]})
    assert response.status_code == 422


def test_shipment_receipt_and_cancellation_go_through_the_order_services(api):
    api.post("/orders", order_body("S-1"))
    api.post("/orders", order_body("S-2"))
    assert api.post("/orders/S-1/receipt").status_code == 409  # not shipped yet
    api.post("/orders/S-1/shipment", {"carrier": "DHL", "tracking_number": "1"})
    received = api.post("/orders/S-1/receipt")
    assert received.json()["state"] == OrderState.COMPLETED
    assert received.json()["dispute_window_ends_at"]
    cancelled = api.post("/orders/S-2/cancellation")
    assert cancelled.json()["state"] == OrderState.CANCELLED
    # Reported twice: harmless.
    assert api.post("/orders/S-2/cancellation").status_code == 200
    assert api.post("/orders/S-1/cancellation").status_code == 409


def test_keys_are_required_and_revocable(client, api):
    anonymous = client.get("/api/v1/disputes")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == PROBLEM
    wrong = client.get("/api/v1/disputes", HTTP_AUTHORIZATION="Bearer dpk_nope_nope")
    assert wrong.status_code == 401
    assert api.get("/disputes").status_code == 200
    key = ApiKey.objects.get()
    assert key.last_used_at is not None
    api_key_revoke(key=key)
    assert api.get("/disputes").status_code == 401


def test_an_integration_sees_nothing_of_another(api, other_api):
    api.post("/orders", order_body("X-1"))
    assert other_api.get("/orders/X-1").status_code == 404
    assert (
        other_api.post("/orders/X-1/shipment", {"carrier": "a", "tracking_number": "b"}).status_code
        == 404
    )
    assert other_api.post("/orders/X-1/cancellation").status_code == 404
    # The same external ids are another marketplace's own records.
    created = other_api.post("/orders", order_body("X-1"))
    assert created.status_code == 201
    assert Order.objects.count() == 2


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api):
    first = api.post("/orders", order_body("I-1"), headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    replay = api.post("/orders", order_body("I-1"), headers={"Idempotency-Key": "k1"})
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    other = api.post("/orders", order_body("I-2"), headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-mismatch")
    assert Order.objects.count() == 1


@override_settings(PORTAL_API_RATE="3/m")
def test_rate_limited_per_key_with_retry_after(api, other_api):
    import time_machine
    from django.core.cache import cache

    cache.clear()
    # Inside one window of the fixed-window counter (a minute boundary would reset it).
    with time_machine.travel("2026-11-27 12:00:10+00:00", tick=False):
        codes = [api.get("/disputes").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = api.get("/disputes")
        assert limited["Content-Type"] == PROBLEM
        assert int(limited["Retry-After"]) == 50
        assert other_api.get("/disputes").status_code == 200  # another key: its own budget


def test_an_unexpected_failure_is_a_problem_not_a_page(api, monkeypatch):
    from api import services

    def boom(**kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(services, "orders_ingest", boom)
    response = api.post("/orders", order_body())
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/server-error")
    assert "fell over" not in response.content.decode()


def test_validation_errors_locate_the_field_as_sent(api):
    response = api.post("/orders", order_body(paid_at="yesterday"))
    assert response.status_code == 422
    assert ["body", "paid_at"] in [error["loc"] for error in response.json()["errors"]]
