"""Incident mode in the admin: arbitrators start an incident over a carrier's orders (a form,
then a preview of what it covers, then the confirmation) and end a running one (an action).
Every start and end goes through ``disputes.services.incidents``, which records it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.roles import is_arbitrator
from disputes import deadlines
from disputes.services import DisputeError, IncidentScope, incident_end, incident_start
from disputes.services.incidents import incident_carriers, incident_preview
from orders.models import Incident


class IncidentForm(forms.Form):
    carrier = forms.ChoiceField(label=_("Carrier"))
    destination_country = forms.RegexField(
        label=_("Destination country"),
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        help_text=_("Two letters (ISO 3166-1), as DE or FR."),
        error_messages={"invalid": _("Enter the country's two-letter code, as DE.")},
    )
    shipped_from = forms.DateField(
        label=_("Shipped from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    shipped_to = forms.DateField(
        label=_("Shipped until (included)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    days = forms.IntegerField(label=_("Days to extend and pause"), min_value=1)
    reason = forms.CharField(
        label=_("Reason, as buyers and sellers will read it"),
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [(c, c) for c in incident_carriers()]
        longest = deadlines.incident_max_days()
        self.fields["days"].validators.append(MaxValueValidator(longest))
        self.fields["days"].widget.attrs["max"] = longest

    def clean_destination_country(self) -> str:
        return self.cleaned_data["destination_country"].upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("shipped_from"), data.get("shipped_to")
        if first and last and first > last:
            self.add_error("shipped_to", _("The last shipment date is before the first."))
        return data

    def scope(self) -> IncidentScope:
        data = self.cleaned_data
        return IncidentScope(
            carrier=data["carrier"],
            destination_country=data["destination_country"],
            shipped_from=data["shipped_from"],
            shipped_to=data["shipped_to"],
        )


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = (
        "carrier",
        "destination_country",
        "shipped_from",
        "shipped_to",
        "days",
        "status",
        "order_count",
        "started_at",
        "started_by",
        "ended_at",
    )
    list_filter = ("carrier", "destination_country")
    ordering = ("-started_at",)
    actions = ("end_incidents",)
    readonly_fields = (
        "reason",
        "carrier",
        "destination_country",
        "shipped_from",
        "shipped_to",
        "days",
        "started_at",
        "started_by",
        "ended_at",
        "ended_by",
        "days_paused",
    )
    list_select_related = ("started_by",)

    # Arbitrators alone (with the incident permissions their group holds): other staff may
    # not even see incidents.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_arbitrator(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_arbitrator(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_arbitrator(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # For the "end" action; every field is read-only.
        return is_arbitrator(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return super().get_queryset(request).annotate(order_total=Count("orders"))

    @admin.display(description=_("orders"), ordering="order_total")
    def order_count(self, obj: Incident) -> int:
        return obj.order_total

    @admin.display(description=_("status"))
    def status(self, obj: Incident) -> str:
        if obj.is_running:
            return _g("running")
        return ngettext(
            "ended, %(n)d day added", "ended, %(n)d days added", obj.days_paused or 0
        ) % {"n": obj.days_paused or 0}

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Start an incident: the form, then what it covers, then the confirmation."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        preview = None
        form = IncidentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if "confirm" in request.POST:
                try:
                    result = incident_start(
                        by=request.user,
                        scope=form.scope(),
                        days=form.cleaned_data["days"],
                        reason=form.cleaned_data["reason"],
                    )
                except DisputeError as exc:
                    form.add_error(None, str(exc))
                else:
                    if result.done:
                        self.message_user(
                            request,
                            _g(
                                "Incident started: %(orders)d orders extended, "
                                "%(disputes)d disputes paused."
                            )
                            % {"orders": result.orders, "disputes": result.disputes},
                            messages.SUCCESS,
                        )
                    else:
                        self.message_user(
                            request,
                            _g("This incident is already running: nothing was changed."),
                            messages.WARNING,
                        )
                    return redirect(reverse("admin:orders_incident_changelist"))
            else:
                preview = incident_preview(scope=form.scope())
        context = {
            **self.admin_site.each_context(request),
            "title": _g("Start an incident"),
            "opts": self.model._meta,
            "form": form,
            "preview": preview,
            "max_days": deadlines.incident_max_days(),
        }
        return TemplateResponse(request, "admin/orders/incident/start.html", context)

    def has_end_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    @admin.action(
        description=_("End the selected incidents (the clocks run again)"), permissions=["end"]
    )
    def end_incidents(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        ended = 0
        for incident in queryset.filter(ended_at__isnull=True):
            ended += incident_end(incident_id=incident.pk, by=request.user).done
        self.message_user(
            request,
            ngettext("%(n)d incident ended.", "%(n)d incidents ended.", ended) % {"n": ended},
            messages.SUCCESS,
        )
