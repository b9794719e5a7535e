from datetime import timedelta

import pytest
import time_machine

from orders.models import Order
from orders.services import (
    OrderError,
    order_complete_expired,
    order_confirm_receipt,
    order_mark_shipped,
    orders_complete_expired,
)
from orders.states import CompletionReason, OrderState
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def test_shipping_starts_the_protection_clock(alice, bobs_store, bob, now):
    order = make_order(buyer=alice, store=bobs_store, protection_days=75)
    order = order_mark_shipped(
        order=order, seller=bob, carrier="DHL", tracking_number="JD0001", now=now
    )
    order.refresh_from_db()
    assert order.state == OrderState.SHIPPED
    assert order.shipped_at == now
    assert order.protection_ends_at == now + timedelta(days=75)
    assert (order.carrier, order.tracking_number) == ("DHL", "JD0001")


@pytest.mark.parametrize("who", ["alice", "carol", "dave", "sam"])
def test_only_the_stores_seller_can_ship(who, persona, alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store)
    with pytest.raises(OrderError):
        order_mark_shipped(order=order, seller=persona(who), carrier="DHL", tracking_number="X1")
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.shipped_at is None


def test_an_order_ships_once(alice, bobs_store, bob, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now)
    with pytest.raises(OrderError, match="cannot be shipped"):
        order_mark_shipped(order=order, seller=bob, carrier="UPS", tracking_number="NEW1")
    order.refresh_from_db()
    assert order.tracking_number == "RR123456789CN"


def test_buyer_confirms_receipt_and_the_post_close_window_starts(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=3))
    order_confirm_receipt(order=order, buyer=alice, now=now)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert order.completed_at == now
    assert order.completion_reason == CompletionReason.BUYER_CONFIRMED
    assert order.dispute_window_ends_at == now + timedelta(days=15)


@pytest.mark.parametrize("who", ["carol", "bob", "dave", "sam"])
def test_only_the_orders_buyer_can_confirm_receipt(who, persona, alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now)
    with pytest.raises(OrderError):
        order_confirm_receipt(order=order, buyer=persona(who))
    order.refresh_from_db()
    assert order.state == OrderState.SHIPPED


def test_receipt_cannot_be_confirmed_before_shipment(alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store)
    with pytest.raises(OrderError, match="once the order has shipped"):
        order_confirm_receipt(order=order, buyer=alice)
    order.refresh_from_db()
    assert order.state == OrderState.PAID


def test_confirming_twice_is_harmless(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=3))
    order_confirm_receipt(order=order, buyer=alice, now=now)
    order_confirm_receipt(order=order, buyer=alice, now=now + timedelta(days=2))
    order.refresh_from_db()
    assert order.completed_at == now
    assert order.dispute_window_ends_at == now + timedelta(days=15)


def test_protection_running_out_completes_the_order_at_its_end(alice, bobs_store, now):
    order = make_order(
        buyer=alice, store=bobs_store, protection_days=60, shipped_at=now - timedelta(days=60)
    )
    ends = order.protection_ends_at
    assert order_complete_expired(order_id=order.pk, now=ends - timedelta(seconds=1)) is False
    order.refresh_from_db()
    assert order.state == OrderState.SHIPPED

    # The sweep runs a day late: the order still completes at the end of protection.
    assert order_complete_expired(order_id=order.pk, now=ends + timedelta(days=1)) is True
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert order.completed_at == ends
    assert order.completion_reason == CompletionReason.PROTECTION_EXPIRED
    assert order.dispute_window_ends_at == ends + timedelta(days=15)
    assert order_complete_expired(order_id=order.pk, now=ends + timedelta(days=2)) is False


def test_sweep_completes_every_expired_order_once(alice, bobs_store, now):
    expired = [
        make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=61 + i))
        for i in range(3)
    ]
    running = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=10))
    paid = make_order(buyer=alice, store=bobs_store)
    with time_machine.travel(now, tick=False):
        assert orders_complete_expired() == 3
        assert orders_complete_expired() == 0
    states = dict(Order.objects.values_list("pk", "state"))
    assert {states[o.pk] for o in expired} == {OrderState.COMPLETED}
    assert states[running.pk] == OrderState.SHIPPED
    assert states[paid.pk] == OrderState.PAID


def test_state_cannot_be_assigned_directly(alice, bobs_store):
    order = make_order(buyer=alice, store=bobs_store)
    with pytest.raises(AttributeError):
        order.state = OrderState.COMPLETED


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("alice", True), ("bob", True), ("carol", False), ("dave", False), ("sam", False)],
)
def test_an_unshipped_order_is_cancelled_by_its_buyer_or_seller(
    who, allowed, persona, alice, bobs_store, now
):
    from orders.services import order_cancel

    order = make_order(buyer=alice, store=bobs_store)
    if allowed:
        order_cancel(order=order, by=persona(who), now=now)
        order_cancel(order=order, by=persona(who), now=now + timedelta(hours=1))
        order.refresh_from_db()
        assert (order.state, order.cancelled_at) == (OrderState.CANCELLED, now)
    else:
        with pytest.raises(OrderError):
            order_cancel(order=order, by=persona(who), now=now)
        order.refresh_from_db()
        assert order.state == OrderState.PAID


def test_a_shipped_order_cannot_be_cancelled(alice, bob, bobs_store, now):
    from orders.services import order_cancel

    order = make_order(buyer=alice, store=bobs_store, shipped_at=now)
    with pytest.raises(OrderError, match="open a dispute instead"):
        order_cancel(order=order, by=bob, now=now)
