"""Writes to orders: each function is one business step in one transaction."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed

from orders.hooks import call_hook
from orders.models import Order, OrderLine, Store
from orders.states import CompletionReason, OrderChange, OrderState

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


class OrderError(Exception):
    """A refused order action, with a message meant for the person who tried it."""


@dataclass(frozen=True)
class LineSpec:
    product_name: str
    quantity: int
    unit_price: Decimal
    colour: str = ""
    size: str = ""


def _report(order_id: int, change: str, at: datetime) -> None:
    """Tell the money side (escrow release, refunds) in this transaction."""
    call_hook("PORTAL_ORDER_HOOK", order_id=order_id, change=change, at=at)


def _new_order_number() -> str:
    return f"PO-{secrets.randbelow(10**10):010d}"


def order_create(
    *,
    buyer: User,
    store: Store,
    lines: Sequence[LineSpec],
    payment_method: str,
    protection_days: int | None = None,
    currency: str | None = None,
    placed_at: datetime | None = None,
    number: str | None = None,
) -> Order:
    """Record a paid order (what the marketplace pushes in). The total is the lines' sum."""
    if not lines:
        raise OrderError(_("An order needs at least one line."))
    total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    with transaction.atomic():
        order = Order(
            number=number or _new_order_number(),
            buyer=buyer,
            store=store,
            total_paid=total,
            payment_method=payment_method,
            placed_at=placed_at or timezone.now(),
        )
        if protection_days is not None:
            order.protection_days = protection_days
        if currency:
            order.currency = currency
        order.full_clean(exclude=["state"])
        order.save()
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product_name=line.product_name,
                colour=line.colour,
                size=line.size,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in lines
        )
    return order


def lock_orders(order_ids: Iterable[int], *, fields: Sequence[str] = ()) -> dict[int, Order]:
    """Lock these orders for the transaction, in id order: the one lock order every writer
    of orders and their money follows, so that two writers never wait on each other in a
    cycle. ``fields`` limits what is read (all fields by default)."""
    rows = Order.objects.select_for_update().filter(pk__in=set(order_ids)).order_by("pk")
    return {order.pk: order for order in (rows.only(*fields) if fields else rows)}


def _locked(order_id: int) -> Order:
    order = lock_orders([order_id]).get(order_id)
    if order is None:
        raise Order.DoesNotExist(order_id)
    return order


def order_mark_shipped(
    *,
    order: Order,
    seller: User,
    carrier: str,
    tracking_number: str,
    now: datetime | None = None,
) -> Order:
    """The store's seller ships the order: the buyer-protection clock starts now."""
    now = now or timezone.now()
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise OrderError(_("Enter the carrier and the tracking number."))
    with transaction.atomic():
        locked = _locked(order.pk)
        if locked.store.owner_id != seller.pk:
            raise OrderError(_("Only the store's seller can ship this order."))
        if not can_proceed(locked.ship):
            raise OrderError(
                _("This order cannot be shipped: it is %(state)s.")
                % {"state": locked.get_state_display().lower()}
            )
        locked.ship(carrier=carrier, tracking_number=tracking_number, at=now)
        locked.save()
    return locked


def order_confirm_receipt(*, order: Order, buyer: User, now: datetime | None = None) -> Order:
    """The buyer confirms receipt: the order completes and the post-close window starts.

    Confirming twice is harmless: the second call returns the completed order unchanged.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(order.pk)
        if locked.buyer_id != buyer.pk:
            raise OrderError(_("Only the buyer can confirm receipt of this order."))
        if locked.state == OrderState.COMPLETED:
            return locked
        if not can_proceed(locked.complete):
            raise OrderError(_("Receipt can be confirmed once the order has shipped."))
        locked.complete(reason=CompletionReason.BUYER_CONFIRMED, at=now)
        locked.save()
        # The undisputed lines' share leaves escrow now; disputed ones when settled.
        _report(locked.pk, OrderChange.COMPLETED, now)
    return locked


def order_cancel(*, order: Order, by: User, now: datetime | None = None) -> Order:
    """Cancel an order that has not shipped (the buyer or the store's seller). Cancelling
    twice is harmless; a shipped order cannot be cancelled (the buyer disputes instead)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(order.pk)
        if by.pk not in (locked.buyer_id, locked.store.owner_id):
            raise OrderError(_("Only the buyer or the store's seller can cancel this order."))
        if locked.state == OrderState.CANCELLED:
            return locked
        if not can_proceed(locked.cancel):
            raise OrderError(_("A shipped order cannot be cancelled; open a dispute instead."))
        locked.cancel(at=now)
        locked.save()
        _report(locked.pk, OrderChange.CANCELLED, now)
    return locked


def orders_due(*, now: datetime):
    """Shipped orders whose protection has run out and that are not pushed aside."""
    return Order.objects.filter(state=OrderState.SHIPPED, protection_ends_at__lte=now).filter(
        Q(sweep_retry_at__isnull=True) | Q(sweep_retry_at__lte=now)
    )


def order_complete_expired(*, order_id: int, now: datetime) -> bool:
    """Complete one shipped order whose protection has run out. True if this call did it.

    The row is claimed with ``SKIP LOCKED`` and re-checked under the lock, so a second
    sweeper, or a buyer confirming at the same moment, makes this a harmless no-op. The
    order counts as completed at the end of its protection, not when the sweep ran, so a
    late sweep never lengthens or shortens the post-close window.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk=order_id, state=OrderState.SHIPPED, protection_ends_at__lte=now)
            .first()
        )
        if order is None:
            return False
        order.complete(reason=CompletionReason.PROTECTION_EXPIRED, at=order.protection_ends_at)
        order.sweep_failures, order.sweep_error, order.sweep_retry_at = 0, "", None
        try:
            order.save()
        except ConcurrentTransition:
            return False
        _report(order.pk, OrderChange.COMPLETED, now)
    return True


def orders_complete_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Complete every order whose protection ended, oldest first; returns how many.

    A row that fails is pushed aside (retried later with backoff), never blocking the rest.
    """
    now = now or timezone.now()
    done = 0
    while True:
        due = list(
            orders_due(now=now)
            .order_by("protection_ends_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        progress = 0
        for order_id in due:
            try:
                moved = order_complete_expired(order_id=order_id, now=now)
            except Exception as exc:
                Order.push_aside(order_id, exc, now)
                progress += 1
                continue
            done += moved
            progress += moved
        if not progress:
            return done


@dataclass(frozen=True)
class OrderSpec:
    """An order as a marketplace sends it, people and store already resolved."""

    buyer_id: int
    store_id: int
    lines: Sequence[LineSpec]
    payment_method: str
    currency: str
    placed_at: datetime
    protection_days: int
    number: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))


def orders_create_bulk(*, specs: Sequence[OrderSpec]) -> list[Order]:
    """Record many paid orders at once (a marketplace's batch): three INSERTs whatever the
    number of orders. The caller has validated the specs; the database's constraints
    still hold."""
    if any(not spec.lines for spec in specs):
        raise OrderError(_("An order needs at least one line."))
    with transaction.atomic():
        orders = Order.objects.bulk_create(
            Order(
                number=spec.number or _new_order_number(),
                buyer_id=spec.buyer_id,
                store_id=spec.store_id,
                total_paid=spec.total,
                payment_method=spec.payment_method,
                currency=spec.currency,
                placed_at=spec.placed_at,
                protection_days=spec.protection_days,
            )
            for spec in specs
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product_name=line.product_name,
                colour=line.colour,
                size=line.size,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for order, spec in zip(orders, specs, strict=True)
            for line in spec.lines
        )
    return orders


def order_replace_lines(*, order: Order, spec: OrderSpec) -> Order:
    """Change an order that has not shipped (its lines, money, payment or protection), as
    the marketplace corrects it. Once shipped, money and lines are fixed."""
    with transaction.atomic():
        locked = _locked(order.pk)
        if locked.state != OrderState.PAID:
            raise OrderError(
                _("The order's lines and money cannot change once it has %(state)s.")
                % {"state": locked.get_state_display().lower()}
            )
        locked.total_paid = spec.total
        locked.payment_method = spec.payment_method
        locked.currency = spec.currency
        locked.placed_at = spec.placed_at
        locked.protection_days = spec.protection_days
        locked.full_clean(exclude=["state"])
        locked.save(
            update_fields=[
                "total_paid",
                "payment_method",
                "currency",
                "placed_at",
                "protection_days",
            ]
        )
        locked.lines.all().delete()
        OrderLine.objects.bulk_create(
            OrderLine(
                order=locked,
                product_name=line.product_name,
                colour=line.colour,
                size=line.size,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in spec.lines
        )
    return locked
