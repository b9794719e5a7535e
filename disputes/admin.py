from django.contrib import admin

from disputes.models import Dispute, DisputeEvent, DisputeMessage


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class EventInline(ReadOnlyInline):
    model = DisputeEvent
    fields = [
        "created_at",
        "kind",
        "actor",
        "actor_party",
        "from_state",
        "to_state",
        "note",
        "deadline_due_at",
    ]
    readonly_fields = fields


class MessageInline(ReadOnlyInline):
    model = DisputeMessage
    fields = ["created_at", "author", "author_party", "body"]
    readonly_fields = fields


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Every dispute, read-only: the state moves only through services (arbitration later)."""

    list_display = [
        "id",
        "order",
        "line",
        "buyer",
        "store",
        "reason",
        "state",
        "requested_amount",
        "next_deadline_at",
        "opened_at",
    ]
    list_filter = ["state", "reason", "deadline_kind", "store"]
    search_fields = ["order__number", "buyer__username", "buyer__email", "store__name"]
    list_select_related = ["order", "line", "buyer", "store"]
    date_hierarchy = "opened_at"
    inlines = [EventInline, MessageInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DisputeEvent)
class DisputeEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "dispute",
        "kind",
        "actor",
        "actor_party",
        "from_state",
        "to_state",
        "deadline_due_at",
    ]
    list_filter = ["kind", "actor_party"]
    list_select_related = ["dispute", "actor"]
    search_fields = ["dispute__order__number", "note"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
