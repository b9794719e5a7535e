"""The money invariants of SPEC.md "Money", checked against the database.

``check_money`` re-reads every order given and asserts, for each line and each order:

- the running totals are the sums of the rows they summarise (refunds, payouts);
- refunds never exceed what was paid; payouts are never negative; payouts and refunds
  together never exceed what was paid;
- a line is released to the seller at most once;
- the simulated gateway's ledger has one call per refund at most, each call belongs to
  exactly one refund, and a sent or arrived refund has exactly one call for its amount.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count

from orders.models import Order, OrderLine
from refunds.models import GatewayCall, Payout, PayoutKind, Refund, RefundState

ZERO = Decimal("0.00")

# Every move a refund may make between two looks at it (staying put included).
REFUND_MOVES = {
    RefundState.PENDING: {RefundState.PENDING, RefundState.SENT, RefundState.FAILED},
    RefundState.FAILED: {RefundState.FAILED, RefundState.SENT},
    RefundState.SENT: {RefundState.SENT, RefundState.ARRIVED},
    RefundState.ARRIVED: {RefundState.ARRIVED},
}


def check_money(order_ids: Iterable[int]) -> None:
    order_ids = sorted(set(order_ids))
    orders = {order.pk: order for order in Order.objects.filter(pk__in=order_ids)}
    assert set(orders) == set(order_ids)
    lines = list(OrderLine.objects.filter(order_id__in=order_ids).order_by("pk"))
    refunds = list(Refund.objects.filter(order_id__in=order_ids).order_by("pk"))
    payouts = list(Payout.objects.filter(order_id__in=order_ids).order_by("pk"))

    refunded_by_line: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for refund in refunds:
        assert refund.amount > 0, refund
        assert refund.line.order_id == refund.order_id, refund
        refunded_by_line[refund.line_id] += refund.amount
    paid_out_by_line: dict[int, Decimal] = defaultdict(lambda: ZERO)
    releases: dict[int, int] = defaultdict(int)
    for payout in payouts:
        paid_out_by_line[payout.line_id] += payout.amount
        if payout.kind == PayoutKind.RELEASE:
            assert payout.amount >= 0, payout
            releases[payout.line_id] += 1
        else:
            assert payout.kind == PayoutKind.CLAWBACK, payout
            assert payout.amount < 0, payout
            assert payout.refund_id is not None, payout

    per_order: dict[int, list[OrderLine]] = defaultdict(list)
    for line in lines:
        per_order[line.order_id].append(line)
        paid = line.quantity * line.unit_price
        where = f"line {line.pk} of order {line.order_id}"
        assert line.refunded_total == refunded_by_line[line.pk], where
        assert line.paid_out_total == paid_out_by_line[line.pk], where
        assert ZERO <= line.refunded_total <= paid, where
        assert line.paid_out_total >= ZERO, where
        assert line.refunded_total + line.paid_out_total <= paid, where
        assert releases[line.pk] <= 1, where
        # A clawback only ever follows a release of the same line.
        if any(p.line_id == line.pk and p.kind == PayoutKind.CLAWBACK for p in payouts):
            assert releases[line.pk] == 1, where

    for order_id, order in orders.items():
        where = f"order {order_id}"
        mine = per_order[order_id]
        assert order.refunded_total == sum((x.refunded_total for x in mine), ZERO), where
        assert order.paid_out_total == sum((x.paid_out_total for x in mine), ZERO), where
        assert order.refunded_total == sum(
            (r.amount for r in refunds if r.order_id == order_id), ZERO
        ), where
        assert order.paid_out_total == sum(
            (p.amount for p in payouts if p.order_id == order_id), ZERO
        ), where
        assert ZERO <= order.refunded_total <= order.total_paid, where
        assert order.paid_out_total >= ZERO, where
        assert order.refunded_total + order.paid_out_total <= order.total_paid, where

    check_gateway_ledger(refunds)


def check_gateway_ledger(refunds: list[Refund]) -> None:
    """One gateway call per refund at most; sent and arrived refunds have exactly theirs."""
    keys = [refund.idempotency_key for refund in refunds]
    calls = {
        call.idempotency_key: call for call in GatewayCall.objects.filter(idempotency_key__in=keys)
    }
    for refund in refunds:
        call = calls.get(refund.idempotency_key)
        where = f"refund {refund.pk} ({refund.state})"
        if refund.state in (RefundState.SENT, RefundState.ARRIVED):
            assert call is not None, where
            assert call.amount == refund.amount, where
            assert call.currency == refund.currency, where
            assert call.reference == refund.gateway_reference, where
            assert refund.sent_at is not None and refund.attempts >= 1, where
            assert refund.expected_from is not None and refund.expected_by is not None, where
            assert refund.next_attempt_at is None, where
        else:
            assert refund.sent_at is None and refund.gateway_reference == "", where
        if refund.state == RefundState.ARRIVED:
            assert refund.arrived_at is not None and refund.arrived_at >= refund.sent_at, where
        else:
            assert refund.arrived_at is None, where
        if refund.state == RefundState.FAILED:
            assert refund.attempts >= 1 and refund.last_error, where
            # Flagged: no automatic retry; otherwise the backoff says when.
            assert (refund.next_attempt_at is None) == refund.flagged, where
        if refund.state == RefundState.PENDING:
            assert refund.attempts == 0 and not refund.flagged, where
        if call is not None:
            assert call.times_asked >= 1, where
    # Every call in the ledger belongs to exactly one refund (the key is unique on both).
    every_key = GatewayCall.objects.values("idempotency_key").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in every_key)
    orphans = GatewayCall.objects.exclude(
        idempotency_key__in=Refund.objects.values("idempotency_key")
    )
    assert not orphans.exists(), list(orphans)
    duplicated = Refund.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicated.exists()


def check_refund_moves(seen: dict[int, str], refunds: Iterable[Refund]) -> None:
    """Each refund moved only forward since it was last seen (ARRIVED only after SENT)."""
    for refund in refunds:
        before = seen.get(refund.pk, RefundState.PENDING)
        assert refund.state in REFUND_MOVES[before], (refund.pk, before, refund.state)
        seen[refund.pk] = refund.state
