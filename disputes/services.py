"""Writes to disputes. Each function is one business step in one transaction.

Every change goes the same way: lock the dispute row, check that the form the person saw
is still current (``expected_revision``), let the state machine say whether the move is
legal for this person, apply the transition, record exactly one ``DisputeEvent``, and
queue the mail for after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from disputes import deadlines
from disputes.models import Dispute, DisputeEvent, DisputeMessage, EvidenceRequest
from disputes.states import (
    AMOUNT_OUTCOMES,
    BUYER_PROPOSALS,
    SELLER_PROPOSALS,
    Closing,
    DeadlineKind,
    EventKind,
    OutcomeType,
    Party,
    Reason,
    ReminderKind,
    RequestedOutcome,
)
from disputes.validators import validate_latin_script
from evidence.models import Evidence
from evidence.services import Rejection, StoredFile, evidence_attach, evidence_hide, evidence_store
from evidence.storage import delete_quietly
from orders.models import Order, OrderLine
from refunds.services import (
    RefundRequest,
    coupons_issue,
    lock_orders_of_lines,
    payouts_release,
    refunds_create,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
CENT = Decimal("0.01")


class DisputeError(Exception):
    """A refused action, with a message for the person (and the form field it concerns)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StaleDispute(DisputeError):
    """The dispute changed since the person's page was drawn: show them its state now."""


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


# --- opening -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DisputeRequest:
    """The buyer's questionnaire: block 1 (the problem) and block 2 (what they want)."""

    received: bool
    reason: str
    description: str
    quantity: int
    requested_outcome: str
    requested_amount: Decimal


def request_problems(*, line: OrderLine, request: DisputeRequest) -> list[DisputeError]:
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
    description = request.description.strip()
    if len(description) < 10:
        problem("description", _("Describe the problem in a few words (at least 10 characters)."))
    if len(description) > MAX_TEXT:
        problem("description", _("Keep the description under %(n)d characters.") % {"n": MAX_TEXT})
    if settings.PORTAL_REQUIRE_LATIN_DESCRIPTION:
        try:
            validate_latin_script(description)
        except ValidationError as exc:
            problem("description", exc.messages[0])
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
                "cap": _money(line.price_for(request.quantity), line.order.currency),
                "n": request.quantity,
            },
        )
    return list(problems.values())


def check_request(*, line: OrderLine, request: DisputeRequest) -> None:
    """The rules of the questionnaire, shared by the form and the service."""
    problems = request_problems(line=line, request=request)
    if problems:
        raise problems[0]


def evidence_required(reason: str) -> bool:
    """Photos or videos are required for every reason but "not received"."""
    return reason != Reason.NOT_RECEIVED


def dispute_open(
    *,
    line: OrderLine,
    buyer: User,
    request: DisputeRequest,
    files: Sequence[Any] = (),
    stored: Sequence[StoredFile] | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer opens a dispute on one line of their order. One dispute per line, ever.

    ``files`` are checked and stored first; unless the parcel never came, at least one
    must be a readable photo or video. Files already stored (``stored``) may be passed
    instead. If opening fails, the stored files are deleted again.
    """
    now = now or timezone.now()
    rejected: list[Rejection] = []
    if stored is None:
        stored, rejected = evidence_store(
            files=files, allowed=settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY
        )
    try:
        dispute = _open(
            line=line, buyer=buyer, request=request, stored=stored, rejected=rejected, now=now
        )
    except BaseException:
        delete_quietly([item.name for item in stored])
        raise
    dispute.rejections = rejected  # files refused by name, for the page to list
    return dispute


def _open(
    *,
    line: OrderLine,
    buyer: User,
    request: DisputeRequest,
    stored: Sequence[StoredFile],
    rejected: Sequence[Rejection],
    now: datetime,
) -> Dispute:
    with transaction.atomic():
        # The order first, then the line: the order every money writer follows (an order
        # completing at this moment then sees the new dispute and keeps the line held).
        Order.objects.select_for_update().only("pk").get(pk=line.order_id)
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
        check_request(line=line, request=request)
        if evidence_required(request.reason) and not stored:
            refused = " ".join(str(item) for item in rejected)
            raise DisputeError(
                " ".join(
                    [str(_("Add at least one photo or video that shows the problem.")), refused]
                ).strip(),
                field="evidence",
            )
        cap = line.price_for(request.quantity)
        if request.requested_outcome == RequestedOutcome.RETURN_AND_REFUND:
            proposal = OutcomeType.RETURN_AND_REFUND
        elif request.requested_amount == cap:
            proposal = OutcomeType.FULL_REFUND
        else:
            proposal = OutcomeType.PARTIAL_REFUND
        dispute = Dispute(
            line=line,
            order=order,
            buyer=buyer,
            store=order.store,
            received=request.received,
            reason=request.reason,
            description=request.description.strip(),
            quantity=request.quantity,
            requested_outcome=request.requested_outcome,
            requested_amount=request.requested_amount,
            amount_cap=cap,
            currency=order.currency,
            opened_at=now,
            next_deadline_at=deadlines.seller_response_due_at(opened_at=now),
            deadline_kind=DeadlineKind.SELLER_RESPONSE,
            proposal_type=proposal,
            proposal_amount=request.requested_amount,
            proposal_by=Party.BUYER,
            proposal_at=now,
        )
        dispute._remind(ReminderKind.SELLER_RESPONSE, dispute.next_deadline_at)
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
        recorder = Recorder()
        recorder.add(
            dispute,
            kind=EventKind.OPENED,
            actor=buyer,
            party=Party.BUYER,
            from_state="",
            at=now,
            note=dispute.description,
            data={
                "reason": dispute.reason,
                "received": dispute.received,
                "quantity": dispute.quantity,
                "requested_outcome": dispute.requested_outcome,
                "amount": str(dispute.requested_amount),
            },
        )
        if stored:
            evidence_attach(
                stored=stored, dispute_id=dispute.pk, uploaded_by=buyer, party=Party.BUYER, now=now
            )
        recorder.flush()
    return dispute


# --- acting on a dispute ---------------------------------------------------------------------
def lock_dispute(dispute_id: int, *, skip_locked: bool = False) -> Dispute | None:
    """The dispute row, locked for this transaction (None if another one holds it and
    ``skip_locked`` was asked)."""
    return (
        Dispute.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("store", "line", "order", "buyer")
        .filter(pk=dispute_id)
        .first()
    )


def _lock(dispute_id: int) -> Dispute:
    dispute = lock_dispute(dispute_id)
    if dispute is None:
        raise Dispute.DoesNotExist(dispute_id)
    return dispute


class DeadlinePassed(StaleDispute):
    """The running clock ran out: its consequence is due, not a person's action."""


def _check(
    dispute: Dispute, user: Any, method: Any, expected_revision: int | None, now: datetime
) -> Party:
    party = dispute.party_of(user)
    if party is None:
        raise DisputeError(_("This dispute is not yours."))
    if expected_revision is not None and dispute.revision != expected_revision:
        raise StaleDispute(_("This dispute changed while you were looking at it."))
    if not can_proceed(method):
        raise StaleDispute(
            _("This is no longer possible: the dispute is now “%(state)s”.")
            % {"state": dispute.get_state_display()}
        )
    if not has_transition_perm(method, user):
        raise DisputeError(_("You cannot do this on this dispute."))
    informational = dispute.deadline_kind == DeadlineKind.ARBITRATION_LIMIT
    if (
        dispute.next_deadline_at is not None
        and now >= dispute.next_deadline_at
        and not informational
    ):
        raise DeadlinePassed(
            _("Too late: the deadline passed on %(when)s and its outcome now applies.")
            % {"when": date_format(dispute.next_deadline_at, "j M Y, H:i T")}
        )
    return party


def save_transition(dispute: Dispute) -> None:
    """Save a dispute whose state moved: the revision is bumped, and the save is refused if
    another transaction moved the state first (the concurrent-transition guard)."""
    dispute.revision += 1
    try:
        dispute.save()
    except ConcurrentTransition as exc:
        raise StaleDispute(_("This dispute changed while you were looking at it.")) from exc


class Recorder:
    """Collects what one change (or a batch of changes) writes besides the dispute rows,
    and writes it in one go: the events with their outbox rows, the refunds, the coupons
    and the escrow releases. The first event of a change notifies; the events that follow
    from it (the outcome taking effect) do not mail anyone a second time."""

    def __init__(self) -> None:
        self.events: list[DisputeEvent] = []
        self.notifying: list[DisputeEvent] = []
        self.refunds: list[RefundRequest] = []
        self.coupons: list[Dispute] = []
        self.settled_lines: set[int] = set()

    def add(
        self,
        dispute: Dispute,
        *,
        kind: str,
        actor: Any,
        party: str,
        from_state: str,
        at: datetime,
        note: str = "",
        data: dict[str, Any] | None = None,
        message: DisputeMessage | None = None,
        deadline_due_at: datetime | None = None,
        notify: bool = True,
    ) -> DisputeEvent:
        event = DisputeEvent(
            dispute=dispute,
            kind=kind,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_party=party,
            from_state=from_state,
            to_state=dispute.state,
            note=note,
            data=data or {},
            message=message,
            deadline_due_at=deadline_due_at,
            created_at=at,
        )
        self.events.append(event)
        if notify:
            self.notifying.append(event)
        return event

    def refund(self, dispute: Dispute) -> None:
        """Refund the dispute's outcome amount (in this transaction, sent after it)."""
        self.refunds.append(
            RefundRequest(
                line_id=dispute.line_id,
                amount=dispute.outcome_amount,
                reason=f"Dispute #{dispute.pk}: {dispute.get_outcome_type_display()}",
                dispute_id=dispute.pk,
            )
        )

    def coupon(self, dispute: Dispute) -> None:
        self.coupons.append(dispute)

    def settled(self, dispute: Dispute) -> None:
        """The dispute is finished: its line's share may leave escrow (if its order is
        completed; otherwise when it completes)."""
        self.settled_lines.add(dispute.line_id)

    def flush(self, *, now: datetime | None = None) -> list[DisputeEvent]:
        from disputes.notifications import notifications_create

        DisputeEvent.objects.bulk_create(self.events)
        notifications_create(self.notifying)
        at = now or (self.events[-1].created_at if self.events else None)
        money_lines = {item.line_id for item in self.refunds} | self.settled_lines
        if money_lines:
            # Every order this flush touches, locked at once in id order, so that two
            # sweeps settling overlapping orders can never wait on each other in a cycle.
            lock_orders_of_lines(money_lines)
        if self.refunds:
            refunds_create(requests=self.refunds, now=at)
        if self.coupons:
            coupons_issue(disputes=self.coupons, now=at)
        if self.settled_lines:
            payouts_release(line_ids=self.settled_lines, now=at)
        events = self.events
        self.__init__()
        return events


def outcome_data(dispute: Dispute) -> dict[str, Any]:
    return {
        "outcome": dispute.outcome_type,
        "amount": None if dispute.outcome_amount is None else str(dispute.outcome_amount),
        "decided_by": dispute.decided_by,
    }


def record_resolved(dispute: Dispute, *, before: str, at: datetime, recorder: Recorder) -> None:
    """The dispute just finished: note it (no second mail) and let its escrow go."""
    recorder.add(
        dispute,
        kind=EventKind.RESOLVED,
        actor=None,
        party=Party.PLATFORM,
        from_state=before,
        at=at,
        data={**outcome_data(dispute), "closing": dispute.closing},
        notify=False,
    )
    recorder.settled(dispute)


def take_effect(dispute: Dispute, *, at: datetime, recorder: Recorder) -> None:
    """An agreed or decided outcome takes effect, in the transaction that agreed it.

    A refund is recorded now (and sent to the gateway after the commit); a coupon is
    issued; a rejection just ends the dispute. A return or a replacement is a promise, not
    an ending: the dispute waits for it, on its own clock.
    """
    before = dispute.state
    outcome = dispute.outcome_type
    if outcome == OutcomeType.RETURN_AND_REFUND:
        dispute.start_return(at=at)
        recorder.add(
            dispute,
            kind=EventKind.RETURN_STARTED,
            actor=None,
            party=Party.PLATFORM,
            from_state=before,
            at=at,
            data={**outcome_data(dispute), "due": dispute.next_deadline_at.isoformat()},
            notify=False,
        )
        return
    if outcome == OutcomeType.REPLACEMENT:
        dispute.start_replacement(at=at)
        recorder.add(
            dispute,
            kind=EventKind.REPLACEMENT_STARTED,
            actor=None,
            party=Party.PLATFORM,
            from_state=before,
            at=at,
            data={**outcome_data(dispute), "due": dispute.next_deadline_at.isoformat()},
            notify=False,
        )
        return
    if outcome in (OutcomeType.FULL_REFUND, OutcomeType.PARTIAL_REFUND):
        recorder.refund(dispute)
        closing = Closing.REFUNDED
    elif outcome == OutcomeType.COUPON:
        recorder.coupon(dispute)
        closing = Closing.COUPON
    else:
        closing = Closing.REJECTED
    dispute.resolve(closing=closing, at=at)
    record_resolved(dispute, before=before, at=at, recorder=recorder)


def dispute_accept(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Accept the proposal on the table (the seller: the buyer's request or counter; the
    buyer: the seller's proposal). The outcome is agreed and takes effect."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute = _lock(dispute_id)
        party = _check(dispute, user, dispute.accept, expected_revision, now)
        recorder = Recorder()
        before = dispute.state
        dispute.accept(party=party, at=now)
        recorder.add(
            dispute,
            kind=EventKind.ACCEPTED,
            actor=user,
            party=party,
            from_state=before,
            at=now,
            data=outcome_data(dispute),
        )
        take_effect(dispute, at=now, recorder=recorder)
        save_transition(dispute)
        recorder.flush()
    return dispute


def check_proposal(
    *, dispute: Dispute, party: str, outcome: str, amount: Decimal | None, note: str
) -> Decimal | None:
    """What each side may propose, with which amount; returns the amount to record."""
    allowed = SELLER_PROPOSALS if party == Party.SELLER else BUYER_PROPOSALS
    if outcome not in allowed:
        raise DisputeError(_("Choose one of the offered solutions."), field="outcome")
    if outcome == OutcomeType.RETURN_AND_REFUND and not dispute.received:
        raise DisputeError(_("Nothing can be returned: the parcel never arrived."), field="outcome")
    if outcome == OutcomeType.REJECTED and not note.strip():
        raise DisputeError(_("Give your reasons for rejecting the claim."), field="note")
    if len(note) > MAX_TEXT:
        raise DisputeError(
            _("Keep the note under %(n)d characters.") % {"n": MAX_TEXT}, field="note"
        )
    if outcome == OutcomeType.FULL_REFUND:
        return dispute.amount_cap
    if outcome == OutcomeType.RETURN_AND_REFUND and amount is None:
        return dispute.amount_cap
    if outcome not in AMOUNT_OUTCOMES:
        return None
    return check_amount(dispute=dispute, amount=amount)


def check_amount(*, dispute: Dispute, amount: Decimal | None) -> Decimal:
    """An amount on the table: above zero, in cents, at most what was paid."""
    if amount is None or amount <= 0:
        raise DisputeError(_("Enter an amount above zero."), field="amount")
    if amount != amount.quantize(CENT):
        raise DisputeError(_("Enter the amount in cents: at most two decimals."), field="amount")
    if amount > dispute.amount_cap:
        raise DisputeError(
            _("The amount cannot be more than the %(cap)s paid for the disputed item(s).")
            % {"cap": _money(dispute.amount_cap, dispute.currency)},
            field="amount",
        )
    return amount


def dispute_propose(
    *,
    dispute_id: int,
    user: User,
    outcome: str,
    amount: Decimal | None = None,
    note: str = "",
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The seller answers with another solution (or revises it); the buyer counters."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute = _lock(dispute_id)
        party = _check(dispute, user, dispute.propose, expected_revision, now)
        amount = check_proposal(
            dispute=dispute, party=party, outcome=outcome, amount=amount, note=note
        )
        recorder = Recorder()
        before = dispute.state
        dispute.propose(party=party, outcome=outcome, amount=amount, note=note.strip(), at=now)
        save_transition(dispute)
        recorder.add(
            dispute,
            kind=EventKind.PROPOSED,
            actor=user,
            party=party,
            from_state=before,
            at=now,
            note=note.strip(),
            data={"outcome": outcome, "amount": None if amount is None else str(amount)},
        )
        recorder.flush()
    return dispute


def dispute_withdraw(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Dispute:
    """The buyer withdraws. Final: the line can never be disputed again."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute = _lock(dispute_id)
        party = _check(dispute, user, dispute.withdraw, expected_revision, now)
        recorder = Recorder()
        before = dispute.state
        dispute.withdraw(at=now)
        save_transition(dispute)
        recorder.add(
            dispute,
            kind=EventKind.WITHDRAWN,
            actor=user,
            party=party,
            from_state=before,
            at=now,
            note=note.strip(),
        )
        recorder.settled(dispute)
        recorder.flush()
    return dispute


# --- carrying out a return or a replacement ---------------------------------------------------
MAX_TRACKING = 80


def check_tracking(*, carrier: str, tracking: str) -> tuple[str, str]:
    """A carrier's name and a tracking number, trimmed; refused with the field to fix."""
    carrier, tracking = carrier.strip(), tracking.strip().upper()
    if not carrier:
        raise DisputeError(_("Enter the carrier (the postal service or courier)."), field="carrier")
    if len(carrier) > MAX_TRACKING:
        raise DisputeError(_("Keep the carrier's name short."), field="carrier")
    if not tracking:
        raise DisputeError(_("Enter the tracking number."), field="tracking")
    if len(tracking) > MAX_TRACKING or not all(
        c.isascii() and (c.isalnum() or c in " -") for c in tracking
    ):
        raise DisputeError(
            _("A tracking number has only Latin letters, digits, spaces and dashes."),
            field="tracking",
        )
    return carrier, tracking


def _step(
    *,
    dispute_id: int,
    user: User,
    name: str,
    kind: str,
    expected_revision: int | None,
    now: datetime,
    data: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[Dispute, Recorder, str]:
    """Lock, check and apply one person's transition; record its (notifying) event.
    Returns the dispute, the recorder and the state it was in, for the follow-ups."""
    dispute = _lock(dispute_id)
    method = getattr(dispute, name)
    party = _check(dispute, user, method, expected_revision, now)
    before = dispute.state
    method(at=now, **kwargs)
    recorder = Recorder()
    recorder.add(
        dispute,
        kind=kind,
        actor=user,
        party=party,
        from_state=before,
        at=now,
        data={**kwargs, **(data or {})},
    )
    return dispute, recorder, before


def dispute_ship_return(
    *,
    dispute_id: int,
    user: User,
    carrier: str,
    tracking: str,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer shipped the item back: the seller now has 10 days to confirm it arrived."""
    now = now or timezone.now()
    carrier, tracking = check_tracking(carrier=carrier, tracking=tracking)
    with transaction.atomic():
        dispute, recorder, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="ship_return",
            kind=EventKind.RETURN_SHIPPED,
            expected_revision=expected_revision,
            now=now,
            carrier=carrier,
            tracking=tracking,
        )
        save_transition(dispute)
        recorder.flush()
    return dispute


def dispute_confirm_return(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The seller got the returned parcel: the refund goes out."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, recorder, before = _step(
            dispute_id=dispute_id,
            user=user,
            name="confirm_return",
            kind=EventKind.RETURN_RECEIVED,
            expected_revision=expected_revision,
            now=now,
        )
        recorder.refund(dispute)
        save_transition(dispute)
        record_resolved(dispute, before=before, at=now, recorder=recorder)
        recorder.flush()
    return dispute


def dispute_ship_replacement(
    *,
    dispute_id: int,
    user: User,
    carrier: str,
    tracking: str,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The seller shipped the replacement: it is protected for the order's own period."""
    now = now or timezone.now()
    carrier, tracking = check_tracking(carrier=carrier, tracking=tracking)
    with transaction.atomic():
        protection_days = (
            OrderLine.objects.filter(dispute__pk=dispute_id)
            .values_list("order__protection_days", flat=True)
            .get()
        )
        dispute, recorder, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="ship_replacement",
            kind=EventKind.REPLACEMENT_SHIPPED,
            expected_revision=expected_revision,
            now=now,
            carrier=carrier,
            tracking=tracking,
            protection_days=protection_days,
        )
        save_transition(dispute)
        recorder.flush()
    return dispute


def dispute_confirm_replacement(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer got the replacement: the dispute is resolved."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, recorder, before = _step(
            dispute_id=dispute_id,
            user=user,
            name="confirm_replacement",
            kind=EventKind.REPLACEMENT_RECEIVED,
            expected_revision=expected_revision,
            now=now,
        )
        save_transition(dispute)
        record_resolved(dispute, before=before, at=now, recorder=recorder)
        recorder.flush()
    return dispute


def dispute_replacement_not_arrived(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer reports, within the replacement's protection, that it never came: the
    buyer's original request is granted and takes effect."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, recorder, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="replacement_not_arrived",
            kind=EventKind.REPLACEMENT_NOT_ARRIVED,
            expected_revision=expected_revision,
            now=now,
        )
        recorder.events[-1].data = outcome_data(dispute)
        take_effect(dispute, at=now, recorder=recorder)
        save_transition(dispute)
        recorder.flush()
    return dispute


def mark_evidence_requests_answered(*, dispute_id: int, party: str, now: datetime) -> int:
    """The side an arbitrator asked sent evidence: its open requests are answered."""
    return EvidenceRequest.objects.filter(
        dispute_id=dispute_id, party=party, answered_at__isnull=True
    ).update(answered_at=now)


def evidence_allowance(*, dispute: Dispute, party: str) -> int:
    """How many more files this side may still send in this dispute."""
    sent = Evidence.objects.filter(dispute=dispute, party=party).count()
    return max(settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY - sent, 0)


def _evidence_target(dispute_id: int, user: User) -> tuple[Dispute, Party]:
    dispute = Dispute.objects.select_related("store").get(pk=dispute_id)
    party = dispute.party_of(user)
    if party is None:
        raise DisputeError(_("This dispute is not yours."))
    if dispute.is_finished:
        raise StaleDispute(_("This dispute is closed; nothing more can be added."))
    return dispute, party


def dispute_add_evidence(
    *, dispute_id: int, user: User, files: Sequence[Any], now: datetime | None = None
) -> tuple[list[Evidence], list[Rejection]]:
    """Either side (or staff) adds photos and videos while the dispute is not finished.

    Each file is judged alone: the good ones are kept, the others refused by name."""
    now = now or timezone.now()
    dispute, party = _evidence_target(dispute_id, user)
    if not files:
        raise DisputeError(_("Choose at least one photo or video."), field="files")
    stored, rejected = evidence_store(
        files=files, allowed=evidence_allowance(dispute=dispute, party=party)
    )
    if not stored:
        return [], rejected
    try:
        with transaction.atomic():
            dispute = _lock(dispute_id)
            if dispute.is_finished:
                raise StaleDispute(_("This dispute is closed; nothing more can be added."))
            if evidence_allowance(dispute=dispute, party=party) < len(stored):
                raise DisputeError(_("You have reached the limit of files for this dispute."))
            rows = evidence_attach(
                stored=stored, dispute_id=dispute.pk, uploaded_by=user, party=party, now=now
            )
            mark_evidence_requests_answered(dispute_id=dispute.pk, party=party, now=now)
            recorder = Recorder()
            recorder.add(
                dispute,
                kind=EventKind.EVIDENCE_ADDED,
                actor=user,
                party=party,
                from_state=dispute.state,
                at=now,
                data={"evidence": [row.pk for row in rows], "count": len(rows)},
            )
            recorder.flush()
    except BaseException:
        delete_quietly([item.name for item in stored])
        raise
    return rows, rejected


def dispute_hide_evidence(
    *, evidence_id: int, user: User, reason: str, now: datetime | None = None
) -> bool:
    """Staff hide an item from the parties, with a reason the timeline shows."""
    now = now or timezone.now()
    reason = reason.strip()
    if not (user.is_staff and user.has_perm("evidence.hide_evidence")):
        raise DisputeError(_("Only arbitrators can hide evidence."))
    if not reason:
        raise DisputeError(_("Give the reason for hiding this item."), field="reason")
    with transaction.atomic():
        item = Evidence.objects.select_for_update().get(pk=evidence_id)
        if item.dispute_id is None:
            raise DisputeError(_("Only evidence of a dispute can be hidden."))
        dispute = _lock(item.dispute_id)
        if not evidence_hide(evidence=item, by=user, reason=reason, now=now):
            return False
        recorder = Recorder()
        recorder.add(
            dispute,
            kind=EventKind.EVIDENCE_HIDDEN,
            actor=user,
            party=Party.STAFF,
            from_state=dispute.state,
            at=now,
            note=reason,
            data={"evidence": item.pk, "name": item.original_name},
        )
        recorder.flush()
    return True


def dispute_post_message(
    *,
    dispute_id: int,
    user: User,
    body: str,
    files: Sequence[Any] = (),
    now: datetime | None = None,
) -> DisputeMessage:
    """Buyer, seller or staff write in the dispute's thread while it is not finished,
    with photos or videos attached if they like."""
    now = now or timezone.now()
    body = body.strip()
    if not body:
        raise DisputeError(_("Write a message first."), field="body")
    if len(body) > MAX_TEXT:
        raise DisputeError(
            _("Keep the message under %(n)d characters.") % {"n": MAX_TEXT}, field="body"
        )
    stored: list[StoredFile] = []
    rejected: list[Rejection] = []
    if files:
        target, party = _evidence_target(dispute_id, user)
        stored, rejected = evidence_store(
            files=files, allowed=evidence_allowance(dispute=target, party=party)
        )
    try:
        with transaction.atomic():
            dispute = _lock(dispute_id)
            party = dispute.party_of(user)
            if party is None:
                raise DisputeError(_("This dispute is not yours."))
            if dispute.is_finished:
                raise StaleDispute(_("This dispute is closed; no more messages can be added."))
            if stored and evidence_allowance(dispute=dispute, party=party) < len(stored):
                raise DisputeError(_("You have reached the limit of files for this dispute."))
            message = DisputeMessage.objects.create(
                dispute=dispute, author=user, author_party=party, body=body, created_at=now
            )
            rows = evidence_attach(
                stored=stored,
                dispute_id=dispute.pk,
                uploaded_by=user,
                party=party,
                message_id=message.pk,
                now=now,
            )
            if rows:
                mark_evidence_requests_answered(dispute_id=dispute.pk, party=party, now=now)
            recorder = Recorder()
            recorder.add(
                dispute,
                kind=EventKind.MESSAGE,
                actor=user,
                party=party,
                from_state=dispute.state,
                at=now,
                message=message,
                data={"evidence": [row.pk for row in rows]} if rows else None,
            )
            recorder.flush()
    except BaseException:
        delete_quietly([item.name for item in stored])
        raise
    message.rejections = rejected  # files refused by name, for the page to list
    return message
