"""An integration with a key, and a client that speaks the API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from api.keys import api_key_create
from api.models import Integration


class ApiClient:
    def __init__(self, client, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}
        for name, value in (extra or {}).items():
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        return headers

    def get(self, path, params=None, headers=None):
        return self.client.get(f"/api/v1{path}", params or {}, **self._headers(headers))

    def post(self, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            f"/api/v1{path}", data=data, content_type="application/json", **self._headers(headers)
        )

    def delete(self, path, headers=None):
        return self.client.delete(f"/api/v1{path}", **self._headers(headers))


@pytest.fixture
def integration(db):
    return Integration.objects.create(name="Shopmania", contact_email="ops@shopmania.test")


@pytest.fixture
def other_integration(db):
    return Integration.objects.create(name="Bazaar", contact_email="ops@bazaar.test")


@pytest.fixture
def api(client, integration):
    _key, raw = api_key_create(integration=integration, name="tests")
    return ApiClient(client, raw)


@pytest.fixture
def other_api(client, other_integration):
    _key, raw = api_key_create(integration=other_integration, name="tests")
    return ApiClient(client, raw)


def order_body(order_id="A-1", *, lines=None, buyer="b-1", store="s-1", seller="u-9", **extra):
    lines = lines or [
        {
            "product": "Summer dress",
            "variant": {"colour": "red", "size": "M"},
            "quantity": 1,
            "unit_price": "45.00",
        },
        {
            "product": "Summer dress",
            "variant": {"colour": "blue", "size": "M"},
            "quantity": 2,
            "unit_price": "30.00",
        },
    ]
    total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
    body = {
        "id": order_id,
        "buyer": {"id": buyer, "email": f"{buyer}@buyers.test", "name": "Alice Martin"},
        "store": {
            "id": store,
            "name": "Bob's Boutique",
            "seller": {"id": seller, "email": f"{seller}@sellers.test", "name": "Bob Stone"},
        },
        "lines": lines,
        "currency": "USD",
        "payment_method": "card",
        "amount_paid": str(total),
        "paid_at": "2026-11-20T10:00:00Z",
        "protection_days": 60,
    }
    body.update(extra)
    return body


@pytest.fixture(autouse=True)
def _no_feed_lag(settings):
    """The feed's hold-back (PORTAL_API_FEED_LAG) is tested on its own; elsewhere events
    show at once."""
    from datetime import timedelta

    settings.PORTAL_API_FEED_LAG = timedelta(0)
