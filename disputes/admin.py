from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.roles import is_arbitrator
from disputes.admin_filters import (
    AssigneeFilter,
    ClockFilter,
    LateFilter,
    QueueFilter,
    arbitrators,
)
from disputes.forms import (
    AdminAssignForm,
    AdminEvidenceRequestForm,
    AdminRulingForm,
)
from disputes.models import (
    Dispute,
    DisputeEvent,
    Notification,
)
from disputes.selectors import dispute_evidence, dispute_messages, dispute_timeline
from disputes.services import (
    DisputeError,
    StaleDispute,
    dispute_assign,
    dispute_request_evidence,
    dispute_rule,
)
from disputes.standing import store_standing
from disputes.states import DisputeState, Party
from orders.admin import RecordAdmin

# A buyer's other disputes shown on a case page (newest first).
HISTORY_SHOWN = 50


def _store_figures(store_id: int) -> Any:
    """The store's dispute figures (SPEC "The seller's standing")."""
    return store_standing(store_ids=[store_id]).get(store_id)


@admin.register(Dispute)
class DisputeAdmin(RecordAdmin):
    """Every dispute, read-only, and the arbitration queue (``?queue=1``: escalated cases,
    oldest first). The state never moves here except through the arbitration services:
    assigning, ruling and asking for evidence are forms on the case page, for arbitrators."""

    class Media:
        css = {"all": ["css/admin.css"]}

    change_list_template = "admin/disputes/dispute/change_list.html"
    change_form_template = "admin/disputes/dispute/change_form.html"
    list_display = [
        "id",
        "age",
        "order",
        "line",
        "amount",
        "reason",
        "store",
        "buyer",
        "assignee",
        "state",
        "next_deadline_at",
        "opened_at",
    ]
    list_filter = [
        QueueFilter,
        "state",
        LateFilter,
        "reason",
        "store",
        AssigneeFilter,
        ClockFilter,
        "deadline_kind",
    ]
    search_fields = [
        "order__number",
        "buyer__username",
        "buyer__email",
        "buyer__first_name",
        "buyer__last_name",
        "store__name",
    ]
    list_select_related = ["order", "line", "buyer", "store", "assignee"]
    date_hierarchy = "opened_at"
    actions = ["assign_to_me"]

    # --- the queue ---------------------------------------------------------------------------
    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("order", "line", "buyer", "store", "assignee", "ruled_by")
        )

    def get_ordering(self, request):
        """The queue (and any view of escalated or late cases) shows the oldest first."""
        if (
            request.GET.get("queue") == "1"
            or request.GET.get("state__exact") == DisputeState.ESCALATED
            or request.GET.get("late") in ("target", "limit", "no")
        ):
            return ["escalated_at", "id"]
        return super().get_ordering(request)

    def changelist_view(self, request, extra_context=None):
        extra = {"queue_url": reverse("admin:disputes_dispute_changelist") + "?queue=1"}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    @admin.display(description=_("age with staff"), ordering="escalated_at")
    def age(self, obj: Dispute) -> str:
        """Days since the escalation, marked when past the arbitration target or limit
        while the case waits for a ruling."""
        if obj.escalated_at is None:
            return self.get_empty_value_display()
        now = timezone.now()
        days = (now - obj.escalated_at).days
        text = ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
        if obj.state != DisputeState.ESCALATED:
            return text
        if obj.arbitration_limit_at and now > obj.arbitration_limit_at:
            badge, css = _g("over limit"), "arbitration-over"
        elif obj.arbitration_target_at and now > obj.arbitration_target_at:
            badge, css = _g("late"), "arbitration-late"
        else:
            return text
        return format_html('{} <strong class="arbitration-badge {}">{}</strong>', text, css, badge)

    @admin.display(description=_("amount"), ordering="requested_amount")
    def amount(self, obj: Dispute) -> str:
        return f"{obj.requested_amount} {obj.currency}"

    # --- who may act -------------------------------------------------------------------------
    def has_rule_permission(self, request: HttpRequest) -> bool:
        return is_arbitrator(request.user)

    @admin.action(description=_("Assign to me"), permissions=["rule"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                dispute_assign(dispute_id=pk, user=request.user, assignee=request.user)
            except DisputeError as exc:
                self.message_user(request, f"#{pk}: {exc}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(n)d case assigned to you.", "%(n)d cases assigned to you.", done)
                % {"n": done},
                messages.SUCCESS,
            )

    # --- the case page -----------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        return [
            (
                _("The full record"),
                {"fields": self.get_fields(request, obj), "classes": ["collapse"]},
            )
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dispute = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if dispute is not None and self.has_view_permission(request, dispute):
            extra = {**self._case_context(request, dispute, extra), **extra}
        return super().change_view(request, object_id, form_url, extra)

    def _case_context(
        self, request: HttpRequest, dispute: Dispute, bound: dict[str, Any]
    ) -> dict[str, Any]:
        evidence = list(dispute_evidence(dispute=dispute).order_by("created_at", "id"))
        may_rule = self.has_rule_permission(request)
        escalated = dispute.state == DisputeState.ESCALATED
        context: dict[str, Any] = {
            "dispute": dispute,
            "timeline": list(dispute_timeline(dispute=dispute)),
            "dispute_messages": list(dispute_messages(dispute=dispute)),
            "evidence_sides": [
                (party, [item for item in evidence if item.party == party])
                for party in (Party.BUYER, Party.SELLER)
            ],
            "case_age": self.age(dispute),
            "evidence_requests": list(
                dispute.evidence_requests.select_related("requested_by").order_by("created_at")
            ),
            "standing": _store_figures(dispute.store_id),
            "buyer_history": list(
                Dispute.objects.filter(buyer_id=dispute.buyer_id)
                .exclude(pk=dispute.pk)
                .select_related("store", "line", "order")
                .order_by("-opened_at", "-id")[:HISTORY_SHOWN]
            ),
            "may_rule": may_rule,
            "final_ruling": dispute.ruling_round >= 1,
            "reply_days": settings.PORTAL_RULING_REPLY_WINDOW.days,
            "can_assign": may_rule
            and dispute.state in (DisputeState.ESCALATED, DisputeState.RULED),
            "can_rule": may_rule and escalated,
            "can_request_evidence": may_rule and escalated,
        }
        if may_rule:
            context["assign_form"] = bound.get("assign_form") or AdminAssignForm(
                initial={"assignee": dispute.assignee_id}, arbitrators=arbitrators()
            )
            context["rule_form"] = bound.get("rule_form") or AdminRulingForm(
                initial={"revision": dispute.revision}
            )
            context["evidence_form"] = bound.get("evidence_form") or AdminEvidenceRequestForm(
                initial={"days": settings.PORTAL_EVIDENCE_REQUEST_DAYS}
            )
        return context

    # --- the arbitrators' actions: POST only, each calls one service -------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/assign/", wrap(self.assign_view), name="disputes_dispute_assign"
            ),
            path("<path:object_id>/rule/", wrap(self.rule_view), name="disputes_dispute_rule"),
            path(
                "<path:object_id>/request-evidence/",
                wrap(self.request_evidence_view),
                name="disputes_dispute_request_evidence",
            ),
            *super().get_urls(),
        ]

    def _target(self, request: HttpRequest, object_id: str) -> Dispute:
        if not self.has_rule_permission(request):
            raise PermissionDenied
        dispute = self.get_object(request, unquote(object_id))
        if dispute is None:
            raise Http404
        return dispute

    def _redraw(self, request: HttpRequest, object_id: str, **forms: Any) -> HttpResponse:
        """The case page again, with the refused form as it was typed and its errors."""
        page_request = copy.copy(request)
        page_request.method = "GET"
        response = self.change_view(page_request, object_id, extra_context=forms)
        response.status_code = 400
        return response

    def _done(self, request: HttpRequest, dispute: Dispute, message: str) -> HttpResponse:
        self.message_user(request, message, messages.SUCCESS)
        return redirect("admin:disputes_dispute_change", dispute.pk)

    @staticmethod
    def _refuse(form: Any, exc: DisputeError) -> None:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))

    def _stale(self, request: HttpRequest, dispute: Dispute, exc: StaleDispute) -> HttpResponse:
        """The case moved since the page was drawn: show it as it is now, and say why."""
        self.message_user(request, str(exc), messages.ERROR)
        return redirect("admin:disputes_dispute_change", dispute.pk)

    def assign_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        dispute = self._target(request, object_id)
        form = AdminAssignForm(request.POST, arbitrators=arbitrators())
        if form.is_valid():
            assignee = form.cleaned_data["assignee"]
            try:
                dispute_assign(dispute_id=dispute.pk, user=request.user, assignee=assignee)
            except StaleDispute as exc:
                return self._stale(request, dispute, exc)
            except DisputeError as exc:
                self._refuse(form, exc)
            else:
                if assignee is None:
                    message = _g("The case is now unassigned.")
                else:
                    message = _g("The case is assigned to %(name)s.") % {
                        "name": assignee.get_full_name() or assignee.get_username()
                    }
                return self._done(request, dispute, message)
        return self._redraw(request, object_id, assign_form=form)

    def rule_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        dispute = self._target(request, object_id)
        form = AdminRulingForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                ruled = dispute_rule(
                    dispute_id=dispute.pk,
                    user=request.user,
                    outcome=data["outcome"],
                    amount=data["amount"],
                    reason=data["reason"],
                    expected_revision=data["revision"],
                )
            except StaleDispute as exc:
                return self._stale(request, dispute, exc)
            except DisputeError as exc:
                self._refuse(form, exc)
            else:
                if ruled.ruling_round >= 2:
                    message = _g("Final ruling recorded: it takes effect now.")
                else:
                    message = _g(
                        "Ruling recorded: both sides have %(days)d days to agree or object."
                    ) % {"days": settings.PORTAL_RULING_REPLY_WINDOW.days}
                return self._done(request, dispute, message)
        return self._redraw(request, object_id, rule_form=form)

    def request_evidence_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        dispute = self._target(request, object_id)
        form = AdminEvidenceRequestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                asked = dispute_request_evidence(
                    dispute_id=dispute.pk,
                    user=request.user,
                    party=data["party"],
                    note=data["note"],
                    days=data["days"],
                )
            except StaleDispute as exc:
                return self._stale(request, dispute, exc)
            except DisputeError as exc:
                self._refuse(form, exc)
            else:
                return self._done(
                    request,
                    dispute,
                    _g("Evidence asked of the %(party)s, due %(due)s.")
                    % {
                        "party": asked.get_party_display().lower(),
                        "due": timezone.localtime(asked.due_at).strftime("%d %b %Y %H:%M"),
                    },
                )
        return self._redraw(request, object_id, evidence_form=form)


@admin.register(DisputeEvent)
class DisputeEventAdmin(RecordAdmin):
    """The audit trail. "When" is when it happened (a clock's due time); "processed" is
    when the portal wrote it: far apart, the scheduler was down or late."""

    list_display = [
        "created_at",
        "dispute",
        "kind",
        "actor",
        "actor_party",
        "from_state",
        "to_state",
        "processed_at",
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
