from django.contrib import admin

from orders.admin import RecordAdmin
from refunds.models import GatewayCall, Refund


@admin.register(Refund)
class RefundAdmin(RecordAdmin):
    """Refunds as the gateway saw them; flagged ones need a person."""

    list_display = [
        "id",
        "order",
        "line",
        "amount",
        "currency",
        "method",
        "state",
        "flagged",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["state", "flagged", "method"]
    list_select_related = ["order", "line"]
    search_fields = ["order__number", "gateway_reference", "idempotency_key"]


@admin.register(GatewayCall)
class GatewayCallAdmin(RecordAdmin):
    list_display = ["created_at", "reference", "amount", "currency", "method", "idempotency_key"]
    search_fields = ["reference", "idempotency_key"]
