"""Writes to disputes, one topic a module; every name a caller needs is re-exported here.

Each service is one business step in one transaction, and goes the same way: lock the
dispute row, check that the page the person saw is still current, let the state machine
say whether the move is legal for this person (``guard``), apply the transition, record
its events (``disputes.events``), let the outcome move money (``disputes.outcomes``), and
leave the mail to the outbox, delivered after the commit.

- ``guard``: refusals, the lock, the legality check, the guarded save, the text rule
- ``opening``: the questionnaire and the opening of a dispute
- ``negotiation``: accept, propose, withdraw
- ``fulfilment``: the return and the replacement, step by step
- ``thread``: messages and evidence
- ``arbitration``: assignment, rulings, replies, evidence requests
- ``clocks``: what happens when a clock runs out, and the reminders before
"""

from disputes.services.arbitration import (
    Replied,
    check_ruling,
    dispute_assign,
    dispute_reply_ruling,
    dispute_request_evidence,
    dispute_rule,
)
from disputes.services.clocks import (
    ClockMismatch,
    SweepResult,
    apply_clock,
    dispute_process_deadline,
    disputes_due,
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
    MAX_TEXT,
    DeadlinePassed,
    DisputeError,
    StaleDispute,
    clean_text,
    lock_dispute,
    save_transition,
)
from disputes.services.negotiation import (
    check_amount,
    check_proposal,
    dispute_accept,
    dispute_propose,
    dispute_withdraw,
)
from disputes.services.opening import (
    DisputeRequest,
    Opened,
    dispute_open,
    evidence_required,
    request_problems,
)
from disputes.services.thread import (
    EvidenceAdded,
    Posted,
    dispute_add_evidence,
    dispute_post_message,
    evidence_allowance,
    mark_evidence_requests_answered,
)

__all__ = [
    "MAX_TEXT",
    "ClockMismatch",
    "DeadlinePassed",
    "DisputeError",
    "DisputeRequest",
    "EvidenceAdded",
    "Opened",
    "Posted",
    "Replied",
    "StaleDispute",
    "SweepResult",
    "apply_clock",
    "check_amount",
    "check_proposal",
    "check_ruling",
    "check_tracking",
    "clean_text",
    "dispute_accept",
    "dispute_add_evidence",
    "dispute_assign",
    "dispute_confirm_replacement",
    "dispute_confirm_return",
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
    "disputes_due",
    "disputes_send_reminders",
    "disputes_stalled",
    "disputes_sweep_due",
    "evidence_allowance",
    "evidence_required",
    "lock_dispute",
    "mark_evidence_requests_answered",
    "request_problems",
    "save_transition",
]
