"""Writes of arbitration: assigning a case, ruling, asking for evidence, replying to a
ruling. The same rules as every other change: the row is locked, the state machine says
what is legal for whom, one event is recorded per change, and the mail follows the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import is_arbitrator
from disputes import deadlines
from disputes.models import Dispute, EvidenceRequest
from disputes.services import (
    MAX_TEXT,
    DisputeError,
    Recorder,
    StaleDispute,
    _check,
    _lock,
    check_amount,
    evidence_allowance,
    mark_evidence_requests_answered,
    outcome_data,
    save_transition,
    take_effect,
)
from disputes.states import RULINGS, DisputeState, EventKind, OutcomeType, Party
from evidence.services import Rejection, evidence_attach, evidence_store
from evidence.storage import delete_quietly

if TYPE_CHECKING:
    from accounts.models import User


def _arbitrator_only(user: Any) -> None:
    if not (user.is_staff and user.has_perm("disputes.rule_dispute")):
        raise DisputeError(_("Only arbitrators can do this."))


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
        dispute = _lock(dispute_id)
        if dispute.state not in (DisputeState.ESCALATED, DisputeState.RULED):
            raise StaleDispute(_("Only a case with the arbitrators can be assigned."))
        if dispute.assignee_id == (assignee.pk if assignee else None):
            return dispute
        before = dispute.assignee
        dispute.assignee = assignee
        dispute.save(update_fields=["assignee"])
        recorder = Recorder()
        recorder.add(
            dispute,
            kind=EventKind.ASSIGNED,
            actor=user,
            party=Party.STAFF,
            from_state=dispute.state,
            at=now,
            data={
                "assignee": assignee.pk if assignee else None,
                "assignee_name": assignee.get_full_name() or assignee.get_username()
                if assignee
                else "",
                "before": before.pk if before else None,
            },
        )
        recorder.flush()
    return dispute


def check_ruling(
    *, dispute: Dispute, outcome: str, amount: Decimal | None, reason: str
) -> Decimal | None:
    """What an arbitrator may rule, with which amount; returns the amount to record."""
    if outcome not in RULINGS:
        raise DisputeError(_("Choose one of the rulings."), field="outcome")
    reason = reason.strip()
    if len(reason) < 10:
        raise DisputeError(
            _("Write the reasons both sides will read (at least 10 characters)."), field="reason"
        )
    if len(reason) > MAX_TEXT:
        raise DisputeError(
            _("Keep the reasons under %(n)d characters.") % {"n": MAX_TEXT}, field="reason"
        )
    if outcome == OutcomeType.REJECTED:
        return None
    if outcome == OutcomeType.RETURN_AND_REFUND and not dispute.received:
        raise DisputeError(_("Nothing can be returned: the parcel never arrived."), field="outcome")
    if outcome == OutcomeType.FULL_REFUND or (
        outcome == OutcomeType.RETURN_AND_REFUND and amount is None
    ):
        return dispute.amount_cap
    return check_amount(dispute=dispute, amount=amount)


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
    """An arbitrator rules on an escalated case. The first ruling waits 5 days for the
    parties' replies; the second (after an objection) is final and takes effect now."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute = _lock(dispute_id)
        final = dispute.ruling_round >= 1
        method = dispute.rule_final if final else dispute.rule
        _check(dispute, user, method, expected_revision, now)
        amount = check_ruling(dispute=dispute, outcome=outcome, amount=amount, reason=reason)
        before = dispute.state
        method(by=user, outcome=outcome, amount=amount, reason=reason.strip(), at=now)
        recorder = Recorder()
        recorder.add(
            dispute,
            kind=EventKind.RULED,
            actor=user,
            party=Party.STAFF,
            from_state=before,
            at=now,
            note=reason.strip(),
            data={
                "outcome": outcome,
                "amount": None if amount is None else str(amount),
                "round": dispute.ruling_round,
                "final": final,
            },
        )
        if final:
            take_effect(dispute, at=now, recorder=recorder)
        save_transition(dispute)
        recorder.flush()
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
) -> Dispute:
    """A party agrees to the ruling or objects to it, once, within 5 days. An objection
    needs a reason and may bring new evidence; it returns the case to its arbitrator.
    When both sides have agreed, the ruling takes effect."""
    now = now or timezone.now()
    reason = reason.strip()
    if not agree and len(reason) < 10:
        raise DisputeError(
            _("Say why you object (at least 10 characters): the arbitrator will read it."),
            field="reason",
        )
    if len(reason) > MAX_TEXT:
        raise DisputeError(
            _("Keep the reason under %(n)d characters.") % {"n": MAX_TEXT}, field="reason"
        )
    stored, rejected = [], []
    if files:
        target = Dispute.objects.select_related("store").get(pk=dispute_id)
        party = target.party_of(user)
        if party in (Party.BUYER, Party.SELLER):
            stored, rejected = evidence_store(
                files=files, allowed=evidence_allowance(dispute=target, party=party)
            )
    try:
        with transaction.atomic():
            dispute = _lock(dispute_id)
            method = dispute.agree_ruling if agree else dispute.object_ruling
            party = _check(dispute, user, method, expected_revision, now)
            if stored and evidence_allowance(dispute=dispute, party=party) < len(stored):
                raise DisputeError(_("You have reached the limit of files for this dispute."))
            before = dispute.state
            method(party=party, at=now)
            rows = evidence_attach(
                stored=stored, dispute_id=dispute.pk, uploaded_by=user, party=party, now=now
            )
            if rows:
                mark_evidence_requests_answered(dispute_id=dispute.pk, party=party, now=now)
            recorder = Recorder()
            recorder.add(
                dispute,
                kind=EventKind.RULING_AGREED if agree else EventKind.RULING_OBJECTED,
                actor=user,
                party=party,
                from_state=before,
                at=now,
                note=reason,
                data={"evidence": [row.pk for row in rows]} if rows else None,
            )
            if dispute.state == DisputeState.AGREED:
                recorder.events[-1].data = {**recorder.events[-1].data, **outcome_data(dispute)}
                take_effect(dispute, at=now, recorder=recorder)
            save_transition(dispute)
            recorder.flush()
    except BaseException:
        delete_quietly([item.name for item in stored])
        raise
    dispute.rejections = rejected  # files refused by name, for the page to list
    return dispute


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
    note = note.strip()
    if party not in (Party.BUYER, Party.SELLER):
        raise DisputeError(_("Ask the buyer or the seller."), field="party")
    if not 1 <= days <= 30:
        raise DisputeError(_("Give between 1 and 30 days."), field="days")
    if len(note) < 10:
        raise DisputeError(_("Say what you need (at least 10 characters)."), field="note")
    if len(note) > MAX_TEXT:
        raise DisputeError(
            _("Keep the request under %(n)d characters.") % {"n": MAX_TEXT}, field="note"
        )
    with transaction.atomic():
        dispute = _lock(dispute_id)
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
        recorder = Recorder()
        recorder.add(
            dispute,
            kind=EventKind.EVIDENCE_REQUESTED,
            actor=user,
            party=Party.STAFF,
            from_state=dispute.state,
            at=now,
            note=note,
            data={"party": party, "due": request.due_at.isoformat(), "request": request.pk},
        )
        recorder.flush()
    return request


__all__ = [
    "Rejection",
    "check_ruling",
    "dispute_assign",
    "dispute_reply_ruling",
    "dispute_request_evidence",
    "dispute_rule",
]
