"""Reads of orders and stores, always scoped to the person asking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Min, Prefetch, QuerySet

from disputes import deadlines
from orders.models import IncidentOrder, Order, OrderLine, Store
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
    """A store's orders, newest first, with their lines and the lines' disputes."""
    qs = Order.objects.filter(store=store)
    if state:
        qs = qs.filter(state=state)
    # The disputes come with the lines (a join): the page shows which dispute holds a line.
    return qs.select_related("store", "buyer").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("dispute").order_by("id"))
    )


def line_dispute(line: OrderLine) -> Any | None:
    """The line's dispute, if one was opened (read through the reverse relation, so that
    orders never imports the disputes app)."""
    return getattr(line, "dispute", None)


def dispute_holds_line(line: OrderLine) -> Any | None:
    """The dispute that keeps the line's money in escrow: one not finished yet. A line's
    share is released only once its dispute has ended (and its order has completed)."""
    dispute = line_dispute(line)
    return dispute if dispute is not None and dispute.finished_at is None else None


@dataclass(frozen=True)
class ReceiptLine:
    """A line of an order about to be confirmed: its dispute if one was opened, and whether
    that dispute keeps the line's money in escrow (it has not ended)."""

    line: OrderLine
    dispute: Any | None
    held: bool


@dataclass(frozen=True)
class ReceiptConfirmation:
    """What confirming receipt of an order now would change, line by line.

    The seller is paid, when the order completes, for every line not held by a dispute (less
    what was refunded); a held line stays in escrow until its dispute ends. A line without a
    dispute can still be disputed until ``disputes_until`` (the post-close window counted from
    now) instead of ``disputes_until_otherwise`` (the window if the order completes at the end
    of its protection).
    """

    order: Order
    lines: list[ReceiptLine]
    disputes_until: datetime
    disputes_until_otherwise: datetime | None

    @property
    def held(self) -> list[ReceiptLine]:
        return [item for item in self.lines if item.held]

    @property
    def released(self) -> list[ReceiptLine]:
        return [item for item in self.lines if not item.held]

    @property
    def disputed(self) -> list[ReceiptLine]:
        return [item for item in self.lines if item.dispute is not None]

    @property
    def disputable(self) -> list[ReceiptLine]:
        return [item for item in self.lines if item.dispute is None]


def receipt_confirmation(*, order: Order, now: datetime) -> ReceiptConfirmation:
    """What the "Confirm receipt" page tells the buyer of ``order`` (from
    ``orders_for_buyer``: lines and their disputes already fetched), as of ``now``."""
    lines = [
        ReceiptLine(
            line=line,
            dispute=line_dispute(line),
            held=dispute_holds_line(line) is not None,
        )
        for line in order.lines.all()
    ]
    return ReceiptConfirmation(
        order=order,
        lines=lines,
        disputes_until=deadlines.post_close_ends_at(completed_at=now),
        disputes_until_otherwise=order.dispute_window(now=now).until,
    )


def store_order_counts(*, store: Store) -> dict[str, int]:
    """How many of the store's orders are in each state (one query: COUNT(*) is an
    index-only scan of the (store, state) index; counting ids would read every row)."""
    rows = Order.objects.filter(store=store).order_by().values("state").annotate(n=Count("*"))
    counts = {state.value: 0 for state in OrderState}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def store_running_clocks(*, store: Store) -> dict[str, object]:
    """How many of the store's disputes have a clock running, and the nearest deadline.

    Read through the reverse relation so that orders never imports the disputes app.
    """
    return store.disputes.filter(next_deadline_at__isnull=False).aggregate(
        waiting=Count("*"), nearest=Min("next_deadline_at")
    )


@dataclass(frozen=True)
class IncidentNote:
    """What a page says of an incident that extended an order: by how many days, and why."""

    incident_id: int
    days: int
    reason: str
    running: bool


def incident_notes_for_orders(*, order_ids: Iterable[int]) -> dict[int, list[IncidentNote]]:
    """order id -> the incidents that extended it (oldest first), for a page's orders at once
    (one query). An incident ended before a day had passed extended nothing: left out."""
    notes: dict[int, list[IncidentNote]] = {}
    rows = (
        IncidentOrder.objects.filter(order_id__in=list(order_ids))
        .select_related("incident")
        .order_by("incident__started_at", "incident_id")
    )
    for row in rows:
        incident = row.incident
        if incident.days_added:
            notes.setdefault(row.order_id, []).append(
                IncidentNote(
                    incident_id=incident.pk,
                    days=incident.days_added,
                    reason=incident.reason,
                    running=incident.is_running,
                )
            )
    return notes
