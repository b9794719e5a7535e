"""Evidence in admin: read-only, never deleted; arbitrators may hide an item with a reason
(``evidence_hide``), which the case that owns it records on its timeline."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from evidence.models import Evidence
from evidence.services import evidence_hide
from orders.admin import PagedList


@admin.register(Evidence)
class EvidenceAdmin(PagedList, admin.ModelAdmin):
    """Evidence is never edited or deleted. An arbitrator may hide an item by writing the
    reason, which the parties see and the timeline records."""

    class Media:
        css = {"all": ["css/admin.css"]}

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
        if obj is not None and obj.hidden_at is None and obj.dispute_id and self._may_hide(request):
            fields.remove("hidden_reason")
        return fields

    @admin.display(description=_("file"))
    def view(self, obj) -> str:
        """The file through the checked view (files are never served from a public URL)."""
        if obj is None or obj.pk is None:
            return "-"
        if obj.complaint_id is not None:
            case, prefix = obj.complaint_id, "complaints:evidence"
        else:
            case, prefix = obj.dispute_id, "disputes:evidence"
        url = reverse(f"{prefix}_file", args=[case, obj.pk])
        if obj.kind == "photo":
            thumb = reverse(f"{prefix}_thumbnail", args=[case, obj.pk])
            return format_html(
                '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" '
                'class="evidence-admin-thumb"></a>',
                url,
                thumb,
                obj.original_name,  # the link's name: the photo the buyer or seller sent
            )
        return format_html(
            '<video controls preload="metadata" src="{}" class="evidence-admin-video"></video>',
            url,
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
            evidence_hide(evidence_id=obj.pk, user=request.user, reason=reason)
