"""The marketplace sends where each parcel goes (optional), correctable until it ships."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from api import services
from orders.models import Order
from orders.services import LineSpec
from tests.api.conftest import api, integration, order_body  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def order_in(country: str) -> services.OrderIn:
    seller = services.Person("u-9", "u-9@sellers.test", "Bob Seller")
    return services.OrderIn(
        id="A-1",
        buyer=services.Person("b-1", "b-1@buyers.test", "Alice Martin"),
        store=services.StoreIn("s-1", "Bob's Boutique", seller),
        lines=[LineSpec("Summer dress", 1, Decimal("30.00"))],
        currency="USD",
        payment_method="card",
        amount_paid=Decimal("30.00"),
        paid_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        protection_days=60,
        destination_country=country,
    )


def test_destination_country_is_recorded_and_corrected_until_shipment(integration):  # noqa: F811
    services.orders_ingest(integration=integration, orders=[order_in("de")])
    order = Order.objects.get()
    assert order.destination_country == "DE"
    services.orders_ingest(integration=integration, orders=[order_in("FR")])
    order.refresh_from_db()
    assert order.destination_country == "FR"
    Order.objects.filter(pk=order.pk).update(shipped_at=order.placed_at)
    services.orders_ingest(integration=integration, orders=[replace(order_in("PL"))])
    order.refresh_from_db()
    assert order.destination_country == "FR"  # shipped: an incident may count it already


def test_a_bad_country_is_refused(api):  # noqa: F811
    assert api.post("/orders", order_body("A-3", destination_country="DEU")).status_code == 422
    assert not Order.objects.exists()
