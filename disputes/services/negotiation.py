"""Buyer and seller negotiate: accept the proposal on the table, decline it, propose
something else, or (the buyer) withdraw."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import events
from disputes.events import outcome_data
from disputes.models import Dispute
from disputes.outcomes import Change, take_effect
from disputes.services.guard import (
    CENT,
    DisputeError,
    check_move,
    clean_text,
    format_money,
    locked,
    save_transition,
)
from disputes.states import (
    AMOUNT_OUTCOMES,
    BUYER_PROPOSALS,
    SELLER_PROPOSALS,
    EventKind,
    OutcomeType,
    Party,
)
from disputes.validators import visible_text

if TYPE_CHECKING:
    from accounts.models import User


def check_amount(*, dispute: Dispute, amount: Decimal | None) -> Decimal:
    """An amount on the table: above zero, in cents, at most what was paid."""
    if amount is None or amount <= 0:
        raise DisputeError(_("Enter an amount above zero."), field="amount")
    if amount != amount.quantize(CENT):
        raise DisputeError(_("Enter the amount in cents: at most two decimals."), field="amount")
    if amount > dispute.amount_cap:
        raise DisputeError(
            _("The amount cannot be more than the %(cap)s paid for the disputed item(s).")
            % {"cap": format_money(dispute.amount_cap, dispute.currency)},
            field="amount",
        )
    return amount


def outcome_amount(*, dispute: Dispute, outcome: str, amount: Decimal | None) -> Decimal | None:
    """The amount an outcome carries: what was paid for a full refund (and for a return
    when none is given), the checked amount for the others that carry one, else none."""
    if outcome == OutcomeType.RETURN_AND_REFUND and not dispute.received:
        raise DisputeError(_("Nothing can be returned: the parcel never arrived."), field="outcome")
    if outcome == OutcomeType.FULL_REFUND or (
        outcome == OutcomeType.RETURN_AND_REFUND and amount is None
    ):
        return dispute.amount_cap
    if outcome not in AMOUNT_OUTCOMES:
        return None
    return check_amount(dispute=dispute, amount=amount)


def check_proposal(
    *, dispute: Dispute, party: str, outcome: str, amount: Decimal | None, note: str
) -> Decimal | None:
    """What each side may propose, with which amount; returns the amount to record."""
    allowed = SELLER_PROPOSALS if party == Party.SELLER else BUYER_PROPOSALS
    if outcome not in allowed:
        raise DisputeError(_("Choose one of the offered solutions."), field="outcome")
    clean_text(
        note,
        field="note",
        minimum=1 if outcome == OutcomeType.REJECTED else 0,
        too_short=_("Give your reasons for rejecting the claim."),
        too_long=_("Keep the note under %(n)d characters."),
    )
    return outcome_amount(dispute=dispute, outcome=outcome, amount=amount)


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
        dispute = locked(dispute_id)
        party = check_move(dispute, user, dispute.accept, expected_revision, now)
        change = Change()
        before = dispute.state
        dispute.accept(party=party, at=now)
        events.moved(
            change.log,
            dispute,
            kind=EventKind.ACCEPTED,
            user=user,
            party=party,
            before=before,
            at=now,
            **outcome_data(dispute),
        )
        take_effect(dispute, at=now, change=change)
        save_transition(dispute)
        change.flush(at=now)
    return dispute


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
    note = visible_text(note)
    with transaction.atomic():
        dispute = locked(dispute_id)
        party = check_move(dispute, user, dispute.propose, expected_revision, now)
        amount = check_proposal(
            dispute=dispute, party=party, outcome=outcome, amount=amount, note=note
        )
        change = Change()
        before = dispute.state
        dispute.propose(party=party, outcome=outcome, amount=amount, note=note, at=now)
        save_transition(dispute)
        events.proposed(
            change.log,
            dispute,
            user=user,
            party=party,
            before=before,
            at=now,
            outcome=outcome,
            amount=amount,
            note=note,
        )
        change.flush(at=now)
    return dispute


def dispute_decline(
    *,
    dispute_id: int,
    user: User,
    reason: str = "",
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The other side of whoever made the proposal on the table says no to it, with an
    optional reason, without proposing another. Nothing is on the table afterwards (it can
    no longer be accepted) and either side may propose; the negotiation clock runs on
    toward escalation (a seller declining the buyer's request has answered, and starts
    it)."""
    now = now or timezone.now()
    reason = clean_text(
        reason,
        field="reason",
        minimum=0,
        too_short="",
        too_long=_("Keep the reason under %(n)d characters."),
    )
    with transaction.atomic():
        dispute = locked(dispute_id)
        party = check_move(dispute, user, dispute.decline, expected_revision, now)
        declined = (dispute.proposal_type, dispute.proposal_amount, dispute.proposal_by)
        change = Change()
        before = dispute.state
        dispute.decline(party=party, at=now)
        save_transition(dispute)
        events.declined(
            change.log,
            dispute,
            user=user,
            party=party,
            before=before,
            at=now,
            outcome=declined[0],
            amount=declined[1],
            proposed_by=declined[2],
            reason=reason,
        )
        change.flush(at=now)
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
        dispute = locked(dispute_id)
        party = check_move(dispute, user, dispute.withdraw, expected_revision, now)
        change = Change()
        before = dispute.state
        dispute.withdraw(at=now)
        save_transition(dispute)
        events.moved(
            change.log,
            dispute,
            kind=EventKind.WITHDRAWN,
            user=user,
            party=party,
            before=before,
            at=now,
            note=visible_text(note),
        )
        change.money.settled(dispute)
        change.flush(at=now)
    return dispute


__all__ = [
    "check_amount",
    "check_proposal",
    "dispute_accept",
    "dispute_decline",
    "dispute_propose",
    "dispute_withdraw",
    "outcome_amount",
]
