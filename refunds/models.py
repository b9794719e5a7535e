from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from orders.labels import ChoiceLabels
from orders.models import MONEY, Order, OrderLine
from orders.payment import PaymentMethod


class RefundState(models.TextChoices):
    # Recorded with its idempotency key; not yet accepted by the gateway.
    PENDING = "pending", _("Pending")
    # The gateway accepted it; the money is on its way by the payment method.
    SENT = "sent", _("Sent")
    # The money reached the buyer.
    ARRIVED = "arrived", _("Arrived")
    # The gateway refused it or kept failing; retried, then flagged to staff.
    FAILED = "failed", _("Failed")


class Refund(ChoiceLabels, ConcurrentTransitionMixin, models.Model):
    """Money going back to the buyer for one order line, by the order's payment method.

    The idempotency key is stored with the row, before the gateway is ever called, and
    reused on every retry: the gateway sends the money once however often it is asked.
    """

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order")
    )
    line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("line")
    )
    # The dispute whose outcome this is (none for a cancelled order's refund).
    dispute = models.ForeignKey(
        "disputes.Dispute",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        verbose_name=_("dispute"),
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    method = models.CharField(_("payment method"), max_length=32, choices=PaymentMethod.choices)
    reason = models.CharField(_("why"), max_length=200)
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True)
    state = FSMField(
        _("state"), default=RefundState.PENDING, choices=RefundState.choices, protected=True
    )
    gateway_reference = models.CharField(_("gateway reference"), max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    flagged = models.BooleanField(_("needs staff attention"), default=False)
    # When the retry sweep may ask the gateway again (backoff after a failure).
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # The arrival window, in business days by payment method from the day it was sent.
    expected_from = models.DateField(_("expected from"), null=True, blank=True)
    expected_by = models.DateField(_("expected by"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="refund_state_time"),
            models.Index(
                fields=["next_attempt_at"],
                name="refund_unsent_due",
                condition=Q(state__in=["pending", "failed"], flagged=False),
            ),
            models.Index(fields=["dispute"], name="refund_dispute"),
            models.Index(
                fields=["expected_by"], name="refund_awaiting_arrival", condition=Q(state="sent")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} → {self.order}"

    @transition(
        field=state, source=[RefundState.PENDING, RefundState.FAILED], target=RefundState.SENT
    )
    def mark_sent(self, *, reference: str, at) -> None:
        from django.utils import timezone as tz

        from refunds.business_days import expected_arrival

        self.gateway_reference = reference
        self.sent_at = at
        self.last_error = ""
        window = expected_arrival(method=self.method, sent_on=tz.localdate(at))
        self.expected_from, self.expected_by = window.earliest, window.latest

    @transition(
        field=state,
        source=[RefundState.PENDING, RefundState.FAILED, RefundState.SENT],
        target=RefundState.FAILED,
    )
    def mark_failed(self, *, error: str, flag: bool) -> None:
        """The gateway refused it (from pending or failed), or the payment provider reports
        that a sent refund bounced (from sent; always flagged for staff)."""
        self.last_error = error[:2000]
        self.flagged = flag

    @transition(field=state, source=RefundState.SENT, target=RefundState.ARRIVED)
    def mark_arrived(self, *, at) -> None:
        self.arrived_at = at


class GatewayCall(models.Model):
    """The simulated gateway's own ledger: one row per refund it has executed."""

    idempotency_key = models.UUIDField(_("idempotency key"), unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    method = models.CharField(_("payment method"), max_length=32)
    reference = models.CharField(_("reference"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("called at"), default=timezone.now)
    # Every request with this key after the first is answered from this row: the money
    # moves once however often it is asked.
    times_asked = models.PositiveIntegerField(_("times asked"), default=1)

    class Meta:
        verbose_name = _("simulated gateway call")
        verbose_name_plural = _("simulated gateway calls")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference


class PayoutKind(models.TextChoices):
    RELEASE = "release", _("Released to the seller")
    CLAWBACK = "clawback", _("Taken back for a later refund")


class Payout(ChoiceLabels, models.Model):
    """The seller's money leaving escrow, one line at a time.

    A line's share is released once (a unique constraint says so): when its order is
    completed and no dispute on it is unfinished, less what was refunded. If a dispute
    opened in the post-close window refunds a line already paid out, the refund is taken
    back from the seller (a negative ``clawback`` row), so payouts and refunds together
    never exceed what the buyer paid.
    """

    store = models.ForeignKey(
        "orders.Store", on_delete=models.PROTECT, related_name="payouts", verbose_name=_("store")
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("order")
    )
    line = models.ForeignKey(
        OrderLine, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("line")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PayoutKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    refund = models.ForeignKey(
        Refund,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clawbacks",
        verbose_name=_("for refund"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"], condition=Q(kind="release"), name="payout_release_once_per_line"
            ),
            models.CheckConstraint(
                condition=(Q(kind="release") & Q(amount__gte=0))
                | (Q(kind="clawback") & Q(amount__lt=0)),
                name="payout_sign_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["store", "-created_at"], name="payout_store_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class Coupon(models.Model):
    """A dispute's coupon outcome: a code worth the agreed value in the same store."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    store = models.ForeignKey(
        "orders.Store", on_delete=models.PROTECT, related_name="coupons", verbose_name=_("store")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="coupons",
        verbose_name=_("buyer"),
    )
    dispute = models.OneToOneField(
        "disputes.Dispute",
        on_delete=models.PROTECT,
        related_name="coupon",
        verbose_name=_("dispute"),
    )
    value = models.DecimalField(_("value"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("valid until"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("issued_at")), name="coupon_expires_later"
            ),
        ]

    def __str__(self) -> str:
        return self.code
