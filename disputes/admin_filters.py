"""The filters of the disputes' list in admin: the arbitration queue, lateness against the
arbitration clocks, the arbitrator, and the sweeps' own health (the "clock" filter)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import arbitrators as all_arbitrators
from disputes.services import disputes_stalled
from disputes.states import DisputeState


def arbitrators() -> QuerySet:
    """Who may be given a case: every arbitrator (``accounts.roles.arbitrators``), by name."""
    return all_arbitrators().order_by("first_name", "username")


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


class QueueFilter(admin.SimpleListFilter):
    """The arbitration queue: cases with the arbitrators, the oldest escalation first."""

    title = _("arbitration queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("1", _("Escalated cases, oldest first"))]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(state=DisputeState.ESCALATED)
        return queryset


class LateFilter(admin.SimpleListFilter):
    """Escalated cases past the arbitration target or limit (both from settings)."""

    title = _("arbitration late")
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [
            (
                "target",
                _("Past the %(days)d-day target")
                % {"days": settings.PORTAL_ARBITRATION_TARGET.days},
            ),
            (
                "limit",
                _("Past the %(days)d-day limit") % {"days": settings.PORTAL_ARBITRATION_LIMIT.days},
            ),
            ("no", _("Within the target")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        escalated = queryset.filter(state=DisputeState.ESCALATED)
        if self.value() == "target":
            return escalated.filter(arbitration_target_at__lt=now)
        if self.value() == "limit":
            return escalated.filter(arbitration_limit_at__lt=now)
        if self.value() == "no":
            return escalated.filter(arbitration_target_at__gte=now)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("arbitrator")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [
            ("me", _("Assigned to me")),
            ("none", _("Unassigned")),
            *(
                (str(user.pk), user.get_full_name() or user.get_username())
                for user in arbitrators()
            ),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset
