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
from orders.labels import ChoiceLabels
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


class Order(ChoiceLabels, ConcurrentTransitionMixin, SweepBookkeeping, models.Model):
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
    # ISO 3166-1 alpha-2 ("DE"), as the marketplace sends it; blank when unknown.
    destination_country = models.CharField(
        _("destination country"), max_length=2, blank=True, default=""
    )
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
            # The seller dashboard's state tabs, and the admin's list of every order. Its money
            # columns ride along, so the store's counts per state and its escrow totals are
            # index-only scans, whatever the store's history.
            models.Index(
                fields=["store", "state", "-placed_at"],
                name="order_store_state_recent",
                include=["total_paid", "paid_out_total", "refunded_total"],
            ),
            models.Index(fields=["-placed_at", "-id"], name="order_recent"),
            # Incident mode: a carrier's shipped orders to one country, by shipment date.
            models.Index(
                fields=["carrier", "destination_country", "shipped_at"],
                name="order_incident_match",
                condition=Q(state=OrderState.SHIPPED),
            ),
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


class Incident(models.Model):
    """A carrier's trouble (a strike, a customs backlog, a flood) over the orders it carried
    to one country, shipped between two dates: staff extend their protection and pause the
    running clocks of their disputes for ``days`` (SPEC.md, "Operations", incident mode).

    Started and ended by ``disputes.services.incidents``; ``IncidentOrder`` records what was
    applied to each order, so that ending is exact and happens once."""

    reason = models.TextField(
        _("reason"), help_text=_("Buyers and sellers read it on their pages and in their mail.")
    )
    carrier = models.CharField(_("carrier"), max_length=80)
    destination_country = models.CharField(_("destination country"), max_length=2)
    shipped_from = models.DateField(_("shipped from"))
    shipped_to = models.DateField(_("shipped until"))
    days = models.PositiveSmallIntegerField(_("days"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("started by"),
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )
    # The days the clocks stayed paused, set when it ends (``days`` if it ran its course).
    days_paused = models.PositiveSmallIntegerField(_("days paused"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(days__gte=1) & Q(days__lte=365), name="incident_days_range"
            ),
            models.CheckConstraint(
                condition=Q(shipped_from__lte=F("shipped_to")), name="incident_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(days_paused__isnull=False),
                name="incident_ended_has_days_paused",
            ),
            # The same incident cannot run twice at once (a form sent twice starts one).
            models.UniqueConstraint(
                fields=["carrier", "destination_country", "shipped_from", "shipped_to"],
                condition=Q(ended_at__isnull=True),
                name="incident_running_once",
            ),
        ]

    def __str__(self) -> str:
        country, first, last = self.destination_country, self.shipped_from, self.shipped_to
        return f"{self.carrier} → {country} ({first} to {last})"

    @property
    def is_running(self) -> bool:
        return self.ended_at is None

    @property
    def days_added(self) -> int:
        """The days the orders' clocks are extended by: all of them while it runs."""
        return self.days if self.days_paused is None else self.days_paused


class IncidentOrder(models.Model):
    """One order an incident extended: what was applied, and when it was resumed."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="orders", verbose_name=_("incident")
    )
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="incidents", verbose_name=_("order")
    )
    days = models.PositiveSmallIntegerField(_("days applied"))
    paused_at = models.DateTimeField(_("paused at"))
    resumed_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    # The order's protection end before the incident (what it would have been without it).
    protection_ends_before = models.DateTimeField(_("protection ended before"))
    # Each running dispute of the order as the incident found it: {"<id>": revision}; on
    # ending, a dispute that moved since (a new revision) keeps the clocks it has now.
    disputes = models.JSONField(_("disputes paused"), default=dict, blank=True)

    class Meta:
        verbose_name = _("order in an incident")
        verbose_name_plural = _("orders in incidents")
        ordering = ["incident", "order"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "order"], name="incident_order_once"),
        ]
        indexes = [models.Index(fields=["order", "incident"], name="incident_order_by_order")]

    def __str__(self) -> str:
        return f"{self.incident_id} · {self.order_id}"


class IncidentNotice(ChoiceLabels, models.Model):
    """The outbox of incident mail: one row per person per incident and step (started,
    ended), listing that person's orders; delivered after the commit, retried until sent."""

    class Step(models.TextChoices):
        STARTED = "started", _("Started")
        ENDED = "ended", _("Ended")

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="notices", verbose_name=_("incident")
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="incident_notices",
        verbose_name=_("recipient"),
    )
    step = models.CharField(_("step"), max_length=16, choices=Step.choices)
    # "buyer" or "seller": which of their orders the mail is about.
    role = models.CharField(_("as"), max_length=16)
    order_ids = models.JSONField(_("orders"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("incident notice")
        verbose_name_plural = _("incident notices")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "recipient", "step", "role"], name="incident_notice_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="incident_notice_unsent",
                condition=Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ← {self.incident_id} {self.step}"
