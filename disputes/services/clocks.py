"""Deadline enforcement: every clock that has run out is applied once, whatever happens.

``dispute_process_deadline`` applies the consequence of one overdue dispute's clock
through the same transitions, events and settlement that people's actions use;
``disputes_sweep_due`` runs it over everything that is due, oldest deadline first, in
batches: each batch claims its rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` (a second
sweeper takes other rows; a person acting on a row holds its lock, so the sweep skips it
and the person's action is checked against the clock), moves them, writes their events and
outbox rows, and commits. If a batch fails, its rows are retried one by one, and a row that
still fails is pushed aside (``sweep_retry_at``) so that it never blocks the others or
crashes every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from disputes import events
from disputes.models import Dispute
from disputes.outcomes import Change, finish, take_effect
from disputes.services.clock_writer import write_batch
from disputes.services.guard import lock_dispute
from disputes.states import DeadlineKind, DisputeState, EventKind, ReminderKind
from orders.models import Store

logger = logging.getLogger(__name__)


# Which clock acts on which state (a clock on any other state is a data error).
CLOCK_STATES = {
    DeadlineKind.SELLER_RESPONSE: DisputeState.OPEN,
    DeadlineKind.NEGOTIATION: DisputeState.SELLER_RESPONDED,
    DeadlineKind.RETURN_SHIPMENT: DisputeState.AWAITING_RETURN,
    DeadlineKind.RETURN_RECEIPT: DisputeState.AWAITING_RETURN,
    DeadlineKind.REPLACEMENT_SHIPMENT: DisputeState.AWAITING_REPLACEMENT,
    DeadlineKind.REPLACEMENT_ARRIVAL: DisputeState.AWAITING_REPLACEMENT,
    DeadlineKind.ARBITRATION_LIMIT: DisputeState.ESCALATED,
    DeadlineKind.RULING_REPLY: DisputeState.RULED,
}

# What each clock does when it runs out: the transition, what the timeline says, and
# what follows (the outcome taking effect, a refund, or the end of the dispute).
CLOCK_RULES = {
    DeadlineKind.SELLER_RESPONSE: (
        "seller_silent",
        _lazy("The seller did not answer in time: the buyer's request is granted."),
        "take_effect",
    ),
    DeadlineKind.RETURN_SHIPMENT: (
        "return_lapsed",
        _lazy("The return was not shipped in time: the claim lapsed, without a refund."),
        "resolved",
    ),
    DeadlineKind.RETURN_RECEIPT: (
        "return_receipt_overdue",
        _lazy("The seller did not confirm the returned parcel in time: the refund is sent."),
        "refund",
    ),
    DeadlineKind.REPLACEMENT_SHIPMENT: (
        "replacement_not_shipped",
        _lazy("The replacement was not shipped in time: the buyer's own request is granted."),
        "take_effect",
    ),
    DeadlineKind.RULING_REPLY: (
        "ruling_unanswered",
        _lazy("Nobody replied to the ruling in time, which counts as agreement: it takes effect."),
        "take_effect",
    ),
    DeadlineKind.REPLACEMENT_ARRIVAL: (
        "replacement_protection_ended",
        _lazy(
            "The replacement's protection ended without a report of non-arrival: "
            "it counts as delivered."
        ),
        "resolved",
    ),
}


class ClockMismatch(Exception):
    """A stored clock that does not belong to the dispute's state."""


@dataclass
class SweepResult:
    moved: int = 0
    failed: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"moved": self.moved, "failed": self.failed, "batches": self.batches}


def disputes_due(*, now: datetime) -> QuerySet[Dispute]:
    """Disputes whose running clock has passed and that are not pushed aside."""
    return Dispute.objects.filter(next_deadline_at__lte=now).filter(
        Q(sweep_retry_at__isnull=True) | Q(sweep_retry_at__lte=now)
    )


def disputes_stalled(*, now: datetime, grace: timedelta | None = None) -> QuerySet[Dispute]:
    """Overdue for longer than a few sweep intervals: the scheduler is not running, or the
    row keeps failing. There should be none."""
    grace = grace or timedelta(seconds=3 * settings.SWEEP_INTERVAL_SECONDS)
    return Dispute.objects.filter(next_deadline_at__lte=now - grace)


def apply_clock(dispute: Dispute, *, now: datetime, change: Change) -> None:
    """The consequence of the dispute's clock running out, on a locked row.

    Whatever the clock does is dated at its due time, however late this runs: the events,
    the decision, the end of the dispute, and every clock that starts from it (the
    arbitration target, the reply and the return and replacement windows). ``now`` is only
    the time it was processed, kept beside each event (``processed_at``)."""
    at = dispute.next_deadline_at
    kind = dispute.deadline_kind
    if at is None or at > now:
        raise ClockMismatch(f"clock {kind!r} is not due ({at})")
    if CLOCK_STATES.get(kind) != dispute.state:
        raise ClockMismatch(f"clock {kind!r} on a dispute in state {dispute.state!r}")
    before = dispute.state
    if kind == DeadlineKind.ARBITRATION_LIMIT:
        # The limit passed with no final ruling: marked late, staff are told.
        dispute.arbitration_overdue(at=at)
        events.clock_ran_out(
            change.log,
            dispute,
            kind=EventKind.ARBITRATION_LATE,
            clock=kind,
            before=before,
            at=at,
            note=_("The case passed the arbitration limit without a final ruling."),
            with_outcome=False,
        )
    elif kind == DeadlineKind.NEGOTIATION:
        # No agreement in the negotiation period: the platform escalates the case to staff.
        dispute.escalate(at=at)
        events.clock_ran_out(
            change.log,
            dispute,
            kind=EventKind.ESCALATED,
            clock=kind,
            before=before,
            at=at,
            note=_("No agreement within the negotiation period: escalated to an arbitrator."),
            with_outcome=False,
        )
    else:
        name, note, then = CLOCK_RULES[kind]
        getattr(dispute, name)(at=at)
        events.clock_ran_out(
            change.log,
            dispute,
            kind=EventKind.DEADLINE_PASSED,
            clock=kind,
            before=before,
            at=at,
            note=str(note),
            with_outcome=True,
        )
        if then == "take_effect":
            take_effect(dispute, at=at, change=change)
        else:
            if then == "refund":
                change.money.refund(dispute)
            finish(dispute, before=dispute.state, at=at, change=change)
    dispute.revision += 1
    dispute.sweep_failures = 0
    dispute.sweep_error = ""
    dispute.sweep_retry_at = None


def dispute_process_deadline(*, dispute_id: int, now: datetime | None = None) -> bool:
    """Apply one dispute's clock if it has run out. True if this call moved it.

    Safe to call twice, late, or while a person acts: the row is taken with SKIP LOCKED,
    re-checked under the lock, and saved with the concurrent-transition guard.
    """
    now = now or timezone.now()
    with transaction.atomic():
        dispute = lock_dispute(dispute_id, skip_locked=True)
        if dispute is None or dispute.next_deadline_at is None or dispute.next_deadline_at > now:
            return False
        change = Change(processed_at=now)
        apply_clock(dispute, now=now, change=change)
        dispute.save()
        change.flush(at=now)
    return True


def _with_stores(rows: list[Dispute]) -> None:
    """Give each row its store (whose owner hears of the change): one query for the few
    stores of a batch, instead of a copy of the store joined to every row."""
    stores = Store.objects.in_bulk({row.store_id for row in rows})
    for row in rows:
        row.store = stores[row.store_id]


def _sweep_batch(*, now: datetime, batch_size: int) -> tuple[int, int]:
    """One batch: claim, move, record, commit. Returns (moved, failed)."""
    claimed: list[int] = []
    try:
        with transaction.atomic():
            rows = list(
                disputes_due(now=now)
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("next_deadline_at", "id")[:batch_size]
            )
            if not rows:
                return 0, 0
            claimed = [row.pk for row in rows]
            _with_stores(rows)
            expected = {row.pk: row.state for row in rows}
            change = Change(processed_at=now)
            for dispute in rows:
                apply_clock(dispute, now=now, change=change)
            write_batch(rows, expected)
            change.flush(at=now)
        return len(rows), 0
    except Exception:
        logger.exception("sweep batch of %d failed; retrying its rows one by one", len(claimed))
    moved = failed = 0
    for dispute_id in claimed:
        # Log lines about this row (its failure above all) carry the dispute it concerns.
        with structlog.contextvars.bound_contextvars(dispute_id=dispute_id):
            try:
                moved += dispute_process_deadline(dispute_id=dispute_id, now=now)
            except Exception as exc:
                logger.exception("the deadline of dispute %s could not be applied", dispute_id)
                Dispute.push_aside(dispute_id, exc, now)
                failed += 1
    return moved, failed


def disputes_sweep_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> SweepResult:
    """Apply every dispute clock that has run out, oldest first, in bounded batches."""
    now = now or timezone.now()
    batch_size = batch_size or settings.PORTAL_SWEEP_BATCH_SIZE
    result = SweepResult()
    while max_batches is None or result.batches < max_batches:
        moved, failed = _sweep_batch(now=now, batch_size=batch_size)
        if moved == 0 and failed == 0:
            break
        result.moved += moved
        result.failed += failed
        result.batches += 1
    return result


# --- reminders -------------------------------------------------------------------------------
def disputes_send_reminders(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Warn whoever must act before a clock runs out (the seller before their answer is
    due, the buyer before the return deadline, the arbitrators before a case's target).

    Each reminder is sent once: rows are claimed with SKIP LOCKED and their ``reminder_at``
    cleared in the transaction that writes the reminder's event and outbox rows."""
    now = now or timezone.now()
    batch_size = batch_size or settings.PORTAL_SWEEP_BATCH_SIZE
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                Dispute.objects.filter(reminder_at__lte=now)
                .select_for_update(of=("self",), skip_locked=True)
                .select_related("store")
                .order_by("reminder_at", "id")[:batch_size]
            )
            if not rows:
                return sent
            change = Change(processed_at=now)
            for dispute in rows:
                due = (
                    dispute.arbitration_target_at
                    if dispute.reminder_kind == ReminderKind.ARBITRATION_TARGET
                    else dispute.next_deadline_at
                )
                if due is not None and due <= now:
                    # Late (the scheduler was down): the deadline it warns of has passed,
                    # and a reminder of a past deadline would only mislead. Dropped.
                    continue
                # Dated when it was due to go out, like everything a clock does.
                events.reminded(change.log, dispute, at=dispute.reminder_at, due=due)
                sent += 1
            Dispute.objects.filter(pk__in=[row.pk for row in rows]).update(
                reminder_at=None, reminder_kind=""
            )
            change.flush(at=now)
