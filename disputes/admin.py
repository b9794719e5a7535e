from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from disputes.models import Dispute, DisputeEvent, DisputeMessage, Notification
from disputes.services import dispute_hide_evidence
from disputes.sweeps import disputes_stalled
from evidence.models import Evidence
from orders.admin import RecordAdmin


class ClockFilter(admin.SimpleListFilter):
    """Operators' view of the sweeps: overdue rows should not exist for long."""

    title = _("clock")
    parameter_name = "clock"

    def lookups(self, request, model_admin):
        return [
            ("running", _("Clock running")),
            ("overdue", _("Overdue, not processed (scheduler stalled?)")),
            ("pushed_aside", _("Pushed aside by the sweep (failing)")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "running":
            return queryset.filter(next_deadline_at__gt=now)
        if self.value() == "overdue":
            return queryset.filter(pk__in=disputes_stalled(now=now).values("pk"))
        if self.value() == "pushed_aside":
            return queryset.filter(sweep_failures__gt=0, next_deadline_at__isnull=False)
        return queryset


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
class DisputeAdmin(RecordAdmin):
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
    list_filter = [ClockFilter, "state", "reason", "deadline_kind", "store"]
    search_fields = ["order__number", "buyer__username", "buyer__email", "store__name"]
    list_select_related = ["order", "line", "buyer", "store"]
    date_hierarchy = "opened_at"
    inlines = [EventInline, MessageInline]


@admin.register(DisputeEvent)
class DisputeEventAdmin(RecordAdmin):
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

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    """The outbox: unsent rows older than a minute or two mean mail is not going out."""

    list_display = ["created_at", "recipient", "event", "sent_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient", "event"]
    search_fields = ["recipient__username", "recipient__email"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    """Evidence is never edited or deleted. An arbitrator may hide an item by writing the
    reason, which the parties see and the timeline records."""

    list_display = ["id", "dispute", "party", "kind", "original_name", "created_at", "hidden_at"]
    list_filter = ["kind", "party", ("hidden_at", admin.EmptyFieldListFilter)]
    list_select_related = ["dispute"]
    search_fields = ["original_name", "received_sha256", "dispute__order__number"]

    exclude = ["file", "thumbnail"]

    def get_readonly_fields(self, request, obj=None):
        fields = [
            field.name
            for field in self.model._meta.fields
            if field.name not in ("file", "thumbnail")
        ] + ["view"]
        if obj is not None and obj.hidden_at is None and self._may_hide(request):
            fields.remove("hidden_reason")
        return fields

    @admin.display(description=_("file"))
    def view(self, obj) -> str:
        """The file through the checked view (files are never served from a public URL)."""
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("disputes:evidence_file", args=[obj.dispute_id, obj.pk])
        if obj.kind == "photo":
            thumb = reverse("disputes:evidence_thumbnail", args=[obj.dispute_id, obj.pk])
            return format_html(
                '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" '
                'style="max-width:320px;max-height:240px"></a>',
                url,
                thumb,
            )
        return format_html(
            '<video controls preload="metadata" src="{}" style="max-width:480px"></video>', url
        )

    def _may_hide(self, request) -> bool:
        return request.user.has_perm("evidence.hide_evidence")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_hide(request)

    def save_model(self, request, obj, form, change) -> None:
        reason = form.cleaned_data.get("hidden_reason", "").strip()
        if reason:
            dispute_hide_evidence(evidence_id=obj.pk, user=request.user, reason=reason)
