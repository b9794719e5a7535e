from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_fsm import can_proceed

from disputes import services
from disputes.arbitration import dispute_reply_ruling
from disputes.forms import (
    EvidenceForm,
    MessageForm,
    ObjectionForm,
    OpenDisputeForm,
    ProposalForm,
    RevisionForm,
    ShipmentForm,
)
from disputes.models import Dispute
from disputes.notifications import (
    notification_link,
    notification_mark_read,
    notifications_mark_all_read,
)
from disputes.selectors import (
    dispute_evidence,
    dispute_messages,
    dispute_open_evidence_requests,
    dispute_timeline,
    disputes_for_buyer,
    disputes_for_store,
    disputes_for_user,
    notifications_for_user,
    store_dispute_counts,
)
from disputes.states import Closing, DisputeState, Party
from disputes.sweeps import dispute_process_deadline
from evidence import storage as evidence_storage
from evidence.models import Evidence
from orders.models import OrderLine
from orders.selectors import store_for_seller
from refunds.selectors import dispute_coupon, refund_tracker
from refunds.services import RefundError, refund_mark_arrived


def _conflict(request: HttpRequest, dispute_id: int, error: Exception) -> HttpResponse:
    """The dispute moved under the person's feet: show it as it is now (HTTP 409).

    If it was the clock that ran out, its consequence is applied now rather than at the
    next sweep, so the page shows what the deadline decided."""
    if isinstance(error, services.DeadlinePassed):
        dispute_process_deadline(dispute_id=dispute_id)
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=dispute_id)
    return render(
        request,
        "disputes/conflict.html",
        {"dispute": dispute, "error": str(error), "now": timezone.now()},
        status=409,
    )


@login_required
@require_http_methods(["GET", "POST"])
def open_dispute(request: HttpRequest, line_id: int) -> HttpResponse:
    line = get_object_or_404(
        OrderLine.objects.select_related("order", "order__store"),
        pk=line_id,
        order__buyer=request.user,
    )
    existing = Dispute.objects.filter(line=line).values_list("pk", flat=True).first()
    if existing:
        messages.info(request, _("This item already has a dispute; here it is."))
        return redirect("disputes:detail", existing)
    now = timezone.now()
    window = line.order.dispute_window(now=now)
    form = OpenDisputeForm(request.POST or None, request.FILES or None, line=line)
    if request.method == "POST" and form.is_valid():
        try:
            dispute = services.dispute_open(
                line=line,
                buyer=request.user,
                request=form.request,
                files=form.cleaned_data["evidence"],
                now=now,
            )
        except services.DisputeError as exc:
            form.add_error(exc.field, str(exc))
        else:
            messages.success(
                request,
                _("Your dispute is open. The seller has been told and must answer."),
            )
            _report_rejections(request, dispute.rejections)
            return redirect("disputes:detail", dispute.pk)
    if form.is_bound and form.errors and request.FILES and "evidence" not in form.errors:
        form.add_error(
            "evidence",
            _("Nothing was sent yet: please choose your photos and videos again."),
        )
    return render(
        request,
        "disputes/open.html",
        {"line": line, "order": line.order, "form": form, "window": window, "now": now},
        status=400 if form.is_bound and form.errors else 200,
    )


def _report_rejections(request: HttpRequest, rejections: list) -> None:
    for rejection in rejections:
        messages.warning(request, _("Not added: %(why)s") % {"why": rejection})


def _detail_context(request: HttpRequest, dispute: Dispute, **forms: Any) -> dict[str, Any]:
    party = dispute.party_of(request.user)
    actions = {t.name for t in dispute.get_available_user_state_transitions(request.user)}
    revision = {"revision": dispute.revision}
    return {
        "dispute": dispute,
        "party": party,
        "actions": actions,
        "timeline": list(dispute_timeline(dispute=dispute)),
        "thread": list(dispute_messages(dispute=dispute)),
        "accept_form": RevisionForm(initial=revision),
        "propose_form": forms.get("propose_form")
        or (ProposalForm(initial=revision, party=party) if "propose" in actions else None),
        "message_form": forms.get("message_form") or MessageForm(),
        "evidence_form": forms.get("evidence_form") or EvidenceForm(),
        "evidence": list(dispute_evidence(dispute=dispute)),
        "evidence_left": services.evidence_allowance(dispute=dispute, party=party) if party else 0,
        "return_form": forms.get("return_form")
        or (ShipmentForm(initial=revision) if "ship_return" in actions else None),
        "replacement_form": forms.get("replacement_form")
        or (ShipmentForm(initial=revision) if "ship_replacement" in actions else None),
        "objection_form": forms.get("objection_form")
        or (ObjectionForm(initial=revision) if "object_ruling" in actions else None),
        # Only a case that reached the arbitrators can carry requests: no query otherwise.
        "evidence_requests": list(dispute_open_evidence_requests(dispute=dispute))
        if dispute.escalated_at
        else [],
        "refunds": _refunds_with_flags(dispute),
        # A coupon is issued exactly when a dispute closes with one: no query otherwise.
        "coupon": dispute_coupon(dispute=dispute) if dispute.closing == Closing.COUPON else None,
        "now": timezone.now(),
    }


def _refunds_with_flags(dispute: Dispute) -> list[Any]:
    """The dispute's refunds, each marked overdue or not as of today (one query)."""
    today = timezone.localdate()
    refunds = list(refund_tracker(dispute=dispute))
    for refund in refunds:
        refund.overdue = refund.is_overdue(today)
    return refunds


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    return render(request, "disputes/detail.html", _detail_context(request, dispute))


def _guarded_action(
    request: HttpRequest, dispute: Dispute, service: Any, done: str
) -> HttpResponse:
    """Run an action that carries the revision its page was drawn at: a stale form gets
    the 409 page, a refusal a plain message, success a confirmation."""
    form = RevisionForm(request.POST)
    if not form.is_valid():
        return _conflict(request, dispute.pk, services.StaleDispute(_("The form was incomplete.")))
    try:
        service(
            dispute_id=dispute.pk,
            user=request.user,
            expected_revision=form.cleaned_data["revision"],
        )
    except services.StaleDispute as exc:
        return _conflict(request, dispute.pk, exc)
    except services.DisputeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("disputes:detail", dispute.pk)


@login_required
@require_POST
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    return _guarded_action(
        request, dispute, services.dispute_accept, _("You accepted. The dispute is settled.")
    )


@login_required
@require_POST
def propose(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    party = dispute.party_of(request.user)
    form = ProposalForm(request.POST, party=party)
    if form.is_valid():
        try:
            services.dispute_propose(
                dispute_id=dispute.pk,
                user=request.user,
                outcome=form.cleaned_data["outcome"],
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
                expected_revision=form.cleaned_data["revision"],
            )
        except services.StaleDispute as exc:
            return _conflict(request, pk, exc)
        except services.DisputeError as exc:
            if exc.field is None:
                # Not this person's move at all: say so plainly, as for the other actions.
                messages.error(request, str(exc))
                return redirect("disputes:detail", pk)
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, _("Your proposal was sent."))
            return redirect("disputes:detail", pk)
    return render(
        request,
        "disputes/detail.html",
        _detail_context(request, dispute, propose_form=form),
        status=400,
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    if dispute.party_of(request.user) != "buyer":
        raise Http404
    if request.method == "POST":
        return _guarded_action(
            request, dispute, services.dispute_withdraw, _("You withdrew the dispute.")
        )
    if not can_proceed(dispute.withdraw):
        return _conflict(request, pk, services.StaleDispute(_("It can no longer be withdrawn.")))
    return render(
        request,
        "disputes/withdraw.html",
        {"dispute": dispute, "form": RevisionForm(initial={"revision": dispute.revision})},
    )


def _only(request: HttpRequest, dispute: Dispute, party: Party) -> None:
    """A one-sided step: the other side and staff see the dispute, but this is not theirs."""
    if dispute.party_of(request.user) != party:
        raise PermissionDenied


def _shipment(
    request: HttpRequest, pk: int, *, party: Party, service: Any, form_name: str, done: str
) -> HttpResponse:
    """A parcel's carrier and tracking number: a refusal names the field and keeps what was
    typed; a stale page gets the 409 page."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    _only(request, dispute, party)
    form = ShipmentForm(request.POST)
    if not form.is_valid() and "revision" in form.errors:
        return _conflict(request, pk, services.StaleDispute(_("The form was incomplete.")))
    if form.is_valid():
        try:
            service(
                dispute_id=dispute.pk,
                user=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking=form.cleaned_data["tracking"],
                expected_revision=form.cleaned_data["revision"],
            )
        except services.StaleDispute as exc:
            return _conflict(request, pk, exc)
        except services.DisputeError as exc:
            if exc.field is None:
                messages.error(request, str(exc))
                return redirect("disputes:detail", pk)
            form.add_error(exc.field, str(exc))
        else:
            messages.success(request, done)
            return redirect("disputes:detail", pk)
    return render(
        request,
        "disputes/detail.html",
        _detail_context(request, dispute, **{form_name: form}),
        status=400,
    )


@login_required
@require_POST
def ship_return(request: HttpRequest, pk: int) -> HttpResponse:
    return _shipment(
        request,
        pk,
        party=Party.BUYER,
        service=services.dispute_ship_return,
        form_name="return_form",
        done=_("Thank you. The seller has been told and must confirm that the parcel arrived."),
    )


@login_required
@require_POST
def confirm_return(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    _only(request, dispute, Party.SELLER)
    return _guarded_action(
        request,
        dispute,
        services.dispute_confirm_return,
        _("You confirmed the return. The refund is on its way to the buyer."),
    )


@login_required
@require_POST
def ship_replacement(request: HttpRequest, pk: int) -> HttpResponse:
    return _shipment(
        request,
        pk,
        party=Party.SELLER,
        service=services.dispute_ship_replacement,
        form_name="replacement_form",
        done=_("The replacement is on its way; the buyer has been told."),
    )


@login_required
@require_POST
def confirm_replacement(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    _only(request, dispute, Party.BUYER)
    return _guarded_action(
        request,
        dispute,
        services.dispute_confirm_replacement,
        _("Thank you. The replacement arrived and the dispute is resolved."),
    )


@login_required
@require_POST
def replacement_not_arrived(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    _only(request, dispute, Party.BUYER)
    return _guarded_action(
        request,
        dispute,
        services.dispute_replacement_not_arrived,
        _("The replacement did not arrive: your original request is granted."),
    )


@login_required
@require_POST
def refund_arrived(request: HttpRequest, pk: int, refund_id: int) -> HttpResponse:
    """The buyer says a sent refund reached their account."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    _only(request, dispute, Party.BUYER)
    refund = get_object_or_404(refund_tracker(dispute=dispute), pk=refund_id)
    try:
        refund_mark_arrived(refund_id=refund.pk, user=request.user)
    except RefundError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Thank you: the refund is marked as arrived."))
    return redirect(f"{dispute.get_absolute_url()}#refunds")


@login_required
@require_POST
def post_message(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = services.dispute_post_message(
                dispute_id=dispute.pk,
                user=request.user,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["files"],
            )
        except services.StaleDispute as exc:
            return _conflict(request, pk, exc)
        except services.DisputeError as exc:
            form.add_error("body" if exc.field in (None, "body") else None, str(exc))
        else:
            _report_rejections(request, message.rejections)
            return redirect(f"{dispute.get_absolute_url()}#messages")
    return render(
        request,
        "disputes/detail.html",
        _detail_context(request, dispute, message_form=form),
        status=400,
    )


@login_required
def buyer_list(request: HttpRequest) -> HttpResponse:
    disputes = list(disputes_for_buyer(user=request.user)[:200])
    return render(
        request,
        "disputes/list.html",
        {"disputes": disputes, "title": _("My disputes"), "now": timezone.now(), "seller": False},
    )


@login_required
def seller_list(request: HttpRequest) -> HttpResponse:
    store = store_for_seller(user=request.user)
    if store is None:
        raise Http404(_("You do not own a store."))
    state = request.GET.get("state") or ""
    if state not in DisputeState.values:
        state = ""
    disputes = list(disputes_for_store(store=store, state=state or None)[:200])
    return render(
        request,
        "disputes/list.html",
        {
            "disputes": disputes,
            "title": _("Disputes against %(store)s") % {"store": store.name},
            "store": store,
            "state": state,
            "states": DisputeState,
            "counts": store_dispute_counts(store=store),
            "now": timezone.now(),
            "seller": True,
        },
    )


@login_required
@require_POST
def add_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            added, rejected = services.dispute_add_evidence(
                dispute_id=dispute.pk, user=request.user, files=form.cleaned_data["files"]
            )
        except services.StaleDispute as exc:
            return _conflict(request, pk, exc)
        except services.DisputeError as exc:
            form.add_error(None, str(exc))
        else:
            if added:
                messages.success(
                    request,
                    ngettext("%(n)d file added.", "%(n)d files added.", len(added))
                    % {"n": len(added)},
                )
            _report_rejections(request, rejected)
            return redirect(f"{dispute.get_absolute_url()}#evidence")
    return render(
        request,
        "disputes/detail.html",
        _detail_context(request, dispute, evidence_form=form),
        status=400,
    )


def _visible_evidence(request: HttpRequest, pk: int, evidence_id: int) -> Evidence:
    """The item, if the person may see it: a party to the dispute or staff; hidden items
    only for staff."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    item = get_object_or_404(Evidence, pk=evidence_id, dispute=dispute)
    if item.is_hidden and not request.user.is_staff:
        raise Http404
    return item


@login_required
@require_safe
def evidence_file(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_id)
    extension = item.file.name.rsplit(".", 1)[-1]
    return evidence_storage.serve(
        item.file.name, content_type=item.content_type, filename=f"evidence-{item.pk}.{extension}"
    )


@login_required
@require_safe
def evidence_thumbnail(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_id)
    if not item.thumbnail:
        return redirect("disputes:evidence_file", pk, evidence_id)
    return evidence_storage.serve(
        item.thumbnail.name, content_type="image/jpeg", filename=f"thumbnail-{item.pk}.jpg"
    )


# --- replying to a ruling ------------------------------------------------------------------------
def _party_to_the_ruling(request: HttpRequest, pk: int) -> Dispute:
    """Buyer and seller reply to a ruling; staff see the case but have no reply to give."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    if dispute.party_of(request.user) not in (Party.BUYER, Party.SELLER):
        raise PermissionDenied
    return dispute


@login_required
@require_POST
def agree_ruling(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _party_to_the_ruling(request, pk)

    def agree(**kwargs: Any) -> Dispute:
        return dispute_reply_ruling(agree=True, **kwargs)

    return _guarded_action(
        request,
        dispute,
        agree,
        _(
            "You agreed to the ruling. It takes effect when the other side agrees too, "
            "or says nothing in time."
        ),
    )


@login_required
@require_POST
def object_ruling(request: HttpRequest, pk: int) -> HttpResponse:
    """An objection, once, with a reason and any new evidence: a refusal names the field
    and keeps what was typed; a stale page or a passed deadline gets the 409 page."""
    dispute = _party_to_the_ruling(request, pk)
    form = ObjectionForm(request.POST, request.FILES)
    if not form.is_valid() and "revision" in form.errors:
        return _conflict(request, pk, services.StaleDispute(_("The form was incomplete.")))
    if form.is_valid():
        try:
            replied = dispute_reply_ruling(
                dispute_id=dispute.pk,
                user=request.user,
                agree=False,
                reason=form.cleaned_data["reason"],
                files=form.cleaned_data["files"],
                expected_revision=form.cleaned_data["revision"],
            )
        except services.StaleDispute as exc:
            return _conflict(request, pk, exc)
        except services.DisputeError as exc:
            if exc.field is None:
                messages.error(request, str(exc))
                return redirect("disputes:detail", pk)
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(
                request,
                _("Your objection was sent. The arbitrator will rule again; that ruling is final."),
            )
            _report_rejections(request, replied.rejections)
            return redirect(f"{dispute.get_absolute_url()}#ruling")
    if request.FILES and "files" not in form.errors:
        form.add_error(
            "files", _("Nothing was sent yet: please choose your photos and videos again.")
        )
    return render(
        request,
        "disputes/detail.html",
        _detail_context(request, dispute, objection_form=form),
        status=400,
    )


# --- notifications --------------------------------------------------------------------------------
NOTIFICATIONS_PER_PAGE = 25


@login_required
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; reading the list marks nothing read."""
    page = Paginator(notifications_for_user(user=request.user), NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {"page": page, "now": timezone.now()})


@login_required
@require_safe
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow one notification: it is marked read and the reader goes to its dispute."""
    row = get_object_or_404(notifications_for_user(user=request.user), pk=pk)
    notification_mark_read(notification_id=row.pk, user=request.user)
    dispute = row.event.dispute
    return redirect(notification_link(dispute=dispute, person=request.user))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications_mark_all_read(user=request.user)
    if count:
        messages.success(
            request,
            ngettext(
                "%(n)d notification marked as read.", "%(n)d notifications marked as read.", count
            )
            % {"n": count},
        )
    return redirect("disputes:notifications")
