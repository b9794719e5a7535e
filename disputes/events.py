"""What is recorded about a dispute: one function per kind of event, each owning the keys
of its ``data`` (``DATA_KEYS``: all the timeline, the mails and the admin may read, as a
test holds the templates to), and the log that writes a change's events and outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from disputes.models import Dispute, DisputeEvent, DisputeMessage
from disputes.states import EventKind, Party
from orders.bulk import insert_rows
from orders.hooks import call_hook

OUTCOME_KEYS = ("outcome", "amount", "decided_by")
REFUND_KEYS = ("refund", "amount", "method", "reference")

DATA_KEYS: dict[str, tuple[str, ...]] = {
    EventKind.OPENED: ("reason", "received", "quantity", "requested_outcome", "amount"),
    EventKind.ACCEPTED: OUTCOME_KEYS,
    EventKind.PROPOSED: ("outcome", "amount"),
    EventKind.DECLINED: ("outcome", "amount", "proposed_by"),
    EventKind.WITHDRAWN: (),
    EventKind.RESOLVED: (*OUTCOME_KEYS, "closing"),
    EventKind.ESCALATED: ("clock",),
    EventKind.DEADLINE_PASSED: (*OUTCOME_KEYS, "clock"),
    EventKind.ARBITRATION_LATE: ("clock",),
    EventKind.MESSAGE: ("evidence",),
    EventKind.EVIDENCE_ADDED: ("evidence", "count"),
    EventKind.EVIDENCE_HIDDEN: ("evidence", "name"),
    EventKind.RETURN_STARTED: (*OUTCOME_KEYS, "due"),
    EventKind.RETURN_SHIPPED: ("carrier", "tracking"),
    EventKind.RETURN_RECEIVED: (),
    EventKind.REPLACEMENT_STARTED: (*OUTCOME_KEYS, "due"),
    EventKind.REPLACEMENT_SHIPPED: ("carrier", "tracking", "protection_days"),
    EventKind.REPLACEMENT_RECEIVED: (),
    EventKind.REPLACEMENT_NOT_ARRIVED: OUTCOME_KEYS,
    EventKind.REFUND_SENT: REFUND_KEYS,
    EventKind.REFUND_ARRIVED: REFUND_KEYS,
    EventKind.REFUND_FAILED: REFUND_KEYS,
    EventKind.ASSIGNED: ("assignee", "assignee_name", "before"),
    EventKind.RULED: ("outcome", "amount", "round", "final"),
    EventKind.RULING_AGREED: ("evidence", *OUTCOME_KEYS),
    EventKind.RULING_OBJECTED: ("evidence",),
    EventKind.EVIDENCE_REQUESTED: ("party", "due", "request"),
    EventKind.REMINDER: ("reminder", "due"),
}


class EventLog:
    """The events of one change (or a batch of changes), written with their outbox rows.
    An event without ``from_state`` changed no state; one without an actor is the
    platform's. The first event of a change notifies; those that follow from it (the
    outcome taking effect) are recorded without mailing anyone a second time.

    An event is dated ``at``, when it happened; ``processed_at`` (the sweep's own clock,
    for what a deadline did) is when it was written, and defaults to ``at``."""

    def __init__(self, *, processed_at: datetime | None = None) -> None:
        self.processed_at = processed_at
        self.events: list[DisputeEvent] = []
        self.notifying: list[DisputeEvent] = []

    def add(
        self,
        dispute: Dispute,
        *,
        kind: str,
        at: datetime,
        actor: Any = None,
        party: str = Party.PLATFORM,
        from_state: str | None = None,
        note: str = "",
        data: dict[str, Any] | None = None,
        message: DisputeMessage | None = None,
        notify: bool = True,
    ) -> DisputeEvent:
        data = data or {}
        unknown = set(data) - set(DATA_KEYS[kind])
        if unknown:
            raise ValueError(f"{kind} events carry no {sorted(unknown)}")
        actor = actor if getattr(actor, "pk", None) else None
        # Foreign keys by id, their objects cached beside them: a sweep batch makes
        # thousands of events, and the descriptors' checks cost more than the rest.
        event = DisputeEvent(
            dispute_id=dispute.pk,
            kind=kind,
            actor_id=actor.pk if actor is not None else None,
            actor_party=party,
            from_state=dispute.state if from_state is None else from_state,
            to_state=dispute.state,
            note=note,
            data=data,
            message_id=message.pk if message is not None else None,
            created_at=at,
            processed_at=self.processed_at or at,
        )
        _cache(event, "dispute", dispute)
        if actor is not None:
            _cache(event, "actor", actor)
        if message is not None:
            _cache(event, "message", message)
        self.events.append(event)
        if notify:
            self.notifying.append(event)
        return event

    def flush(self) -> list[DisputeEvent]:
        """Write the events and their outbox rows (mail is queued after the commit)."""
        from disputes.notifications import notifications_create

        insert_rows(DisputeEvent, self.events)
        notifications_create(self.notifying)
        if self.events:
            call_hook("PORTAL_DISPUTE_EVENTS_HOOK", events=self.events)
        events = self.events
        self.__init__(processed_at=self.processed_at)
        return events


def _cache(event: DisputeEvent, name: str, obj: Any) -> None:
    DisputeEvent._meta.get_field(name).set_cached_value(event, obj)


def _amount(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def outcome_data(dispute: Dispute) -> dict[str, Any]:
    """The agreed or decided outcome, as the events that carry it record it."""
    return {
        "outcome": dispute.outcome_type,
        "amount": _amount(dispute.outcome_amount),
        "decided_by": dispute.decided_by,
    }


def _evidence_ids(rows: Sequence[Any]) -> dict[str, list[int]]:
    return {"evidence": [row.pk for row in rows]} if rows else {}


# --- a person's move ------------------------------------------------------------------------
def opened(log: EventLog, dispute: Dispute, *, buyer: Any, at: datetime) -> DisputeEvent:
    """The questionnaire as it was accepted (the description is the event's note)."""
    return log.add(
        dispute,
        kind=EventKind.OPENED,
        actor=buyer,
        party=Party.BUYER,
        from_state="",
        at=at,
        note=dispute.description,
        data={
            "reason": dispute.reason,
            "received": dispute.received,
            "quantity": dispute.quantity,
            "requested_outcome": dispute.requested_outcome,
            "amount": _amount(dispute.requested_amount),
        },
    )


def moved(
    log: EventLog,
    dispute: Dispute,
    *,
    kind: str,
    user: Any,
    party: str,
    before: str,
    at: datetime,
    note: str = "",
    **data: Any,
) -> DisputeEvent:
    """A person's move whose data is given as it stands: accepted (with ``outcome_data``),
    withdrawn, a parcel shipped (``carrier``, ``tracking``) or received."""
    return log.add(
        dispute, kind=kind, actor=user, party=party, from_state=before, at=at, note=note, data=data
    )


def proposed(
    log: EventLog,
    dispute: Dispute,
    *,
    user: Any,
    party: str,
    before: str,
    at: datetime,
    outcome: str,
    amount: Decimal | None,
    note: str,
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.PROPOSED,
        actor=user,
        party=party,
        from_state=before,
        at=at,
        note=note,
        data={"outcome": outcome, "amount": _amount(amount)},
    )


def declined(
    log: EventLog,
    dispute: Dispute,
    *,
    user: Any,
    party: str,
    before: str,
    at: datetime,
    outcome: str,
    amount: Decimal | None,
    proposed_by: str,
    reason: str,
) -> DisputeEvent:
    """The proposal on the table was declined (what it was, and whose): the reason is the
    event's note."""
    return log.add(
        dispute,
        kind=EventKind.DECLINED,
        actor=user,
        party=party,
        from_state=before,
        at=at,
        note=reason,
        data={"outcome": outcome, "amount": _amount(amount), "proposed_by": proposed_by},
    )


def message_posted(
    log: EventLog,
    dispute: Dispute,
    *,
    message: DisputeMessage,
    party: str,
    at: datetime,
    evidence: Sequence[Any] = (),
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.MESSAGE,
        actor=message.author,
        party=party,
        at=at,
        message=message,
        data=_evidence_ids(evidence),
    )


def evidence_added(
    log: EventLog, dispute: Dispute, *, user: Any, party: str, at: datetime, evidence: Sequence[Any]
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.EVIDENCE_ADDED,
        actor=user,
        party=party,
        at=at,
        data={"evidence": [row.pk for row in evidence], "count": len(evidence)},
    )


def evidence_hidden(
    log: EventLog, dispute: Dispute, *, user: Any, at: datetime, evidence: Any
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.EVIDENCE_HIDDEN,
        actor=user,
        party=Party.STAFF,
        at=at,
        note=evidence.hidden_reason,
        data={"evidence": evidence.pk, "name": evidence.original_name},
    )


# --- what follows from a move ---------------------------------------------------------------
def resolved(log: EventLog, dispute: Dispute, *, before: str, at: datetime) -> DisputeEvent:
    """The dispute finished (recorded beside the change that finished it: no second mail)."""
    return log.add(
        dispute,
        kind=EventKind.RESOLVED,
        from_state=before,
        at=at,
        data={**outcome_data(dispute), "closing": dispute.closing},
        notify=False,
    )


def promise_started(
    log: EventLog, dispute: Dispute, *, kind: str, before: str, at: datetime
) -> DisputeEvent:
    """A return or a replacement was agreed: the dispute waits for it until ``due``."""
    return log.add(
        dispute,
        kind=kind,
        from_state=before,
        at=at,
        data={**outcome_data(dispute), "due": dispute.next_deadline_at.isoformat()},
        notify=False,
    )


def clock_ran_out(
    log: EventLog,
    dispute: Dispute,
    *,
    kind: str,
    clock: str,
    before: str,
    at: datetime,
    note: str,
    with_outcome: bool,
) -> DisputeEvent:
    """A clock's consequence: escalated, marked late, or a deadline decided the case,
    dated ``at``, the clock's due time."""
    data: dict[str, Any] = {"clock": clock}
    if with_outcome:
        data.update(outcome_data(dispute))
    return log.add(
        dispute,
        kind=kind,
        party=Party.DEADLINE,
        from_state=before,
        at=at,
        note=note,
        data=data,
    )


def reminded(
    log: EventLog, dispute: Dispute, *, at: datetime, due: datetime | None
) -> DisputeEvent:
    """A reminder, dated ``at``: when it was due to go out."""
    return log.add(
        dispute,
        kind=EventKind.REMINDER,
        at=at,
        data={"reminder": dispute.reminder_kind, "due": due.isoformat() if due else None},
    )


def refund_news(
    log: EventLog, dispute: Dispute, *, kind: str, refund: Any, at: datetime, note: str = ""
) -> DisputeEvent:
    """A refund of the dispute was sent, arrived, or failed for good."""
    return log.add(
        dispute,
        kind=kind,
        at=at,
        note=note,
        data={
            "refund": refund.pk,
            "amount": str(refund.amount),
            "method": refund.method,
            "reference": refund.gateway_reference,
        },
    )


# --- arbitration ----------------------------------------------------------------------------
def assigned(
    log: EventLog, dispute: Dispute, *, user: Any, assignee: Any, before: Any, at: datetime
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.ASSIGNED,
        actor=user,
        party=Party.STAFF,
        at=at,
        data={
            "assignee": assignee.pk if assignee else None,
            "assignee_name": (assignee.get_full_name() or assignee.get_username())
            if assignee
            else "",
            "before": before.pk if before else None,
        },
    )


def ruled(
    log: EventLog, dispute: Dispute, *, user: Any, before: str, at: datetime, final: bool
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.RULED,
        actor=user,
        party=Party.STAFF,
        from_state=before,
        at=at,
        note=dispute.ruling_reason,
        data={
            "outcome": dispute.ruling_type,
            "amount": _amount(dispute.ruling_amount),
            "round": dispute.ruling_round,
            "final": final,
        },
    )


def ruling_replied(
    log: EventLog,
    dispute: Dispute,
    *,
    user: Any,
    party: str,
    agree: bool,
    before: str,
    at: datetime,
    reason: str,
    evidence: Sequence[Any] = (),
    agreed_by_both: bool = False,
) -> DisputeEvent:
    data = _evidence_ids(evidence)
    if agreed_by_both:
        data.update(outcome_data(dispute))
    return log.add(
        dispute,
        kind=EventKind.RULING_AGREED if agree else EventKind.RULING_OBJECTED,
        actor=user,
        party=party,
        from_state=before,
        at=at,
        note=reason,
        data=data,
    )


def evidence_requested(
    log: EventLog, dispute: Dispute, *, user: Any, request: Any, at: datetime
) -> DisputeEvent:
    return log.add(
        dispute,
        kind=EventKind.EVIDENCE_REQUESTED,
        actor=user,
        party=Party.STAFF,
        at=at,
        note=request.note,
        data={"party": request.party, "due": request.due_at.isoformat(), "request": request.pk},
    )


# --- incident mode --------------------------------------------------------------------------
DATA_KEYS[EventKind.INCIDENT_STARTED] = ("incident", "days", "due", "protection_ends_at")
DATA_KEYS[EventKind.INCIDENT_ENDED] = ("incident", "days", "days_paused", "due")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_started(
    log: EventLog,
    dispute: Dispute,
    *,
    incident: Any,
    protection_ends_at: datetime | None,
    at: datetime,
) -> DisputeEvent:
    """Staff extended the order's protection by the incident's days and paused the case's
    clocks as long: ``due`` is the running clock as it now stands (the reason is the note)."""
    return log.add(
        dispute,
        kind=EventKind.INCIDENT_STARTED,
        actor=incident.started_by,
        party=Party.STAFF,
        at=at,
        note=incident.reason,
        data={
            "incident": incident.pk,
            "days": incident.days,
            "due": _iso(dispute.next_deadline_at),
            "protection_ends_at": _iso(protection_ends_at),
        },
    )


def incident_ended(
    log: EventLog, dispute: Dispute, *, incident: Any, days_paused: int, at: datetime
) -> DisputeEvent:
    """The incident ended: the clocks run again, ``days_paused`` added (fewer than ``days``
    if it ended early); ``due`` is the running clock as it now stands."""
    return log.add(
        dispute,
        kind=EventKind.INCIDENT_ENDED,
        actor=incident.ended_by,
        party=Party.STAFF,
        at=at,
        note=incident.reason,
        data={
            "incident": incident.pk,
            "days": incident.days,
            "days_paused": days_paused,
            "due": _iso(dispute.next_deadline_at),
        },
    )
