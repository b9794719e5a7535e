"""Reads of money: the buyer's refund tracker and the seller's escrow figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.states import OrderState
from refunds.models import Coupon, Refund, RefundState

if TYPE_CHECKING:
    from orders.models import Store

ZERO = Decimal("0.00")


def overdue(*, today: date) -> Q:
    """A sent refund whose arrival window has passed without the money arriving."""
    return Q(state=RefundState.SENT, expected_by__lt=today)


def refund_tracker(*, dispute_id: int, today: date) -> QuerySet[Refund]:
    """A dispute's refunds, oldest first, each with its expected arrival window (dates in
    business days by the order's payment method, stored when the refund was sent) and
    ``overdue`` as of ``today``: one query."""
    return (
        Refund.objects.filter(dispute_id=dispute_id)
        .annotate(overdue=ExpressionWrapper(overdue(today=today), output_field=BooleanField()))
        .order_by("created_at", "id")
    )


def dispute_coupon(*, dispute_id: int) -> Coupon | None:
    return Coupon.objects.filter(dispute_id=dispute_id).first()


def refunds_overdue(
    *, today: date | None = None, queryset: QuerySet[Refund] | None = None
) -> QuerySet[Refund]:
    """Sent refunds whose arrival window has passed without the money arriving."""
    today = today or timezone.localdate()
    base = Refund.objects.all() if queryset is None else queryset
    return base.filter(overdue(today=today))


@dataclass(frozen=True)
class EscrowSummary:
    """A store's money: paid by buyers, held in escrow, paid out, refunded."""

    paid: Decimal
    held: Decimal
    paid_out: Decimal
    refunded: Decimal


def store_escrow(*, store: Store) -> EscrowSummary:
    """One query: the totals over the store's orders that were not cancelled (a cancelled
    order's money went back to the buyer)."""
    from orders.models import Order

    totals = Order.objects.filter(store=store).aggregate(
        paid=Coalesce(Sum("total_paid", filter=~Q(state=OrderState.CANCELLED)), ZERO),
        paid_out=Coalesce(Sum("paid_out_total"), ZERO),
        refunded=Coalesce(Sum("refunded_total", filter=~Q(state=OrderState.CANCELLED)), ZERO),
    )
    held = totals["paid"] - totals["paid_out"] - totals["refunded"]
    return EscrowSummary(totals["paid"], held, totals["paid_out"], totals["refunded"])
