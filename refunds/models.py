from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

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


class Refund(ConcurrentTransitionMixin, models.Model):
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
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
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
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} → {self.order}"

    @transition(
        field=state, source=[RefundState.PENDING, RefundState.FAILED], target=RefundState.SENT
    )
    def mark_sent(self, *, reference: str, at) -> None:
        self.gateway_reference = reference
        self.sent_at = at
        self.last_error = ""

    @transition(
        field=state, source=[RefundState.PENDING, RefundState.FAILED], target=RefundState.FAILED
    )
    def mark_failed(self, *, error: str, flag: bool) -> None:
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

    class Meta:
        verbose_name = _("simulated gateway call")
        verbose_name_plural = _("simulated gateway calls")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference
