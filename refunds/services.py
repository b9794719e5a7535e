"""Refunds: recorded under a lock within their caps, sent once to the gateway."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderLine
from refunds.gateway import GatewayError, get_gateway
from refunds.models import Refund, RefundState

logger = logging.getLogger(__name__)


class RefundError(Exception):
    """A refund that cannot be made, with the reason in words."""


def _refunded(**filters) -> Decimal:
    return Refund.objects.filter(**filters).aggregate(total=Sum("amount"))["total"] or Decimal(0)


def refund_create(
    *, line: OrderLine, amount: Decimal, reason: str, now: datetime | None = None
) -> Refund:
    """Record a refund for a line, never above what was paid for the line or the order.

    Call it inside the transaction that decides the outcome: the order row is locked, so
    two outcomes cannot both fit under the cap; the gateway is called after the commit.
    """
    now = now or timezone.now()
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise RefundError(_("A refund is a positive amount in cents."))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=line.order_id)
        line = OrderLine.objects.get(pk=line.pk)
        if _refunded(line=line) + amount > line.amount_paid:
            raise RefundError(
                _("Refunds for this item would exceed the %(paid)s paid for it.")
                % {"paid": line.amount_paid}
            )
        if _refunded(order=order) + amount > order.total_paid:
            raise RefundError(_("Refunds for this order would exceed what was paid."))
        refund = Refund.objects.create(
            order=order,
            line=line,
            amount=amount,
            currency=order.currency,
            method=order.payment_method,
            reason=reason[:200],
            created_at=now,
        )
        transaction.on_commit(lambda: _queue_send(refund.pk))
    return refund


def _queue_send(refund_id: int) -> None:
    from refunds.tasks import send_refund

    try:
        send_refund.delay(refund_id)
    except Exception:
        # The row stays pending with its key; sending it again is always safe.
        logger.warning("broker unreachable: refund %s stays pending", refund_id)


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
