"""Writes to disputes, one topic a module; every name a caller outside needs is re-exported
here (the checks and helpers the modules share are imported from the module itself).

Each service is one business step in one transaction, and goes the same way: lock the
dispute row, check that the page the person saw is still current, let the state machine
say whether the move is legal for this person (``guard``), apply the transition, record
its events (``disputes.events``), let the outcome move money (``disputes.outcomes``), and
leave the mail to the outbox, delivered after the commit.

- ``guard``: refusals, the lock, the legality check, the guarded save, the text rule
- ``opening``: the questionnaire and the opening of a dispute
- ``negotiation``: accept, decline, propose, withdraw
- ``fulfilment``: the return and the replacement, step by step
- ``thread``: messages and evidence
- ``arbitration``: assignment, rulings, replies, evidence requests
- ``clocks``: what happens when a clock runs out, and the reminders before;
  ``clock_writer``: a sweep batch written back in one statement
- ``incidents``: incident mode, a carrier's orders' protection extended and clocks paused
- ``news``: what refunds and evidence report back through their hooks
"""

from disputes.services.arbitration import (
    Replied,
    dispute_assign,
    dispute_reply_ruling,
    dispute_request_evidence,
    dispute_rule,
)
from disputes.services.clocks import (
    ClockMismatch,
    dispute_process_deadline,
    disputes_send_reminders,
    disputes_stalled,
    disputes_sweep_due,
)
from disputes.services.fulfilment import (
    check_tracking,
    dispute_confirm_replacement,
    dispute_confirm_return,
    dispute_replacement_not_arrived,
    dispute_ship_replacement,
    dispute_ship_return,
)
from disputes.services.guard import (
    DeadlinePassed,
    DisputeError,
    StaleDispute,
)
from disputes.services.incidents import (
    IncidentMatch,
    IncidentResult,
    IncidentScope,
    incident_end,
    incident_notices_deliver,
    incident_preview,
    incident_start,
)
from disputes.services.negotiation import (
    dispute_accept,
    dispute_decline,
    dispute_propose,
    dispute_withdraw,
)
from disputes.services.opening import (
    DisputeRequest,
    Opened,
    dispute_open,
)
from disputes.services.thread import (
    EvidenceAdded,
    Posted,
    dispute_add_evidence,
    dispute_post_message,
    evidence_allowance,
)
from disputes.validators import MAX_TEXT

__all__ = [
    "MAX_TEXT",
    "ClockMismatch",
    "DeadlinePassed",
    "DisputeError",
    "DisputeRequest",
    "EvidenceAdded",
    "IncidentMatch",
    "IncidentResult",
    "IncidentScope",
    "Opened",
    "Posted",
    "Replied",
    "StaleDispute",
    "check_tracking",
    "dispute_accept",
    "dispute_add_evidence",
    "dispute_assign",
    "dispute_confirm_replacement",
    "dispute_confirm_return",
    "dispute_decline",
    "dispute_open",
    "dispute_post_message",
    "dispute_process_deadline",
    "dispute_propose",
    "dispute_replacement_not_arrived",
    "dispute_reply_ruling",
    "dispute_request_evidence",
    "dispute_rule",
    "dispute_ship_replacement",
    "dispute_ship_return",
    "dispute_withdraw",
    "disputes_send_reminders",
    "disputes_stalled",
    "disputes_sweep_due",
    "evidence_allowance",
    "incident_end",
    "incident_notices_deliver",
    "incident_preview",
    "incident_start",
]
