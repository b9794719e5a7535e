from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.roles import staff_may
from orders.admin import RecordAdmin, StoreFilter
from refunds.models import Coupon, GatewayCall, Payout, Refund
from refunds.selectors import refunds_overdue
from refunds.services import RefundError, refund_mark_arrived, refund_retry

logger = logging.getLogger(__name__)


def _queue_one(task: Any, refund_id: int) -> None:
    """Queue the send; with the broker down the refund is already due and the periodic
    resend picks it up within a minute."""
    try:
        task.delay(refund_id)
    except Exception:
        logger.warning("broker unreachable: refund %s waits for the periodic resend", refund_id)


class OverdueFilter(admin.SimpleListFilter):
    """Sent refunds whose latest expected arrival date has passed: someone should ask."""

    title = _("arrival")
    parameter_name = "arrival"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", _("Overdue (sent, expected date passed)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        if self.value() == "overdue":
            return refunds_overdue(queryset=queryset)
        return queryset


@admin.register(Refund)
class RefundAdmin(RecordAdmin):
    """Refunds as the gateway saw them; never edited by hand. Flagged ones need a person:
    "Retry now" makes a failed refund due again and sends it; "Mark as arrived" records
    what the buyer told staff."""

    list_display = [
        "id",
        "order",
        "line",
        "dispute",
        "amount",
        "currency",
        "method",
        "state",
        "flagged",
        "attempts",
        "created_at",
        "sent_at",
        "expected_by",
        "arrived_at",
    ]
    list_filter = [OverdueFilter, "state", "flagged", "method"]
    # The dispute column prints the dispute's line: both come with the row.
    list_select_related = ["order", "line", "dispute__line"]
    search_fields = ["order__number", "gateway_reference", "idempotency_key"]
    actions = ["retry_now", "mark_arrived"]

    def has_refund_permission(self, request: HttpRequest) -> bool:
        """Staff who handle refunds (the services check the same permission)."""
        return staff_may(request.user, "refunds.change_refund")

    @admin.action(description=_("Retry now"), permissions=["refund"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        from refunds.tasks import send_refund

        done = 0
        for refund_id in queryset.values_list("pk", flat=True):
            try:
                refund_retry(refund_id=refund_id, user=request.user)
            except RefundError as exc:
                self.message_user(request, f"#{refund_id}: {exc}", messages.ERROR)
                continue
            transaction.on_commit(partial(_queue_one, send_refund, refund_id))
            done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(n)d refund is queued to be sent again.",
                    "%(n)d refunds are queued to be sent again.",
                    done,
                )
                % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Mark as arrived"), permissions=["refund"])
    def mark_arrived(self, request: HttpRequest, queryset: QuerySet[Refund]) -> None:
        done = 0
        for refund_id in queryset.values_list("pk", flat=True):
            try:
                refund_mark_arrived(refund_id=refund_id, user=request.user)
            except RefundError as exc:
                self.message_user(request, f"#{refund_id}: {exc}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(n)d refund is marked as arrived.",
                    "%(n)d refunds are marked as arrived.",
                    done,
                )
                % {"n": done},
                messages.SUCCESS,
            )


@admin.register(Payout)
class PayoutAdmin(RecordAdmin):
    """The seller's money leaving escrow (negative rows take back a later refund)."""

    list_display = ["created_at", "store", "order", "line", "kind", "amount", "currency"]
    list_filter = ["kind", StoreFilter]
    list_select_related = ["store", "order", "line"]
    search_fields = ["order__number", "store__name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Coupon)
class CouponAdmin(RecordAdmin):
    list_display = ["code", "store", "buyer", "value", "currency", "issued_at", "expires_at"]
    list_select_related = ["store", "buyer"]
    search_fields = ["code"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GatewayCall)
class GatewayCallAdmin(RecordAdmin):
    list_display = ["created_at", "reference", "amount", "currency", "method", "idempotency_key"]
    search_fields = ["reference", "idempotency_key"]
