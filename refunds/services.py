"""Refunds: recorded under a lock within their caps, sent once to the gateway."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderLine
from refunds.gateway import GatewayError, get_gateway
from refunds.models import Refund, RefundState

logger = logging.getLogger(__name__)


class RefundError(Exception):
    """A refund that cannot be made, with the reason in words."""


CENT = Decimal("0.01")


@dataclass(frozen=True)
class RefundRequest:
    line_id: int
    amount: Decimal
    reason: str


def refunds_create(
    *, requests: Sequence[RefundRequest], now: datetime | None = None
) -> list[Refund]:
    """Record refunds for order lines, never above what was paid for a line or its order.

    Call it inside the transaction that decides the outcomes. The orders' rows are locked
    (in id order, so two callers never deadlock); each line's and order's
    ``refunded_total`` grows by what is refunded, and the database's CHECK constraints
    refuse any total above what was paid, whoever writes. The gateway is asked after the
    commit (one task for the whole set).
    """
    now = now or timezone.now()
    if not requests:
        return []
    for item in requests:
        if item.amount <= 0 or item.amount != item.amount.quantize(CENT):
            raise RefundError(_("A refund is a positive amount in cents."))
    per_line: dict[int, Decimal] = {}
    for item in requests:
        per_line[item.line_id] = per_line.get(item.line_id, Decimal(0)) + item.amount
    with transaction.atomic():
        lines = {
            line.pk: line
            for line in OrderLine.objects.filter(pk__in=per_line).only(
                "pk", "order_id", "quantity", "unit_price", "refunded_total"
            )
        }
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update()
            .filter(pk__in={line.order_id for line in lines.values()})
            .order_by("pk")
            .only("pk", "currency", "payment_method", "total_paid", "refunded_total")
        }
        per_order: dict[int, Decimal] = {}
        for line_id, amount in per_line.items():
            line = lines[line_id]
            if line.refunded_total + amount > line.amount_paid:
                raise RefundError(
                    _("Refunds for this item would exceed the %(paid)s paid for it.")
                    % {"paid": line.amount_paid}
                )
            per_order[line.order_id] = per_order.get(line.order_id, Decimal(0)) + amount
        for order_id, amount in per_order.items():
            if orders[order_id].refunded_total + amount > orders[order_id].total_paid:
                raise RefundError(_("Refunds for this order would exceed what was paid."))
        try:
            with transaction.atomic():
                _add_to_totals(OrderLine, per_line)
                _add_to_totals(Order, per_order)
        except IntegrityError as exc:  # a writer that skipped the lock: the database says no
            raise RefundError(_("Refunds would exceed what was paid.")) from exc
        rows = Refund.objects.bulk_create(
            Refund(
                order_id=lines[item.line_id].order_id,
                line_id=item.line_id,
                amount=item.amount,
                currency=orders[lines[item.line_id].order_id].currency,
                method=orders[lines[item.line_id].order_id].payment_method,
                reason=item.reason[:200],
                created_at=now,
            )
            for item in requests
        )
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: _queue_send(ids))
    return rows


def _add_to_totals(model: type[Order] | type[OrderLine], amounts: dict[int, Decimal]) -> None:
    """refunded_total += amount for each row, in one statement on PostgreSQL."""
    if connection.vendor == "postgresql" and len(amounts) > 1:
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET refunded_total = {table}.refunded_total + v.amount"  # noqa: S608
                f" FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, amount)"
                f" WHERE {table}.id = v.id",
                [list(amounts), list(amounts.values())],
            )
        return
    for pk, amount in amounts.items():
        model.objects.filter(pk=pk).update(refunded_total=F("refunded_total") + amount)


def refund_create(
    *, line: OrderLine, amount: Decimal, reason: str, now: datetime | None = None
) -> Refund:
    """One refund for one line (see ``refunds_create``)."""
    (refund,) = refunds_create(requests=[RefundRequest(line.pk, amount, reason)], now=now)
    return refund


def _queue_send(ids: list[int]) -> None:
    from refunds.tasks import send_refunds

    try:
        send_refunds.delay(ids)
    except Exception:
        # The rows stay pending with their keys; sending them again is always safe.
        logger.warning("broker unreachable: %d refund(s) stay pending", len(ids))


def refund_send(*, refund_id: int, now: datetime | None = None) -> Refund:
    """Ask the gateway to send the refund (with its stored idempotency key) and record the
    answer. Safe to run any number of times: a sent refund is not sent again, and a retry
    after a lost reply reuses the key, so the gateway moves the money once."""
    refund = Refund.objects.get(pk=refund_id)
    if refund.state in (RefundState.SENT, RefundState.ARRIVED):
        return refund
    try:
        reference = get_gateway().refund(
            idempotency_key=refund.idempotency_key,
            amount=refund.amount,
            currency=refund.currency,
            method=refund.method,
        )
    except GatewayError as exc:
        with transaction.atomic():
            locked = Refund.objects.select_for_update().get(pk=refund_id)
            if locked.state in (RefundState.PENDING, RefundState.FAILED):
                locked.attempts += 1
                give_up = (
                    not exc.retryable or locked.attempts >= settings.PORTAL_REFUND_MAX_ATTEMPTS
                )
                locked.mark_failed(error=str(exc), flag=give_up)
                locked.save()
        raise
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        if locked.state in (RefundState.PENDING, RefundState.FAILED):
            locked.attempts += 1
            locked.mark_sent(reference=reference, at=now or timezone.now())
            locked.save()
    return locked
