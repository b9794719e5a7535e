"""What the apps below tell a dispute, in their own transaction: a refund's news (wired in
``settings.PORTAL_REFUND_HOOK``) and an item staff hid (``settings.PORTAL_EVIDENCE_HOOK``).
Each lands on the dispute's timeline and, for a refund, in both parties' mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from disputes import events
from disputes.events import EventLog
from disputes.services.guard import locked
from disputes.states import EventKind

# refunds.services.RefundChange -> the event it makes.
REFUND_EVENTS = {
    "sent": EventKind.REFUND_SENT,
    "arrived": EventKind.REFUND_ARRIVED,
    "failed": EventKind.REFUND_FAILED,
}


def refund_changed(*, refund: Any, change: str, at: datetime, note: str = "") -> None:
    """A refund of a dispute was sent, arrived or failed for good."""
    if refund.dispute_id is None:
        return
    dispute = locked(refund.dispute_id)
    log = EventLog()
    events.refund_news(log, dispute, kind=REFUND_EVENTS[change], refund=refund, at=at, note=note)
    log.flush()


def evidence_hidden(*, evidence: Any, user: Any, at: datetime) -> None:
    """Staff hid an item (``evidence.services.evidence_hide``): the timeline says so, with
    the reason."""
    dispute = locked(evidence.dispute_id)
    evidence.refresh_from_db(fields=["hidden_reason"])
    log = EventLog()
    events.evidence_hidden(log, dispute, user=user, at=at, evidence=evidence)
    log.flush()
