"""Reads of orders and stores, always scoped to the person asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Min, Prefetch, QuerySet

from orders.models import Order, OrderLine, Store
from orders.states import OrderState

if TYPE_CHECKING:
    from accounts.models import User


def store_for_seller(*, user: User) -> Store | None:
    if not user.is_authenticated:
        return None
    return Store.objects.filter(owner=user).first()


def _with_lines(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.select_related("store", "buyer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def orders_for_buyer(*, user: User) -> QuerySet[Order]:
    """The buyer's own orders, newest first, with their lines, store and line disputes."""
    return _with_lines(Order.objects.filter(buyer=user)).prefetch_related("lines__dispute")


def orders_for_store(*, store: Store, state: str | None = None) -> QuerySet[Order]:
    """A store's orders, with their lines; those waiting for shipment first."""
    qs = Order.objects.filter(store=store)
    if state:
        qs = qs.filter(state=state)
    return _with_lines(qs)


def store_order_counts(*, store: Store) -> dict[str, int]:
    """How many of the store's orders are in each state (one query)."""
    rows = Order.objects.filter(store=store).values("state").annotate(n=Count("id"))
    counts = {state.value: 0 for state in OrderState}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def store_running_clocks(*, store: Store) -> dict[str, object]:
    """How many of the store's disputes have a clock running, and the nearest deadline.

    Read through the reverse relation so that orders never imports the disputes app.
    """
    return store.disputes.filter(next_deadline_at__isnull=False).aggregate(
        waiting=Count("id"), nearest=Min("next_deadline_at")
    )
