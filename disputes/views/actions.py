"""The moves a person makes on the dispute page. Each view: fetch the dispute through the
person's selector, check that the step is theirs, validate, call one service, and let
``respond`` answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_fsm import can_proceed

from disputes import services
from disputes.forms import (
    DeclineForm,
    EvidenceForm,
    MessageForm,
    ObjectionForm,
    ProposalForm,
    RevisionForm,
    ShipmentForm,
)
from disputes.models import Dispute
from disputes.selectors import disputes_for_user
from disputes.services.guard import format_money
from disputes.states import Closing, DisputeState, Party
from disputes.views.respond import conflict, respond
from orders.templatetags.clocks import absolute
from refunds.selectors import refund_tracker
from refunds.services import RefundError, refund_mark_arrived


def _dispute(request: HttpRequest, pk: int, *, only: Party | tuple[Party, ...] = ()) -> Dispute:
    """The dispute, if the person may see it; ``only``: a step for one side (the other
    side and staff see the dispute, but the step is not theirs)."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    sides = (only,) if isinstance(only, str) else only
    if sides and dispute.party_of(request.user) not in sides:
        raise PermissionDenied
    return dispute


def _button(
    request: HttpRequest, dispute: Dispute, service, done: str | Callable[[Any], str]
) -> HttpResponse:
    """A move that is only a button: it carries the revision its page was drawn at."""
    form = RevisionForm(request.POST)
    return respond(
        request,
        dispute,
        lambda: service(
            dispute_id=dispute.pk,
            user=request.user,
            expected_revision=form.cleaned_data["revision"],
        ),
        form=form,
        done=done,
    )


def _accepted(dispute: Dispute, party: Party | None) -> str:
    """What accepting led to, and what happens next: a promise (a return, a replacement)
    is not a settlement."""
    when = absolute(dispute.next_deadline_at)
    money = format_money(dispute.outcome_amount, dispute.currency)
    buyer = party == Party.BUYER
    if dispute.state == DisputeState.AWAITING_REPLACEMENT:
        return _(
            "You accepted. The seller must ship the replacement by %(when)s; the dispute is "
            "settled once it arrives."
        ) % {"when": when}
    if dispute.state == DisputeState.AWAITING_RETURN:
        if buyer:
            return _(
                "You accepted. Ship the item back, with its tracking number, by %(when)s: "
                "the refund of %(money)s is sent once the seller has it."
            ) % {"when": when, "money": money}
        return _(
            "You accepted. The buyer must ship the item back by %(when)s; confirm here when "
            "it arrives, and the refund of %(money)s goes out."
        ) % {"when": when, "money": money}
    if dispute.closing == Closing.REFUNDED:
        if buyer:
            text = _(
                "You accepted. The dispute is settled: a refund of %(money)s is on its way to you."
            )
        else:
            text = _(
                "You accepted. The dispute is settled: a refund of %(money)s is on its way to the "
                "buyer."
            )
        return text % {"money": money}
    if dispute.closing == Closing.COUPON:
        if buyer:
            text = _("You accepted. The dispute is settled: your coupon worth %(money)s is below.")
        else:
            text = _(
                "You accepted. The dispute is settled: the buyer gets a coupon worth %(money)s."
            )
        return text % {"money": money}
    if dispute.closing == Closing.REJECTED:
        return _("You accepted. The dispute is closed: the claim is rejected.")
    return _("You accepted.")


@login_required
@require_POST
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    party = dispute.party_of(request.user)
    return _button(request, dispute, services.dispute_accept, lambda done: _accepted(done, party))


@login_required
@require_POST
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    """Say no to the proposal on the table, with an optional reason, proposing nothing."""
    dispute = _dispute(request, pk, only=(Party.BUYER, Party.SELLER))
    party = dispute.party_of(request.user)
    request_declined = dispute.state == DisputeState.OPEN  # the buyer's own request
    form = DeclineForm(request.POST)
    return respond(
        request,
        dispute,
        lambda: services.dispute_decline(
            dispute_id=dispute.pk,
            user=request.user,
            reason=form.cleaned_data["reason"],
            expected_revision=form.cleaned_data["revision"],
        ),
        form=form,
        form_name="decline_form",
        done=lambda done: _declined(done, party, request_declined),
        anchor="#proposal",
    )


def _declined(dispute: Dispute, party: Party | None, request_declined: bool) -> str:
    when = absolute(dispute.next_deadline_at)
    if party == Party.BUYER:
        return _(
            "You declined the seller's proposal; the seller has been told. Either of you may "
            "propose something else; without an agreement by %(when)s, an arbitrator decides."
        ) % {"when": when}
    if request_declined:
        return _(
            "You declined the buyer's request; the buyer has been told. Either of you may "
            "propose something else; without an agreement by %(when)s, an arbitrator decides."
        ) % {"when": when}
    return _(
        "You declined the buyer's proposal; the buyer has been told. Either of you may "
        "propose something else; without an agreement by %(when)s, an arbitrator decides."
    ) % {"when": when}


@login_required
@require_POST
def propose(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    form = ProposalForm(request.POST, party=dispute.party_of(request.user))
    return respond(
        request,
        dispute,
        lambda: services.dispute_propose(
            dispute_id=dispute.pk,
            user=request.user,
            outcome=form.cleaned_data["outcome"],
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
            expected_revision=form.cleaned_data["revision"],
        ),
        form=form,
        form_name="propose_form",
        done=_("Your proposal was sent."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    if dispute.party_of(request.user) != Party.BUYER:
        raise Http404
    if request.method == "POST":
        return _button(request, dispute, services.dispute_withdraw, _("You withdrew the dispute."))
    if not can_proceed(dispute.withdraw):
        return conflict(request, pk, services.StaleDispute(_("It can no longer be withdrawn.")))
    return render(
        request,
        "disputes/withdraw.html",
        {"dispute": dispute, "form": RevisionForm(initial={"revision": dispute.revision})},
    )


def _shipment(
    request: HttpRequest, pk: int, *, party: Party, service, form_name: str, done: str
) -> HttpResponse:
    """A parcel's carrier and tracking number."""
    dispute = _dispute(request, pk, only=party)
    form = ShipmentForm(request.POST)
    return respond(
        request,
        dispute,
        lambda: service(
            dispute_id=dispute.pk,
            user=request.user,
            carrier=form.cleaned_data["carrier"],
            tracking=form.cleaned_data["tracking"],
            expected_revision=form.cleaned_data["revision"],
        ),
        form=form,
        form_name=form_name,
        done=done,
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
    return _button(
        request,
        _dispute(request, pk, only=Party.SELLER),
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
    return _button(
        request,
        _dispute(request, pk, only=Party.BUYER),
        services.dispute_confirm_replacement,
        _("Thank you. The replacement arrived and the dispute is resolved."),
    )


@login_required
@require_POST
def replacement_not_arrived(request: HttpRequest, pk: int) -> HttpResponse:
    return _button(
        request,
        _dispute(request, pk, only=Party.BUYER),
        services.dispute_replacement_not_arrived,
        _("The replacement did not arrive: your original request is granted."),
    )


@login_required
@require_POST
def refund_arrived(request: HttpRequest, pk: int, refund_id: int) -> HttpResponse:
    """The buyer says a sent refund reached their account."""
    dispute = _dispute(request, pk, only=Party.BUYER)
    today = timezone.localdate()
    refund = get_object_or_404(refund_tracker(dispute_id=dispute.pk, today=today), pk=refund_id)
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
    dispute = _dispute(request, pk)
    form = MessageForm(request.POST, request.FILES)
    return respond(
        request,
        dispute,
        lambda: services.dispute_post_message(
            dispute_id=dispute.pk,
            user=request.user,
            body=form.cleaned_data["body"],
            files=form.cleaned_data["files"],
        ),
        form=form,
        form_name="message_form",
        done="",
        anchor="#messages",
        keep_typed=True,
    )


@login_required
@require_POST
def add_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    form = EvidenceForm(request.POST, request.FILES)
    return respond(
        request,
        dispute,
        lambda: services.dispute_add_evidence(
            dispute_id=dispute.pk, user=request.user, files=form.cleaned_data["files"]
        ),
        form=form,
        form_name="evidence_form",
        keep_typed=True,
        done=lambda added: (
            ngettext("%(n)d file added.", "%(n)d files added.", len(added.evidence))
            % {"n": len(added.evidence)}
            if added.evidence
            else ""
        ),
        anchor="#evidence",
    )


# --- replying to a ruling: buyer and seller only (staff see the case, with no reply to give)
@login_required
@require_POST
def agree_ruling(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk, only=(Party.BUYER, Party.SELLER))
    return _button(
        request,
        dispute,
        lambda **kwargs: services.dispute_reply_ruling(agree=True, **kwargs),
        _(
            "You agreed to the ruling. It takes effect when the other side agrees too, "
            "or says nothing in time."
        ),
    )


@login_required
@require_POST
def object_ruling(request: HttpRequest, pk: int) -> HttpResponse:
    """An objection, once, with a reason and any new evidence."""
    dispute = _dispute(request, pk, only=(Party.BUYER, Party.SELLER))
    form = ObjectionForm(request.POST, request.FILES)
    return respond(
        request,
        dispute,
        lambda: services.dispute_reply_ruling(
            dispute_id=dispute.pk,
            user=request.user,
            agree=False,
            reason=form.cleaned_data["reason"],
            files=form.cleaned_data["files"],
            expected_revision=form.cleaned_data["revision"],
        ),
        form=form,
        form_name="objection_form",
        done=_("Your objection was sent. The arbitrator will rule again; that ruling is final."),
        anchor="#ruling",
        ask_files_again=True,
    )
