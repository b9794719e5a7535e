"""Confirm receipt and shipping, as every persona."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.states import OrderState
from tests.factories import DRESS_LINES, make_order

pytestmark = pytest.mark.django_db

PERSONAS = ["alice", "carol", "bob", "dave", "sam", "anonymous"]


@pytest.fixture
def shipped(alice, bobs_store):
    return make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=2),
    )


@pytest.fixture
def paid(alice, bobs_store):
    return make_order(buyer=alice, store=bobs_store)


def _login_redirect(response, url):
    return response.status_code == 302 and response.url.startswith(reverse("login"))


# --- Confirm receipt ------------------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_confirm_receipt_only_by_the_orders_buyer(who, client_for, shipped):
    url = reverse("orders:confirm_receipt", args=[shipped.number])
    client = client_for(who)
    page = client.get(url)
    response = client.post(url)
    shipped.refresh_from_db()
    if who == "alice":
        assert page.status_code == 200
        assert "ends your buyer protection now" in page.content.decode()
        assert response.status_code == 302
        assert shipped.state == OrderState.COMPLETED
    elif who == "anonymous":
        assert _login_redirect(page, url) and _login_redirect(response, url)
        assert shipped.state == OrderState.SHIPPED
    else:
        assert page.status_code == 404 and response.status_code == 404
        assert shipped.state == OrderState.SHIPPED


def test_confirm_receipt_of_a_paid_order_is_refused_with_a_message(client_for, paid):
    client = client_for("alice")
    response = client.post(reverse("orders:confirm_receipt", args=[paid.number]), follow=True)
    assert "once the order has shipped" in response.content.decode()
    paid.refresh_from_db()
    assert paid.state == OrderState.PAID


def test_confirm_receipt_twice_is_harmless(client_for, shipped):
    client = client_for("alice")
    url = reverse("orders:confirm_receipt", args=[shipped.number])
    client.post(url)
    first = Order.objects.get(pk=shipped.pk).completed_at
    response = client.post(url, follow=True)
    assert response.status_code == 200
    assert Order.objects.get(pk=shipped.pk).completed_at == first
    again = client.get(url, follow=True)
    assert "already confirmed" in again.content.decode()


# --- Shipping -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_mark_shipped_only_by_the_stores_seller(who, client_for, paid):
    url = reverse("orders:ship_order", args=[paid.number])
    client = client_for(who)
    page = client.get(url)
    response = client.post(url, {"carrier": "DHL", "tracking_number": "jd 0001 23"})
    paid.refresh_from_db()
    if who == "bob":
        assert page.status_code == 200
        assert response.status_code == 302
        assert paid.state == OrderState.SHIPPED
        assert paid.tracking_number == "JD000123"
    elif who == "anonymous":
        assert _login_redirect(page, url)
        assert paid.state == OrderState.PAID
    else:
        assert page.status_code == 404 and response.status_code == 404
        assert paid.state == OrderState.PAID


def test_mark_shipped_keeps_what_was_typed_and_says_what_is_wrong(client_for, paid):
    response = client_for("bob").post(
        reverse("orders:ship_order", args=[paid.number]),
        {"carrier": "Royal Mail", "tracking_number": "РР123"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "only letters and digits" in html
    assert 'value="Royal Mail"' in html
    assert 'value="РР123"' in html
    paid.refresh_from_db()
    assert paid.state == OrderState.PAID


def test_shipping_an_already_shipped_order_is_refused_cleanly(client_for, shipped):
    response = client_for("bob").post(
        reverse("orders:ship_order", args=[shipped.number]),
        {"carrier": "DHL", "tracking_number": "AB1"},
    )
    assert response.status_code == 200
    assert "cannot be shipped" in response.content.decode()
