from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.forms.widgets import Script
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

import disputes.admin_incidents  # noqa: F401  (incident mode: its own admin module)
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
    EvidenceRequest,
    Notification,
)
from disputes.selectors import (
    dispute_evidence,
    dispute_messages,
    dispute_timeline,
    with_open_evidence_requests,
)
from disputes.services import (
    DisputeError,
    StaleDispute,
    dispute_assign,
    dispute_request_evidence,
    dispute_rule,
)
from disputes.standing import store_standing
from disputes.states import DeadlineKind, DisputeState, Party
from orders.admin import RecordAdmin, StoreFilter
from orders.models import Order, Store
from orders.templatetags.clocks import absolute, countdown_html

# A buyer's other disputes shown on a case page (newest first).
HISTORY_SHOWN = 50


def _people_named(word: str) -> QuerySet:
    """The ids of the people whose username, e-mail, first or last name contains ``word``."""
    return (
        get_user_model()
        .objects.filter(
            Q(username__icontains=word)
            | Q(email__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
        )
        .values("pk")
    )


def _store_figures(store_id: int) -> Any:
    """The store's dispute figures (SPEC "The seller's standing")."""
    return store_standing(store_ids=[store_id]).get(store_id)


@dataclass(frozen=True)
class CaseClock:
    """One clock of a case as staff read it: what runs, until when, and what it says once
    it has run out (in words: lateness is never shown by colour alone)."""

    name: str  # "deadline", "target", "limit" or "evidence" (a CSS and test hook)
    label: str
    until: datetime
    ended: str
    past: bool


def case_clocks(
    dispute: Dispute, open_requests: list[EvidenceRequest], now: datetime
) -> list[CaseClock]:
    """Every clock of the case, the soonest first. A case waiting for a ruling runs the
    arbitration target and limit (both shown, passed or not) and the arbitrator's open
    requests for evidence; any other case its one running clock (``next_deadline_at``:
    the seller's answer, the negotiation, the replies to a ruling, a return or a
    replacement). The dates are the ones the services stored (``disputes.deadlines``)."""
    clocks: list[CaseClock] = []

    def add(name: str, label: str, until: datetime | None, ended: str) -> None:
        if until is not None:
            clocks.append(CaseClock(name, label, until, ended, until <= now))

    if dispute.state == DisputeState.ESCALATED:
        add(
            "target",
            _g("%(days)d-day target") % {"days": settings.PORTAL_ARBITRATION_TARGET.days},
            dispute.arbitration_target_at,
            _g("late"),
        )
        add(
            "limit",
            _g("%(days)d-day limit") % {"days": settings.PORTAL_ARBITRATION_LIMIT.days},
            dispute.arbitration_limit_at,
            _g("over limit"),
        )
        for asked in open_requests:
            add(
                "evidence",
                _g("Evidence from the %(party)s") % {"party": asked.get_party_display().lower()},
                asked.due_at,
                _g("overdue, not sent"),
            )
    if dispute.deadline_kind != DeadlineKind.ARBITRATION_LIMIT:
        add(
            "deadline", dispute.get_deadline_kind_display(), dispute.next_deadline_at, _g("overdue")
        )
    return sorted(clocks, key=lambda clock: clock.until)


def clocks_html(clocks: list[CaseClock], now: datetime) -> str:
    """The clocks as a list: a live countdown for each running one, the due date and the
    word ("late", "overdue") for each that has run out. Built in Python: the queue shows it
    on every row, where a template per row cost more than the rest of the page."""
    if not clocks:
        return format_html('<span class="case-clocks-none">{}</span>', _g("no clock running"))
    return format_html(
        '<ul class="case-clocks">{}</ul>',
        format_html_join(
            "\n",
            '<li class="case-clock case-clock-{}{}" data-clock="{}">'
            '<span class="case-clock-label">{}:</span> {}</li>',
            (
                (
                    clock.name,
                    " case-clock-past" if clock.past else "",
                    clock.name,
                    clock.label,
                    format_html(
                        '<strong class="case-clock-ended">{}</strong> <small class="abs">'
                        '<time datetime="{}">({})</time></small>',
                        clock.ended,
                        clock.until.isoformat(),
                        _g("was due %(when)s") % {"when": absolute(clock.until)},
                    )
                    if clock.past
                    else countdown_html(clock.until, now, ended=clock.ended),
                )
                for clock in clocks
            ),
        ),
    )


class DisputeChangeList(ChangeList):
    """The disputes' list, with each case's open evidence requests (one more query, for the
    clocks column), whose headers mark the column it is really sorted by."""

    admin_ordering: list[str] | None = None

    def get_queryset(self, request, exclude_parameters=None):
        return with_open_evidence_requests(super().get_queryset(request, exclude_parameters))

    def get_ordering(self, request, queryset):
        self.admin_ordering = self.model_admin.get_ordering(request)
        return super().get_ordering(request, queryset)

    def _get_default_ordering(self):
        # Django marks the sorted column from the model's ordering, not from
        # ``DisputeAdmin.get_ordering``: the queue, oldest escalation first, would show
        # "case" as sorted instead of "with staff".
        return self.admin_ordering or super()._get_default_ordering()


@admin.register(Dispute)
class DisputeAdmin(RecordAdmin):
    """Every dispute, read-only, and the arbitration queue (``?queue=1``: escalated cases,
    oldest first). The state never moves here except through the arbitration services:
    assigning, ruling and asking for evidence are forms on the case page, for arbitrators."""

    class Media:
        css = {"all": ["css/admin.css"]}
        # The live countdowns, from a static file (the Content-Security-Policy forbids
        # inline scripts).
        js = [Script("js/countdown.js", defer=True)]

    change_list_template = "admin/disputes/dispute/change_list.html"
    change_form_template = "admin/disputes/dispute/change_form.html"
    # Fits a 1280-pixel screen: the case (number, order, item, opening date) in one column,
    # every running clock in another.
    list_display = [
        "case",
        "age",
        "amount",
        "reason",
        "store",
        "buyer",
        "assignee",
        "state",
        "clocks",
    ]
    list_filter = [
        QueueFilter,
        "state",
        LateFilter,
        "reason",
        StoreFilter,
        AssigneeFilter,
        ClockFilter,
        "deadline_kind",
    ]
    # Searched by ``get_search_results``: a case or order number exactly, or the people and
    # stores whose names match (looked up in their own, small tables), never a scan of the
    # disputes joined to everything.
    search_fields = ["order__number", "buyer__username", "store__name"]
    search_help_text = _("A case number, an order number, a buyer's name or e-mail, a store.")
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

    def get_changelist(self, request, **kwargs):
        return DisputeChangeList

    def get_search_results(self, request, queryset, search_term):
        """Every word must match one of: the case number, the order number (both exact,
        on their unique keys), a buyer (username, e-mail, first or last name) or a store (name),
        the last two found in their own tables and matched on the disputes' indexed columns."""
        for word in (
            unescape_string_literal(bit) if bit[0] in "\"'" else bit
            for bit in smart_split(search_term)
        ):
            word = word.strip()
            if not word:
                continue
            number = word.lstrip("#")
            match = Q(order_id__in=Order.objects.filter(number=word).values("pk"))
            match |= Q(buyer_id__in=_people_named(word)) | Q(
                store_id__in=Store.objects.filter(name__icontains=word).values("pk")
            )
            if number.isdigit() and len(number) < 18:
                match |= Q(pk=int(number))
            queryset = queryset.filter(match)
        return queryset, False

    def changelist_view(self, request, extra_context=None):
        extra = {"queue_url": reverse("admin:disputes_dispute_changelist") + "?queue=1"}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    @admin.display(description=_("case"), ordering="opened_at")
    def case(self, obj: Dispute) -> str:
        """The case's number, its order's, the item, and when the dispute was opened."""
        return format_html(
            '#{} <span class="order-number">{}</span><br><span class="case-item">{}</span>'
            "<br><small>{}</small>",
            obj.pk,
            obj.order.number,
            obj.line,
            _g("opened %(when)s")
            % {"when": date_format(timezone.localtime(obj.opened_at), "j M Y")},
        )

    @admin.display(description=_("clocks"), ordering="next_deadline_at")
    def clocks(self, obj: Dispute) -> str:
        """Every running clock: a live countdown, the date and time with its zone, and in
        words once it has run out."""
        now = timezone.now()
        requests = getattr(obj, "open_evidence_requests", [])
        return clocks_html(case_clocks(obj, requests, now), now)

    @admin.display(description=_("with staff"), ordering="escalated_at")
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
        requests = list(
            dispute.evidence_requests.select_related("requested_by").order_by("created_at", "id")
        )
        open_requests = [asked for asked in requests if asked.answered_at is None]
        may_rule = self.has_rule_permission(request)
        escalated = dispute.state == DisputeState.ESCALATED
        can_assign = may_rule and dispute.state in (DisputeState.ESCALATED, DisputeState.RULED)
        now = timezone.now()
        clocks = case_clocks(dispute, open_requests, now)
        context: dict[str, Any] = {
            "dispute": dispute,
            "timeline": list(dispute_timeline(dispute=dispute)),
            "dispute_messages": list(dispute_messages(dispute=dispute)),
            "evidence_sides": [
                (party, [item for item in evidence if item.party == party])
                for party in (Party.BUYER, Party.SELLER)
            ],
            "case_age": self.age(dispute),
            "now": now,
            "clocks": clocks,
            "clocks_html": clocks_html(clocks, now),
            "evidence_requests": requests,
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
            "can_assign": can_assign,
            "can_rule": may_rule and escalated,
            "can_request_evidence": may_rule and escalated,
            # The "Act on the case" block shows only when one of its actions is allowed.
            "can_act": can_assign or (may_rule and escalated),
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
                        "due": absolute(asked.due_at),
                    },
                )
        return self._redraw(request, object_id, evidence_form=form)


@admin.register(DisputeEvent)
class DisputeEventAdmin(RecordAdmin):
    """The audit trail. "When" is when it happened (a clock's due time); "processed" is
    when the portal wrote it: far apart, the scheduler was down or late."""

    list_display = ["when", "dispute_link", "kind", "who", "states", "processed"]
    list_filter = ["kind", "actor_party"]
    list_select_related = ["actor"]
    search_fields = ["dispute__order__number", "note"]

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description=_("when"), ordering="created_at")
    def when(self, event: DisputeEvent) -> str:
        return absolute(event.created_at)

    @admin.display(description=_("processed"), ordering="processed_at")
    def processed(self, event: DisputeEvent) -> str:
        if event.processed_late:
            return _g("%(when)s (late)") % {"when": absolute(event.processed_at)}
        return absolute(event.processed_at)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("dispute"), ordering="dispute_id")
    def dispute_link(self, event: DisputeEvent) -> str:
        return f"#{event.dispute_id}"

    @admin.display(description=_("who"), ordering="actor_party")
    def who(self, event: DisputeEvent) -> str:
        party = event.get_actor_party_display()
        return f"{event.actor} ({party})" if event.actor else party

    @admin.display(description=_("state"), ordering="to_state")
    def states(self, event: DisputeEvent) -> str:
        if event.is_transition and event.from_state:
            return f"{event.get_from_state_display()} → {event.get_to_state_display()}"
        return event.get_to_state_display()


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    """The outbox: unsent rows older than a minute or two mean mail is not going out."""

    list_display = ["created_at", "recipient", "event", "sent_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient", "event"]
    search_fields = ["recipient__username", "recipient__email"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
