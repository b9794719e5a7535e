"""Reads for the composite pages: rows gathered from every app, ready to render.

``dashboards`` sits at the top of the layers: it may read orders, disputes, refunds and
complaints, and nothing below imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from complaints.services import complaint_allowed
from disputes.standing import StoreStanding, store_standing
from orders.selectors import dispute_holds_line

if TYPE_CHECKING:
    from disputes.deadlines import DisputeWindow
    from disputes.models import Dispute
    from orders.models import Order, OrderLine


@dataclass(frozen=True)
class LineRow:
    """One line of a buyer's order: its dispute if one was opened, and its window."""

    line: OrderLine
    dispute: Dispute | None
    window: DisputeWindow


@dataclass(frozen=True)
class OrderRow:
    """One of a buyer's orders on "My orders", with what the page says about it."""

    order: Order
    window: DisputeWindow
    standing: StoreStanding | None
    complaint_allowed: bool
    lines: list[LineRow]


def buyer_order_rows(*, orders: Iterable[Order], now: datetime) -> list[OrderRow]:
    """The rows of one page of a buyer's orders (from ``orders_for_buyer``: lines, store and
    line disputes already fetched).

    The stores' standing is one read for the whole page, whatever the number of stores.
    """
    orders = list(orders)
    standings = store_standing(store_ids={order.store_id for order in orders}, with_median=False)
    rows = []
    for order in orders:
        lines = []
        for line in order.lines.all():
            dispute = getattr(line, "dispute", None)
            window = order.dispute_window(now=now, already_disputed=dispute is not None)
            lines.append(LineRow(line=line, dispute=dispute, window=window))
        rows.append(
            OrderRow(
                order=order,
                window=order.dispute_window(now=now),
                standing=standings.get(order.store_id),
                complaint_allowed=complaint_allowed(order=order, now=now),
                lines=lines,
            )
        )
    return rows


@dataclass(frozen=True)
class SellerLineRow:
    """One line of a store's order: the dispute keeping its money in escrow, if any."""

    line: OrderLine
    held_by: Dispute | None


@dataclass(frozen=True)
class SellerOrderRow:
    """One of a store's orders on the seller dashboard."""

    order: Order
    lines: list[SellerLineRow]


def seller_order_rows(*, orders: Iterable[Order]) -> list[SellerOrderRow]:
    """The rows of one page of a store's orders (from ``orders_for_store``: lines and their
    disputes already fetched). Escrow is released line by line: a line whose dispute has not
    ended stays held until it ends, the others when their order completes."""
    return [
        SellerOrderRow(
            order=order,
            lines=[
                SellerLineRow(line=line, held_by=dispute_holds_line(line))
                for line in order.lines.all()
            ],
        )
        for order in orders
    ]
