"""Money: refunds recorded within their caps and sent once, escrow released to sellers,
coupons issued. Every write here happens under the order's row lock.

The invariants, for every line and every order, held by CHECK constraints in the
database as well as by the checks below:

    refunded_total <= paid            paid_out_total >= 0
    refunded_total + paid_out_total <= paid

Writers lock the orders concerned (``SELECT ... FOR UPDATE``, in id order so that two
writers never deadlock), read the running totals, and add to them in one statement.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import staff_may
from orders.bulk import insert_rows
from orders.hooks import call_hook
from orders.models import Order, OrderLine
from orders.services import lock_orders
from orders.states import OrderChange, OrderState
from refunds.gateway import GatewayError, get_gateway
from refunds.models import Coupon, Payout, PayoutKind, Refund, RefundState

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class RefundError(Exception):
    """A refund that cannot be made, with the reason in words."""


class RefundChange:
    """What the refunds app reports about a refund (``settings.PORTAL_REFUND_HOOK``)."""

    SENT = "sent"
    ARRIVED = "arrived"
    FAILED = "failed"


@dataclass(frozen=True)
class RefundRequest:
    line_id: int
    amount: Decimal
    reason: str
    dispute_id: int | None = None


MONEY_FIELDS = (
    "pk",
    "state",
    "store_id",
    "currency",
    "payment_method",
    "total_paid",
    "refunded_total",
    "paid_out_total",
)


def _lock_orders(order_ids: Iterable[int]) -> dict[int, Order]:
    return lock_orders(order_ids, fields=MONEY_FIELDS)


def _order_of(line_ids: Iterable[int]) -> dict[int, int]:
    """Each line's order id. On PostgreSQL the ids travel as one array parameter: a sweep
    batch settles thousands of lines, and an ``IN`` list of as many parameters costs more
    to build than the query takes to run."""
    line_ids = list(set(line_ids))
    if connection.vendor != "postgresql":
        return dict(OrderLine.objects.filter(pk__in=line_ids).values_list("pk", "order_id"))
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, order_id FROM {table} WHERE id = ANY(%s::bigint[])",  # noqa: S608
            [line_ids],
        )
        return dict(cursor.fetchall())


def lock_orders_of_lines(line_ids: Iterable[int]) -> dict[int, Order]:
    """Lock the orders of these lines, in id order (the one lock order of money writes)."""
    return _lock_orders(set(_order_of(line_ids).values()))


def _lines(line_ids: Iterable[int]) -> dict[int, OrderLine]:
    return {
        line.pk: line
        for line in OrderLine.objects.filter(pk__in=set(line_ids)).only(
            "pk", "order_id", "quantity", "unit_price", "refunded_total", "paid_out_total"
        )
    }


def _add_to_totals(
    model: type[Order] | type[OrderLine], field: str, amounts: dict[int, Decimal]
) -> None:
    """``field += amount`` for each row, in one statement on PostgreSQL."""
    amounts = {pk: amount for pk, amount in amounts.items() if amount}
    if not amounts:
        return
    if connection.vendor == "postgresql" and len(amounts) > 1:
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(model._meta.get_field(field).column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {column} = {table}.{column} + v.amount"  # noqa: S608
                f" FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, amount)"
                f" WHERE {table}.id = v.id",
                [list(amounts), list(amounts.values())],
            )
        return
    for pk, amount in amounts.items():
        # Rounded to cents: SQLite does this arithmetic in binary floating point.
        model.objects.filter(pk=pk).update(**{field: Round(F(field) + amount, 2)})


def refunds_create(
    *, requests: Sequence[RefundRequest], now: datetime | None = None
) -> list[Refund]:
    """Record refunds for order lines, never above what was paid for a line or its order.

    Call it inside the transaction that decides the outcomes: the rows are written with
    the outcome or not at all. Each refund gets its idempotency key now, before any call
    to the gateway, which is asked after the commit (one task for the whole set).

    A line already paid out to the seller (its order completed, then a dispute opened in
    the post-close window) has the refunded part taken back from the seller's payout.
    """
    now = now or timezone.now()
    if not requests:
        return []
    for item in requests:
        if item.amount <= 0 or item.amount != item.amount.quantize(CENT):
            raise RefundError(_("A refund is a positive amount in cents."))
    per_line: dict[int, Decimal] = {}
    for item in requests:
        per_line[item.line_id] = per_line.get(item.line_id, ZERO) + item.amount
    with transaction.atomic():
        order_of = _order_of(per_line)
        if len(order_of) != len(per_line):
            raise RefundError(_("No such order line."))
        orders = _lock_orders(order_of.values())
        lines = _lines(per_line)  # read under the orders' locks: the totals are current
        refunded_order: dict[int, Decimal] = {}
        clawback_line: dict[int, Decimal] = {}
        clawback_order: dict[int, Decimal] = {}
        for line_id, amount in per_line.items():
            line = lines[line_id]
            if line.refunded_total + amount > line.amount_paid:
                raise RefundError(
                    _("Refunds for this item would exceed the %(paid)s paid for it.")
                    % {"paid": line.amount_paid}
                )
            over = line.refunded_total + amount + line.paid_out_total - line.amount_paid
            if over > 0:
                clawback_line[line_id] = -over
                clawback_order[line.order_id] = clawback_order.get(line.order_id, ZERO) - over
            refunded_order[line.order_id] = refunded_order.get(line.order_id, ZERO) + amount
        for order_id, amount in refunded_order.items():
            if orders[order_id].refunded_total + amount > orders[order_id].total_paid:
                raise RefundError(_("Refunds for this order would exceed what was paid."))
        try:
            with transaction.atomic():
                _add_to_totals(OrderLine, "paid_out_total", clawback_line)
                _add_to_totals(Order, "paid_out_total", clawback_order)
                _add_to_totals(OrderLine, "refunded_total", per_line)
                _add_to_totals(Order, "refunded_total", refunded_order)
        except IntegrityError as exc:  # a writer that skipped the lock: the database says no
            raise RefundError(_("Refunds would exceed what was paid.")) from exc
        rows = insert_rows(
            Refund,
            [
                Refund(
                    order_id=order_of[item.line_id],
                    line_id=item.line_id,
                    dispute_id=item.dispute_id,
                    amount=item.amount,
                    currency=orders[order_of[item.line_id]].currency,
                    method=orders[order_of[item.line_id]].payment_method,
                    reason=item.reason[:200],
                    created_at=now,
                )
                for item in requests
            ],
        )
        if clawback_line:
            first_refund = {}
            for row in rows:
                first_refund.setdefault(row.line_id, row)
            Payout.objects.bulk_create(
                Payout(
                    store_id=orders[order_of[line_id]].store_id,
                    order_id=order_of[line_id],
                    line_id=line_id,
                    kind=PayoutKind.CLAWBACK,
                    amount=amount,
                    currency=orders[order_of[line_id]].currency,
                    refund=first_refund[line_id],
                    created_at=now,
                )
                for line_id, amount in clawback_line.items()
            )
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: _queue_send(ids))
    return rows


def refund_create(
    *,
    line: OrderLine,
    amount: Decimal,
    reason: str,
    dispute_id: int | None = None,
    now: datetime | None = None,
) -> Refund:
    """One refund for one line (see ``refunds_create``)."""
    (refund,) = refunds_create(
        requests=[RefundRequest(line.pk, amount, reason, dispute_id)], now=now
    )
    return refund


# --- escrow ------------------------------------------------------------------------------------
def payouts_release(*, line_ids: Iterable[int], now: datetime | None = None) -> list[Payout]:
    """Release to the seller each given line's share that is due, once.

    A line's share is due when its order is completed and no dispute on the line is
    unfinished; it is what was paid less what was refunded. Lines not due yet are left
    alone (they are released later, when their order completes or their dispute ends);
    a line already released is not released again.
    """
    now = now or timezone.now()
    line_ids = set(line_ids)
    if not line_ids:
        return []
    with transaction.atomic():
        order_of = _order_of(line_ids)
        orders = _lock_orders(order_of.values())
        due = {pk for pk in line_ids if orders[order_of[pk]].state == OrderState.COMPLETED}
        if not due:
            return []
        # Read under the orders' locks: a dispute finishing now waits for them, so it
        # sees this release, or this release sees it finished.
        due -= set(
            OrderLine.objects.filter(
                pk__in=due, dispute__isnull=False, dispute__finished_at__isnull=True
            ).values_list("pk", flat=True)
        )
        due -= set(
            Payout.objects.filter(line_id__in=due, kind=PayoutKind.RELEASE).values_list(
                "line_id", flat=True
            )
        )
        if not due:
            return []
        lines = _lines(due)
        per_line = {pk: lines[pk].held_in_escrow for pk in due}
        per_order: dict[int, Decimal] = {}
        for pk, amount in per_line.items():
            per_order[order_of[pk]] = per_order.get(order_of[pk], ZERO) + amount
        _add_to_totals(OrderLine, "paid_out_total", per_line)
        _add_to_totals(Order, "paid_out_total", per_order)
        payouts = Payout.objects.bulk_create(
            Payout(
                store_id=orders[order_of[pk]].store_id,
                order_id=order_of[pk],
                line_id=pk,
                kind=PayoutKind.RELEASE,
                amount=amount,
                currency=orders[order_of[pk]].currency,
                created_at=now,
            )
            for pk, amount in sorted(per_line.items())
        )
        call_hook("PORTAL_PAYOUT_HOOK", payouts=payouts, at=now)
        return payouts


def order_release_settled(*, order_id: int, now: datetime | None = None) -> list[Payout]:
    """An order completed: release every line of it that has no unfinished dispute."""
    line_ids = OrderLine.objects.filter(order_id=order_id).values_list("pk", flat=True)
    return payouts_release(line_ids=list(line_ids), now=now)


def order_changed(*, order_id: int, change: str, at: datetime) -> None:
    """What the orders app reports (``settings.PORTAL_ORDER_HOOK``), in its transaction:
    a completed order releases its settled lines; a cancelled one is refunded."""
    if change == OrderChange.COMPLETED:
        order_release_settled(order_id=order_id, now=at)
    elif change == OrderChange.CANCELLED:
        order_refund_cancelled(order_id=order_id, now=at)
    else:
        raise ValueError(f"unknown order change {change!r}")


def order_refund_cancelled(*, order_id: int, now: datetime | None = None) -> list[Refund]:
    """A cancelled order: everything not yet refunded goes back to the buyer."""
    with transaction.atomic():
        _lock_orders([order_id])
        requests = [
            RefundRequest(line.pk, line.held_in_escrow, _("Order cancelled"))
            for line in OrderLine.objects.filter(order_id=order_id)
            if line.held_in_escrow > 0
        ]
        return refunds_create(requests=requests, now=now)


# --- coupons -----------------------------------------------------------------------------------
def new_coupon_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing to misread: no 0/O, 1/I
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


@dataclass(frozen=True)
class CouponRequest:
    store_id: int
    buyer_id: int
    value: Decimal
    currency: str
    expires_at: datetime
    dispute_id: int | None = None


def coupons_issue(
    *, requests: Sequence[CouponRequest], now: datetime | None = None
) -> list[Coupon]:
    """Issue coupons: each a code worth its value in its store, until it expires."""
    now = now or timezone.now()
    return Coupon.objects.bulk_create(
        Coupon(
            code=new_coupon_code(),
            store_id=item.store_id,
            buyer_id=item.buyer_id,
            dispute_id=item.dispute_id,
            value=item.value,
            currency=item.currency,
            issued_at=now,
            expires_at=item.expires_at,
        )
        for item in requests
    )


# --- sending -----------------------------------------------------------------------------------
def _queue_send(ids: list[int]) -> None:
    from refunds.tasks import send_refunds

    try:
        send_refunds.delay(ids)
    except Exception:
        # The rows stay pending with their keys; the retry sweep sends them.
        logger.warning("broker unreachable: %d refund(s) stay pending", len(ids))


def retry_delay(attempts: int):
    """Backoff before the next attempt: 1, 2, 4... minutes, an hour at most."""
    return min(
        settings.PORTAL_REFUND_RETRY_FIRST * 2 ** max(attempts - 1, 0),
        settings.PORTAL_REFUND_RETRY_LONGEST,
    )


def _report(refund: Refund, change: str, at: datetime, note: str = "") -> None:
    """Tell whoever listens (the dispute's timeline and mail) in this transaction."""
    call_hook("PORTAL_REFUND_HOOK", refund=refund, change=change, at=at, note=note)


def refund_send(*, refund_id: int, now: datetime | None = None) -> Refund:
    """Ask the gateway to send the refund (with its stored idempotency key) and record the
    answer. Safe to run any number of times, at once or after a crash: a sent refund is
    not sent again, and a retry after a lost reply reuses the key, so the gateway moves
    the money once. A failure is retried with backoff, then flagged to staff."""
    refund = Refund.objects.get(pk=refund_id)
    if refund.state in (RefundState.SENT, RefundState.ARRIVED) or refund.flagged:
        return refund
    try:
        reference = get_gateway().refund(
            idempotency_key=refund.idempotency_key,
            amount=refund.amount,
            currency=refund.currency,
            method=refund.method,
        )
    except GatewayError as exc:
        at = now or timezone.now()
        with transaction.atomic():
            locked = Refund.objects.select_for_update().get(pk=refund_id)
            if locked.state in (RefundState.PENDING, RefundState.FAILED) and not locked.flagged:
                locked.attempts += 1
                give_up = (
                    not exc.retryable or locked.attempts >= settings.PORTAL_REFUND_MAX_ATTEMPTS
                )
                locked.mark_failed(error=str(exc), flag=give_up)
                locked.next_attempt_at = None if give_up else at + retry_delay(locked.attempts)
                locked.save()
                if give_up:
                    _report(
                        locked,
                        RefundChange.FAILED,
                        at,
                        _("The payment gateway refused the refund; staff will see to it."),
                    )
        raise
    at = now or timezone.now()
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        if locked.state in (RefundState.PENDING, RefundState.FAILED):
            locked.attempts += 1
            locked.mark_sent(reference=reference, at=at)
            locked.next_attempt_at = None
            locked.save()
            _report(locked, RefundChange.SENT, at)
    return locked


def refunds_due(*, now: datetime):
    """Refunds to (re)send: pending ones a minute old whose first send may have been lost
    (broker down, worker killed), and failed ones whose backoff has passed."""
    from django.db.models import Q

    first_try_lost = now - settings.PORTAL_REFUND_RETRY_FIRST
    return Refund.objects.filter(
        state__in=[RefundState.PENDING, RefundState.FAILED], flagged=False
    ).filter(
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, created_at__lte=first_try_lost)
    )


def refunds_send_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send every refund that is due; each failure is recorded on its row and retried later."""
    now = now or timezone.now()
    counts = {"sent": 0, "failed": 0}
    for refund_id in (
        refunds_due(now=now).order_by("created_at", "id").values_list("pk", flat=True)[:limit]
    ):
        try:
            refund_send(refund_id=refund_id, now=now)
            counts["sent"] += 1
        except GatewayError:
            counts["failed"] += 1
    return counts


def refund_retry(*, refund_id: int, user: User, now: datetime | None = None) -> Refund:
    """Staff send a flagged refund again (after fixing its cause)."""
    if not staff_may(user, "refunds.change_refund"):
        raise RefundError(_("Only staff who handle refunds can retry one."))
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        if locked.state != RefundState.FAILED:
            raise RefundError(_("Only a failed refund can be retried."))
        locked.flagged = False
        locked.next_attempt_at = now or timezone.now()
        locked.save(update_fields=["flagged", "next_attempt_at"])
    return locked


def refund_mark_arrived(*, refund_id: int, user: Any, now: datetime | None = None) -> Refund:
    """The buyer (or staff) says the money reached the account. Saying it twice is harmless."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Refund.objects.select_for_update().select_related("order").get(pk=refund_id)
        staff = staff_may(user, "refunds.change_refund")
        if user.pk != locked.order.buyer_id and not staff:
            raise RefundError(_("This refund is not yours."))
        if locked.state == RefundState.ARRIVED:
            return locked
        if locked.state != RefundState.SENT:
            raise RefundError(_("This refund has not been sent yet."))
        locked.mark_arrived(at=now)
        locked.save()
        _report(locked, RefundChange.ARRIVED, now)
    return locked


def refund_report_outcome(
    *, refund_id: int, arrived: bool, note: str = "", now: datetime | None = None
) -> Refund:
    """The marketplace or its payment provider reports a sent refund's fate: it arrived,
    or it bounced (flagged for staff, who retry it once the cause is fixed). Reporting the
    same outcome twice is harmless; a refund not sent yet cannot arrive."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund_id)
        target = RefundState.ARRIVED if arrived else RefundState.FAILED
        if locked.state == target and (arrived or locked.flagged):
            return locked
        if locked.state != RefundState.SENT:
            raise RefundError(
                _("Only a sent refund can be reported; this one is %(state)s.")
                % {"state": locked.get_state_display().lower()}
            )
        if arrived:
            locked.mark_arrived(at=now)
            change = RefundChange.ARRIVED
        else:
            locked.mark_failed(error=note or "reported failed by the marketplace", flag=True)
            change = RefundChange.FAILED
        locked.save()
        _report(locked, change, now, note)
    return locked
