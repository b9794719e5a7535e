"""The buyer opens a dispute: the questionnaire's rules, checked once, and the opening.

Photos and videos sent with the questionnaire are checked, cleaned and kept for the buyer
as soon as they arrive (``dispute_hold_files``), whatever becomes of the rest of the form:
a refused questionnaire (a description in another script, an amount too high) shows them
as already sent, and the corrected one attaches them without a new upload, in the
transaction that opens the dispute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import deadlines, events
from disputes.models import Dispute
from disputes.outcomes import Change
from disputes.services.guard import CENT, DisputeError, clean_text, format_money
from disputes.states import Party, Reason, RequestedOutcome
from disputes.validators import visible_text
from evidence.models import HeldFile
from evidence.services import (
    EvidenceError,
    Hold,
    Rejection,
    evidence_attach,
    evidence_attach_held,
    evidence_hold,
    evidence_release,
    stored_evidence,
)
from orders.models import OrderLine
from orders.services import lock_orders

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class DisputeRequest:
    """The buyer's questionnaire: block 1 (the problem) and block 2 (what they want)."""

    received: bool
    reason: str
    description: str
    quantity: int
    requested_outcome: str
    requested_amount: Decimal


class Opened(NamedTuple):
    dispute: Dispute
    rejected: list[Rejection]  # files refused by name; the others were kept


def evidence_required(reason: str) -> bool:
    """Photos or videos are required for every reason but "not received"."""
    return reason != Reason.NOT_RECEIVED


def questionnaire_scope(line: OrderLine) -> str:
    """The name under which files sent with the questionnaire of ``line`` are held."""
    return f"dispute-line:{line.pk}"


def dispute_hold_files(
    *, line: OrderLine, buyer: User, files: Sequence[Any], now: datetime | None = None
) -> Hold:
    """Check, clean and keep for the buyer the files sent with the questionnaire of one of
    their lines, until ``deadlines.held_files_expire_at``; the files already kept for it
    count toward the dispute's limit. Refused files are named with their reason."""
    now = now or timezone.now()
    if line.order.buyer_id != buyer.pk:
        raise DisputeError(_("Only the buyer of this order can open a dispute on it."))
    return evidence_hold(
        owner=buyer,
        scope=questionnaire_scope(line),
        files=files,
        limit=settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY,
        expires_at=deadlines.held_files_expire_at(held_at=now),
        now=now,
    )


def dispute_remove_held_file(*, line: OrderLine, buyer: User, held_id: int) -> HeldFile | None:
    """The buyer takes back one file kept for the questionnaire before sending it; None if
    no such file is kept for them there."""
    return evidence_release(owner=buyer, scope=questionnaire_scope(line), held_id=held_id)


def request_problems(
    *, line: OrderLine, request: DisputeRequest, has_files: bool = True
) -> list[DisputeError]:
    """Everything wrong with the questionnaire at once, one error per field at most."""
    problems: dict[str, DisputeError] = {}

    def problem(field: str, message: str) -> None:
        problems.setdefault(field, DisputeError(message, field=field))

    if not request.received and request.reason != Reason.NOT_RECEIVED:
        problem(
            "reason",
            _("You said the parcel did not arrive: choose “I did not receive the parcel”."),
        )
    if request.received and request.reason == Reason.NOT_RECEIVED:
        problem("reason", _("You said the parcel arrived: choose what is wrong with it."))
    if not request.received and request.requested_outcome == RequestedOutcome.RETURN_AND_REFUND:
        problem(
            "requested_outcome",
            _("Nothing can be returned if the parcel never arrived: choose a refund only."),
        )
    quantity_ok = 1 <= request.quantity <= line.quantity
    if not quantity_ok:
        problem("quantity", _("Choose between 1 and %(n)d items.") % {"n": line.quantity})
    try:
        clean_text(
            request.description,
            field="description",
            minimum=10,
            english=True,
            too_short=_("Describe the problem in a few words (at least 10 characters)."),
            too_long=_("Keep the description under %(n)d characters."),
        )
    except DisputeError as exc:
        problems.setdefault("description", exc)
    amount = request.requested_amount
    if amount != amount.quantize(CENT):
        problem("requested_amount", _("Enter the amount in cents: at most two decimals."))
    if amount <= 0:
        problem("requested_amount", _("Enter an amount above zero."))
    if quantity_ok and amount > line.price_for(request.quantity):
        problem(
            "requested_amount",
            _("You paid %(cap)s for %(n)d item(s): the refund cannot be more than that.")
            % {
                "cap": format_money(line.price_for(request.quantity), line.order.currency),
                "n": request.quantity,
            },
        )
    if evidence_required(request.reason) and not has_files:
        problem("evidence", _("Add at least one photo or video that shows the problem."))
    return list(problems.values())


def dispute_open(
    *,
    line: OrderLine,
    buyer: User,
    request: DisputeRequest,
    files: Sequence[Any] = (),
    held: Sequence[int] = (),
    now: datetime | None = None,
) -> Opened:
    """The buyer opens a dispute on one line of their order. One dispute per line, ever.

    ``held`` are files already kept for this questionnaire (``dispute_hold_files``); they
    become the dispute's evidence in the transaction that opens it, and any other file kept
    for it is dropped. Each must be the buyer's, for this line, and still kept, or nothing
    is opened. ``files`` are new uploads: the questionnaire is checked first (every problem
    at once, before any of them is stored); then they are checked and stored, and unless
    the parcel never came at least one file must be a readable photo or video. If opening
    fails, the new files are deleted again and the held ones stay held."""
    now = now or timezone.now()
    held = list(dict.fromkeys(held))
    limit = settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY
    problems = request_problems(line=line, request=request, has_files=bool(files or held))
    if problems:
        raise DisputeError.of(problems)
    with stored_evidence(files=files, allowed=max(limit - len(held), 0)) as (
        stored,
        rejected,
    ):
        if evidence_required(request.reason) and not stored and not held:
            refused = " ".join(str(item) for item in rejected)
            raise DisputeError(
                " ".join(
                    [str(_("Add at least one photo or video that shows the problem.")), refused]
                ).strip(),
                field="evidence",
            )
        with transaction.atomic():
            dispute = _open(line=line, buyer=buyer, request=request, now=now)
            change = Change()
            events.opened(change.log, dispute, buyer=buyer, at=now)
            evidence_attach(
                stored=stored, dispute_id=dispute.pk, uploaded_by=buyer, party=Party.BUYER, now=now
            )
            try:
                evidence_attach_held(
                    owner=buyer,
                    scope=questionnaire_scope(line),
                    held_ids=held,
                    limit=limit - len(stored),
                    party=Party.BUYER,
                    dispute_id=dispute.pk,
                    now=now,
                )
            except EvidenceError as exc:
                raise DisputeError(str(exc), field="evidence") from exc
            change.flush(at=now)
    return Opened(dispute, rejected)


def _open(*, line: OrderLine, buyer: User, request: DisputeRequest, now: datetime) -> Dispute:
    # The order first, then the line: the order every money writer follows (an order
    # completing at this moment then sees the new dispute and keeps the line held).
    lock_orders([line.order_id], fields=["pk"])
    line = (
        OrderLine.objects.select_for_update(of=("self",))
        .select_related("order", "order__store")
        .get(pk=line.pk)
    )
    order = line.order
    if order.buyer_id != buyer.pk:
        raise DisputeError(_("Only the buyer of this order can open a dispute on it."))
    window = deadlines.dispute_window(
        order_state=order.state,
        protection_ends_at=order.protection_ends_at,
        completed_at=order.completed_at,
        now=now,
        already_disputed=Dispute.objects.filter(line=line).exists(),
    )
    if not window.is_open:
        raise DisputeError(window.explanation)
    dispute = Dispute(
        line=line,
        order=order,
        buyer=buyer,
        store=order.store,
        received=request.received,
        reason=request.reason,
        description=visible_text(request.description),
        quantity=request.quantity,
        requested_outcome=request.requested_outcome,
        requested_amount=request.requested_amount,
        amount_cap=line.price_for(request.quantity),
        currency=order.currency,
    )
    dispute.open(at=now)
    try:
        with transaction.atomic():
            dispute.save()
    except IntegrityError as exc:
        # Two requests raced past the check above: the database keeps one per line.
        if not Dispute.objects.filter(line=line).exists():
            raise
        raise DisputeError(
            _("This item already has a dispute; an item can be disputed only once.")
        ) from exc
    return dispute
