"""What an agreed or decided outcome does to money.

The only part of the dispute write path that imports ``refunds``: a change collects its
refunds, coupons and escrow releases in a ``Settlement``, and ``Change.flush`` writes them
in the change's own transaction, right after its events. (Pages read refunds' selectors.)
"""

from __future__ import annotations

from datetime import datetime

from disputes import deadlines, events
from disputes.events import EventLog
from disputes.models import Dispute
from disputes.states import Closing, EventKind, OutcomeType
from refunds.services import (
    CouponRequest,
    RefundRequest,
    coupons_issue,
    lock_orders_of_lines,
    payouts_release,
    refunds_create,
)


class Settlement:
    """The money one change (or a batch of changes) moves: refunds to record and send,
    coupons to issue, and order lines whose share may leave escrow."""

    def __init__(self) -> None:
        self.refunds: list[RefundRequest] = []
        self.coupons: list[Dispute] = []
        self.settled_lines: set[int] = set()
        # Each outcome's label, looked up once per settlement (a sweep batch refunds
        # thousands of disputes with the same few outcomes).
        self._labels: dict[str, str] = {}

    def refund(self, dispute: Dispute) -> None:
        """Refund the dispute's outcome amount (recorded now, sent after the commit)."""
        outcome = dispute.outcome_type
        label = self._labels.get(outcome)
        if label is None:
            label = self._labels[outcome] = dispute.get_outcome_type_display()
        self.refunds.append(
            RefundRequest(
                line_id=dispute.line_id,
                amount=dispute.outcome_amount,
                reason=f"Dispute #{dispute.pk}: {label}",
                dispute_id=dispute.pk,
            )
        )

    def coupon(self, dispute: Dispute) -> None:
        self.coupons.append(dispute)

    def settled(self, dispute: Dispute) -> None:
        """The dispute is finished: its line's share may leave escrow (if its order is
        completed; otherwise when it completes)."""
        self.settled_lines.add(dispute.line_id)

    def flush(self, *, at: datetime) -> None:
        money_lines = {item.line_id for item in self.refunds} | self.settled_lines
        if money_lines:
            # Every order this settlement touches, locked at once in id order, so that two
            # sweeps settling overlapping orders never wait on each other in a cycle.
            lock_orders_of_lines(money_lines)
        if self.refunds:
            refunds_create(requests=self.refunds, now=at)
        if self.coupons:
            coupons_issue(
                requests=[
                    CouponRequest(
                        store_id=dispute.store_id,
                        buyer_id=dispute.buyer_id,
                        dispute_id=dispute.pk,
                        value=dispute.outcome_amount,
                        currency=dispute.currency,
                        expires_at=deadlines.coupon_expires_at(issued_at=at),
                    )
                    for dispute in self.coupons
                ],
                now=at,
            )
        if self.settled_lines:
            payouts_release(line_ids=self.settled_lines, now=at)
        self.__init__()


class Change:
    """What one change (or a batch of changes) writes beside the dispute rows: its events
    and outbox rows (``log``), then the money its outcome moves (``money``). ``flush``
    writes both, in that order, in the caller's transaction.

    A clock's change passes ``processed_at``, the sweep's own time: its events are dated at
    the clock's due time and keep ``processed_at`` beside it; its money moves at
    ``flush(at=...)``, when it really moves."""

    def __init__(self, *, processed_at: datetime | None = None) -> None:
        self.log = EventLog(processed_at=processed_at)
        self.money = Settlement()

    def flush(self, *, at: datetime) -> None:
        self.log.flush()
        self.money.flush(at=at)


def finish(dispute: Dispute, *, before: str, at: datetime, change: Change) -> None:
    """The dispute just finished: note it (no second mail) and let its escrow go."""
    events.resolved(change.log, dispute, before=before, at=at)
    change.money.settled(dispute)


def take_effect(dispute: Dispute, *, at: datetime, change: Change) -> None:
    """An agreed or decided outcome takes effect, in the transaction that agreed it.

    A refund is recorded now (and sent to the gateway after the commit); a coupon is
    issued; a rejection just ends the dispute. A return or a replacement is a promise, not
    an ending: the dispute waits for it, on its own clock.
    """
    before = dispute.state
    outcome = dispute.outcome_type
    if outcome == OutcomeType.RETURN_AND_REFUND:
        dispute.start_return(at=at)
        events.promise_started(
            change.log, dispute, kind=EventKind.RETURN_STARTED, before=before, at=at
        )
        return
    if outcome == OutcomeType.REPLACEMENT:
        dispute.start_replacement(at=at)
        events.promise_started(
            change.log, dispute, kind=EventKind.REPLACEMENT_STARTED, before=before, at=at
        )
        return
    if outcome in (OutcomeType.FULL_REFUND, OutcomeType.PARTIAL_REFUND):
        change.money.refund(dispute)
        closing = Closing.REFUNDED
    elif outcome == OutcomeType.COUPON:
        change.money.coupon(dispute)
        closing = Closing.COUPON
    else:
        closing = Closing.REJECTED
    dispute.resolve(closing=closing, at=at)
    finish(dispute, before=before, at=at, change=change)
