"""Writes of arbitration: assigning a case, ruling, asking for evidence, replying to a
ruling. The same rules as every other change: the row is locked, the state machine says
what is legal for whom, one event is recorded per change, and the mail follows the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import is_arbitrator
from disputes import deadlines, events
from disputes.models import Dispute, EvidenceRequest
from disputes.outcomes import Change, take_effect
from disputes.services.guard import (
    DisputeError,
    StaleDispute,
    check_move,
    clean_text,
    locked,
    party_of,
    save_transition,
)
from disputes.services.negotiation import outcome_amount
from disputes.services.thread import attach_evidence, check_allowance, evidence_allowance
from disputes.states import RULINGS, DisputeState, OutcomeType, Party
from disputes.validators import visible_text
from evidence.models import Evidence
from evidence.services import Rejection, stored_evidence

if TYPE_CHECKING:
    from accounts.models import User


def _arbitrator_only(user: Any) -> None:
    if not is_arbitrator(user):
        raise DisputeError(_("Only arbitrators can do this."))


class Replied(NamedTuple):
    dispute: Dispute
    evidence: list[Evidence]
    rejected: list[Rejection]  # files refused by name; the others were kept


def dispute_assign(
    *, dispute_id: int, user: User, assignee: User | None, now: datetime | None = None
) -> Dispute:
    """Staff give an escalated case to an arbitrator (themselves or another), or take it
    back (``assignee=None``). The new arbitrator is told."""
    now = now or timezone.now()
    _arbitrator_only(user)
    if assignee is not None and not is_arbitrator(assignee):
        raise DisputeError(_("Cases can only be given to arbitrators."), field="assignee")
    with transaction.atomic():
        dispute = locked(dispute_id)
        if dispute.state not in (DisputeState.ESCALATED, DisputeState.RULED):
            raise StaleDispute(_("Only a case with the arbitrators can be assigned."))
        if dispute.assignee_id == (assignee.pk if assignee else None):
            return dispute
        before = dispute.assignee
        dispute.assignee = assignee
        dispute.save(update_fields=["assignee"])
        change = Change()
        events.assigned(change.log, dispute, user=user, assignee=assignee, before=before, at=now)
        change.flush(at=now)
    return dispute


def check_ruling(
    *, dispute: Dispute, outcome: str, amount: Decimal | None, reason: str
) -> Decimal | None:
    """What an arbitrator may rule, with which amount; returns the amount to record."""
    if outcome not in RULINGS:
        raise DisputeError(_("Choose one of the rulings."), field="outcome")
    clean_text(
        reason,
        field="reason",
        minimum=10,
        too_short=_("Write the reasons both sides will read (at least 10 characters)."),
        too_long=_("Keep the reasons under %(n)d characters."),
    )
    if outcome == OutcomeType.REJECTED:
        return None
    return outcome_amount(dispute=dispute, outcome=outcome, amount=amount)


def dispute_rule(
    *,
    dispute_id: int,
    user: User,
    outcome: str,
    amount: Decimal | None = None,
    reason: str,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """An arbitrator rules on an escalated case. The first ruling waits for the parties'
    replies; the second (after an objection) is final and takes effect now."""
    now = now or timezone.now()
    reason = visible_text(reason)
    with transaction.atomic():
        dispute = locked(dispute_id)
        final = dispute.ruling_round >= 1
        method = dispute.rule_final if final else dispute.rule
        check_move(dispute, user, method, expected_revision, now)
        amount = check_ruling(dispute=dispute, outcome=outcome, amount=amount, reason=reason)
        before = dispute.state
        method(by=user, outcome=outcome, amount=amount, reason=reason, at=now)
        change = Change()
        events.ruled(change.log, dispute, user=user, before=before, at=now, final=final)
        if final:
            take_effect(dispute, at=now, change=change)
        save_transition(dispute)
        change.flush(at=now)
    return dispute


def dispute_reply_ruling(
    *,
    dispute_id: int,
    user: User,
    agree: bool,
    reason: str = "",
    files: Sequence[Any] = (),
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Replied:
    """A party agrees to the ruling or objects to it, once, before the reply clock runs
    out. An objection needs a reason and may bring new evidence; it returns the case to
    its arbitrator. When both sides have agreed, the ruling takes effect."""
    now = now or timezone.now()
    reason = clean_text(
        reason,
        field="reason",
        minimum=0 if agree else 10,
        too_short=_("Say why you object (at least 10 characters): the arbitrator will read it."),
        too_long=_("Keep the reason under %(n)d characters."),
    )
    allowed = 0
    if files:
        target = Dispute.objects.select_related("store").get(pk=dispute_id)
        if target.party_of(user) in (Party.BUYER, Party.SELLER):
            allowed = evidence_allowance(dispute=target, party=party_of(target, user))
        else:
            files = ()
    with (
        stored_evidence(files=files, allowed=allowed) as (stored, rejected),
        transaction.atomic(),
    ):
        dispute = locked(dispute_id)
        method = dispute.agree_ruling if agree else dispute.object_ruling
        party = check_move(dispute, user, method, expected_revision, now)
        check_allowance(dispute=dispute, party=party, count=len(stored))
        before = dispute.state
        method(party=party, at=now)
        rows = attach_evidence(dispute=dispute, stored=stored, user=user, party=party, now=now)
        change = Change()
        both = dispute.state == DisputeState.AGREED
        events.ruling_replied(
            change.log,
            dispute,
            user=user,
            party=party,
            agree=agree,
            before=before,
            at=now,
            reason=reason,
            evidence=rows,
            agreed_by_both=both,
        )
        if both:
            take_effect(dispute, at=now, change=change)
        save_transition(dispute)
        change.flush(at=now)
    return Replied(dispute, rows, rejected)


def dispute_request_evidence(
    *,
    dispute_id: int,
    user: User,
    party: str,
    note: str,
    days: int | None = None,
    now: datetime | None = None,
) -> EvidenceRequest:
    """An arbitrator asks one side of an escalated case for more evidence, by a date.
    The side asked is told; the request and its date show on the dispute page."""
    now = now or timezone.now()
    _arbitrator_only(user)
    days = settings.PORTAL_EVIDENCE_REQUEST_DAYS if days is None else days
    if party not in (Party.BUYER, Party.SELLER):
        raise DisputeError(_("Ask the buyer or the seller."), field="party")
    if not 1 <= days <= 30:
        raise DisputeError(_("Give between 1 and 30 days."), field="days")
    note = clean_text(
        note,
        field="note",
        minimum=10,
        too_short=_("Say what you need (at least 10 characters)."),
        too_long=_("Keep the request under %(n)d characters."),
    )
    with transaction.atomic():
        dispute = locked(dispute_id)
        if dispute.state != DisputeState.ESCALATED:
            raise StaleDispute(_("Evidence can be asked for while the case is with staff."))
        request = EvidenceRequest.objects.create(
            dispute=dispute,
            party=party,
            note=note,
            requested_by=user,
            created_at=now,
            due_at=deadlines.evidence_request_due_at(requested_at=now, days=days),
        )
        change = Change()
        events.evidence_requested(change.log, dispute, user=user, request=request, at=now)
        change.flush(at=now)
    return request
