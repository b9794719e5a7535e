"""Disputes for the staff dashboard's tests, written as rows with exactly the dates a test
needs (the dashboard reads columns: opened_at, finished_at, escalated_at, reason, outcome).

Orders come from the portal's own services (``tests.factories.make_order``), many lines to
an order so that a few hundred disputes need only a few orders."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from disputes.models import Dispute
from disputes.states import (
    Closing,
    DeadlineKind,
    DisputeState,
    OutcomeType,
    Party,
    Reason,
)
from orders.models import OrderLine
from orders.services import LineSpec
from tests.factories import make_order

CLOSING_OF = {
    OutcomeType.FULL_REFUND: Closing.REFUNDED,
    OutcomeType.PARTIAL_REFUND: Closing.REFUNDED,
    OutcomeType.RETURN_AND_REFUND: Closing.RETURNED_REFUNDED,
    OutcomeType.REPLACEMENT: Closing.REPLACED,
    OutcomeType.COUPON: Closing.COUPON,
    OutcomeType.REJECTED: Closing.REJECTED,
    OutcomeType.WITHDRAWN: Closing.WITHDRAWN,
}


def lines_for(*, buyer, store, count: int, shipped_at: datetime) -> list[OrderLine]:
    """``count`` order lines, 25 to an order, each one item at 40.00."""
    lines: list[OrderLine] = []
    while len(lines) < count:
        take = min(25, count - len(lines))
        order = make_order(
            buyer=buyer,
            store=store,
            lines=[LineSpec(f"Item {n}", 1, Decimal("40.00")) for n in range(take)],
            shipped_at=shipped_at,
        )
        lines.extend(order.lines.select_related("order").order_by("pk"))
    return lines


def dispute_row(
    line: OrderLine,
    *,
    opened_at: datetime,
    reason: str = Reason.DAMAGED,
    finished_at: datetime | None = None,
    outcome: str = "",
    outcome_amount: Decimal | None = None,
    escalated_at: datetime | None = None,
) -> Dispute:
    """An unsaved dispute on ``line``: open, escalated (``escalated_at``) or finished
    (``finished_at`` with ``outcome``)."""
    order = line.order
    fields: dict = {
        "line": line,
        "order": order,
        "buyer_id": order.buyer_id,
        "store_id": order.store_id,
        "received": True,
        "reason": reason,
        "description": "Torn along the seam.",
        "quantity": 1,
        "requested_outcome": "refund_only",
        "requested_amount": Decimal("40.00"),
        "amount_cap": Decimal("40.00"),
        "currency": order.currency,
        "opened_at": opened_at,
        "state": DisputeState.OPEN,
    }
    if escalated_at is not None:
        fields.update(
            state=DisputeState.ESCALATED,
            escalated_at=escalated_at,
            arbitration_target_at=escalated_at + timedelta(days=15),
            arbitration_limit_at=escalated_at + timedelta(days=60),
            next_deadline_at=escalated_at + timedelta(days=60),
            deadline_kind=DeadlineKind.ARBITRATION_LIMIT,
        )
    if finished_at is not None:
        outcome = outcome or OutcomeType.FULL_REFUND
        if outcome_amount is None and outcome in (
            OutcomeType.FULL_REFUND,
            OutcomeType.PARTIAL_REFUND,
            OutcomeType.RETURN_AND_REFUND,
            OutcomeType.COUPON,
        ):
            outcome_amount = (
                Decimal("40.00") if outcome == OutcomeType.FULL_REFUND else Decimal("15.50")
            )
        fields.update(
            state=(
                DisputeState.WITHDRAWN
                if outcome == OutcomeType.WITHDRAWN
                else DisputeState.RESOLVED
            ),
            outcome_type=outcome,
            outcome_amount=outcome_amount,
            closing=CLOSING_OF[OutcomeType(outcome)],
            decided_by=Party.BUYER if outcome == OutcomeType.WITHDRAWN else Party.SELLER,
            decided_at=finished_at,
            finished_at=finished_at,
        )
    return Dispute(**fields)


def write(disputes: list[Dispute]) -> list[Dispute]:
    return Dispute.objects.bulk_create(disputes)


def busy_marketplace(*, buyer, store, now: datetime, count: int, seed: int = 16) -> list[Dispute]:
    """``count`` disputes over the last 100 days: a fifth still open, a fifth escalated
    (some for weeks), the rest ended with every kind of outcome, for every reason."""
    rng = random.Random(seed)
    lines = lines_for(buyer=buyer, store=store, count=count, shipped_at=now - timedelta(days=120))
    reasons = [value for value, _label in Reason.choices]
    outcomes = [value for value, _label in OutcomeType.choices]
    rows = []
    for index, line in enumerate(lines):
        opened = now - timedelta(days=rng.uniform(0.1, 100))
        kind = index % 5
        reason = rng.choice(reasons)
        if kind == 0:
            rows.append(dispute_row(line, opened_at=opened, reason=reason))
        elif kind == 1:
            escalated = min(now, opened + timedelta(days=rng.uniform(5, 12)))
            rows.append(dispute_row(line, opened_at=opened, reason=reason, escalated_at=escalated))
        else:
            # Ended before now: between an hour and 30 days after it was opened.
            open_hours = (now - opened).total_seconds() / 3600
            finished = opened + timedelta(hours=rng.uniform(1, max(1.5, min(open_hours, 720))))
            finished = min(finished, now)
            rows.append(
                dispute_row(
                    line,
                    opened_at=opened,
                    reason=reason,
                    finished_at=finished,
                    outcome=rng.choice(outcomes),
                )
            )
    return write(rows)
