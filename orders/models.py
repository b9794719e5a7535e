from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from disputes import deadlines
from orders.payment import PaymentMethod
from orders.states import CompletionReason, OrderState

logger = logging.getLogger(__name__)

MONEY = {"max_digits": 12, "decimal_places": 2}
HALF_CENT = Decimal("0.005")


def default_protection_days() -> int:
    return settings.PORTAL_DEFAULT_PROTECTION_DAYS


def default_currency() -> str:
    return settings.PORTAL_CURRENCY


class Store(models.Model):
    """A seller's shop. Each seller owns exactly one store."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="store",
        verbose_name=_("owner"),
    )
    return_address = models.TextField(_("return address"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SweepBookkeeping(models.Model):
    """What a deadline sweep notes on a row it could not process: it is pushed aside
    (retried later, with backoff) instead of failing the same way on every run."""

    sweep_failures = models.PositiveSmallIntegerField(_("sweep failures"), default=0)
    sweep_error = models.TextField(_("last sweep error"), blank=True)
    sweep_retry_at = models.DateTimeField(_("sweep retries at"), null=True, blank=True)

    class Meta:
        abstract = True

    PUSH_ASIDE_FIRST = timedelta(minutes=5)
    PUSH_ASIDE_LONGEST = timedelta(hours=6)

    @classmethod
    def push_aside(cls, pk: int, error: Exception, now: datetime) -> int:
        """Note the failure and when to try the row again (doubling waits, 6 hours at most).
        Returns how many times it has failed."""
        failures = cls.objects.filter(pk=pk).values_list("sweep_failures", flat=True).first()
        count = (failures or 0) + 1
        wait = min(cls.PUSH_ASIDE_FIRST * 2 ** (count - 1), cls.PUSH_ASIDE_LONGEST)
        cls.objects.filter(pk=pk).update(
            sweep_failures=count,
            sweep_error=f"{type(error).__name__}: {error}"[:2000],
            sweep_retry_at=now + wait,
        )
        logger.error(
            "%s %s pushed aside by the sweep (%s failures): %s",
            cls._meta.model_name,
            pk,
            count,
            error,
        )
        return count


class Order(ConcurrentTransitionMixin, SweepBookkeeping, models.Model):
    """One purchase by one buyer from one store, paid into escrow.

    The state field is protected: it moves only through the transitions below, called by
    ``orders.services``. Deadlines are stored columns computed by ``disputes.deadlines``.
    """

    number = models.CharField(_("order number"), max_length=32, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("buyer"),
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="orders", verbose_name=_("store")
    )
    state = FSMField(
        _("state"), default=OrderState.PAID, choices=OrderState.choices, protected=True
    )
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    total_paid = models.DecimalField(_("amount paid"), **MONEY)
    payment_method = models.CharField(
        _("payment method"), max_length=32, choices=PaymentMethod.choices
    )
    placed_at = models.DateTimeField(_("paid at"), default=timezone.now)
    protection_days = models.PositiveSmallIntegerField(
        _("protection period (days)"), default=default_protection_days
    )
    carrier = models.CharField(_("carrier"), max_length=80, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=80, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    protection_ends_at = models.DateTimeField(_("protection ends at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completion_reason = models.CharField(
        _("completed because"), max_length=32, choices=CompletionReason.choices, blank=True
    )
    dispute_window_ends_at = models.DateTimeField(
        _("disputes allowed until"), null=True, blank=True
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # Kept by refunds.services under the order's row lock; the database refuses more than
    # was paid, refunds and payouts together.
    refunded_total = models.DecimalField(_("refunded"), default=0, **MONEY)
    paid_out_total = models.DecimalField(_("paid out to the seller"), default=0, **MONEY)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        indexes = [
            # The protection sweep's index: only shipped orders wait for their clock.
            models.Index(
                fields=["protection_ends_at"],
                name="order_protection_due",
                condition=Q(state=OrderState.SHIPPED),
            ),
            models.Index(fields=["buyer", "-placed_at"], name="order_buyer_recent"),
            models.Index(fields=["store", "-placed_at"], name="order_store_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total_paid__gte=0), name="order_total_nonnegative"),
            # HALF_CENT: amounts are whole cents, so "<= paid + half a cent" is "<= paid"
            # exactly; the slack only absorbs SQLite's binary floating-point arithmetic.
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0)
                & Q(refunded_total__lte=F("total_paid") + HALF_CENT),
                name="order_refunds_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(paid_out_total__gte=0)
                & Q(paid_out_total__lte=F("total_paid") - F("refunded_total") + HALF_CENT),
                name="order_money_out_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(protection_days__gte=1) & Q(protection_days__lte=365),
                name="order_protection_days_range",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[OrderState.SHIPPED, OrderState.COMPLETED])
                | (Q(shipped_at__isnull=False) & Q(protection_ends_at__isnull=False)),
                name="order_shipped_has_clock",
            ),
            models.CheckConstraint(
                condition=~Q(state=OrderState.COMPLETED)
                | (Q(completed_at__isnull=False) & Q(dispute_window_ends_at__isnull=False)),
                name="order_completed_has_window",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    # --- transitions: fields only; services do the rest -------------------------------------
    @transition(field=state, source=OrderState.PAID, target=OrderState.SHIPPED)
    def ship(self, *, carrier: str, tracking_number: str, at: datetime) -> None:
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.shipped_at = at
        self.protection_ends_at = deadlines.protection_ends_at(
            shipped_at=at, protection_days=self.protection_days
        )

    @transition(field=state, source=OrderState.SHIPPED, target=OrderState.COMPLETED)
    def complete(self, *, reason: CompletionReason, at: datetime) -> None:
        self.completed_at = at
        self.completion_reason = reason
        self.dispute_window_ends_at = deadlines.post_close_ends_at(completed_at=at)

    @transition(field=state, source=OrderState.PAID, target=OrderState.CANCELLED)
    def cancel(self, *, at: datetime) -> None:
        self.cancelled_at = at

    # --- reading ----------------------------------------------------------------------------
    @property
    def held_in_escrow(self) -> Decimal:
        """What the buyer paid that is neither refunded nor paid out to the seller yet."""
        return self.total_paid - self.refunded_total - self.paid_out_total

    def dispute_window(
        self, *, now: datetime, already_disputed: bool = False
    ) -> deadlines.DisputeWindow:
        return deadlines.dispute_window(
            order_state=self.state,
            protection_ends_at=self.protection_ends_at,
            completed_at=self.completed_at,
            now=now,
            already_disputed=already_disputed,
        )


class OrderLine(models.Model):
    """One product (in one variant) of an order, in a quantity, at a unit price."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order")
    )
    product_name = models.CharField(_("product"), max_length=200)
    colour = models.CharField(_("colour"), max_length=60, blank=True)
    size = models.CharField(_("size"), max_length=30, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    refunded_total = models.DecimalField(_("refunded"), default=0, **MONEY)
    paid_out_total = models.DecimalField(_("paid out to the seller"), default=0, **MONEY)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price_nonnegative"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0)
                & Q(refunded_total__lte=F("quantity") * F("unit_price") + HALF_CENT),
                name="line_refunds_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(paid_out_total__gte=0)
                & Q(
                    paid_out_total__lte=F("quantity") * F("unit_price")
                    - F("refunded_total")
                    + HALF_CENT
                ),
                name="line_money_out_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} ({self.variant})" if self.variant else self.product_name

    @property
    def variant(self) -> str:
        return ", ".join(part for part in (self.colour, self.size) if part)

    @property
    def amount_paid(self) -> Decimal:
        return self.price_for(self.quantity)

    @property
    def held_in_escrow(self) -> Decimal:
        return self.amount_paid - self.refunded_total - self.paid_out_total

    def price_for(self, quantity: int) -> Decimal:
        """What the buyer paid for ``quantity`` items of this line."""
        return self.unit_price * quantity
