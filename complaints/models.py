from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.labels import ChoiceLabels
from orders.models import Order, Store


class ComplaintState(models.TextChoices):
    OPEN = "open", _("Waiting for staff")
    ANSWERED = "answered", _("Answered by staff")


class Complaint(ChoiceLabels, models.Model):
    """A buyer's complaint about a seller to the administration: what is left once an
    order's dispute windows have closed. It has its own queue in admin."""

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="complaints",
        verbose_name=_("buyer"),
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("order")
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("store")
    )
    body = models.TextField(_("complaint"))
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=16, choices=ComplaintState.choices, default=ComplaintState.OPEN
    )
    answer = models.TextField(_("staff answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        # The table was made when complaints lived in the disputes app; it keeps its name.
        db_table = "disputes_complaint"
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="complaint_queue"),
            # "My complaints", newest first.
            models.Index(fields=["buyer", "-created_at"], name="complaint_buyer_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state=ComplaintState.OPEN) | ~Q(answer=""),
                name="complaint_answered_has_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} · {self.store}"
