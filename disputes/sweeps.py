"""Deadline enforcement: every clock that has run out is applied once, whatever happens.

``dispute_process_deadline`` applies the consequence of one overdue dispute's clock through
the same transitions and recorder that people's actions use. ``disputes_sweep_due`` runs it
over everything that is due, oldest deadline first, in batches: each batch claims its rows
with ``SELECT ... FOR UPDATE SKIP LOCKED`` (a second sweeper takes other rows; a person
acting on a row holds its lock, so the sweep skips it and the person's action is checked
against the clock), moves them, writes their events and outbox rows, and commits. If a
batch fails, its rows are retried one by one, and a row that still fails is pushed aside
(``sweep_retry_at``) so that it never blocks the others or crashes every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django_fsm import ConcurrentTransition

from disputes.models import Dispute
from disputes.services import (
    Recorder,
    lock_dispute,
    outcome_data,
    record_resolved,
    take_effect,
)
from disputes.states import DeadlineKind, DisputeState, EventKind, Party, ReminderKind

logger = logging.getLogger(__name__)


# The columns a clock's transitions may change: written back for a whole batch at once.
CLOCK_FIELDS = (
    "state",
    "outcome_type",
    "outcome_amount",
    "decided_by",
    "decided_at",
    "finished_at",
    "closing",
    "next_deadline_at",
    "deadline_kind",
    "reminder_at",
    "reminder_kind",
    "escalated_at",
    "arbitration_target_at",
    "arbitration_limit_at",
    "buyer_reply",
    "seller_reply",
    "revision",
    "sweep_failures",
    "sweep_error",
    "sweep_retry_at",
)

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
        _lazy("No reply to the ruling in 5 days counts as agreement: the ruling takes effect."),
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


NUMERIC_FIELDS = {
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "DecimalField",
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


def apply_clock(dispute: Dispute, *, now: datetime, recorder: Recorder) -> None:
    """The SPEC's consequence of the dispute's clock running out, on a locked row."""
    due = dispute.next_deadline_at
    kind = dispute.deadline_kind
    if CLOCK_STATES.get(kind) != dispute.state:
        raise ClockMismatch(f"clock {kind!r} on a dispute in state {dispute.state!r}")
    before = dispute.state
    if kind == DeadlineKind.ARBITRATION_LIMIT:
        # 60 days with the arbitrators and no final ruling: marked late, staff are told.
        dispute.arbitration_overdue(at=now)
        recorder.add(
            dispute,
            kind=EventKind.ARBITRATION_LATE,
            actor=None,
            party=Party.DEADLINE,
            from_state=before,
            at=now,
            note=_("The case passed the arbitration limit without a final ruling."),
            data={"clock": kind},
            deadline_due_at=due,
        )
    elif kind == DeadlineKind.NEGOTIATION:
        # 7 days without agreement: the platform escalates the case to staff.
        dispute.escalate(at=now)
        recorder.add(
            dispute,
            kind=EventKind.ESCALATED,
            actor=None,
            party=Party.DEADLINE,
            from_state=before,
            at=now,
            note=_("No agreement within the negotiation period: escalated to an arbitrator."),
            data={"clock": kind},
            deadline_due_at=due,
        )
    else:
        name, note, then = CLOCK_RULES[kind]
        getattr(dispute, name)(at=now)
        recorder.add(
            dispute,
            kind=EventKind.DEADLINE_PASSED,
            actor=None,
            party=Party.DEADLINE,
            from_state=before,
            at=now,
            note=str(note),
            data={**outcome_data(dispute), "clock": kind},
            deadline_due_at=due,
        )
        if then == "take_effect":
            take_effect(dispute, at=now, recorder=recorder)
        else:
            if then == "refund":
                recorder.refund(dispute)
            record_resolved(dispute, before=dispute.state, at=now, recorder=recorder)
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
        recorder = Recorder()
        apply_clock(dispute, now=now, recorder=recorder)
        dispute.save()
        recorder.flush()
    return True


def _write_batch(rows: list[Dispute], expected: dict[int, str]) -> None:
    """Write the batch's transitions in one statement, each row guarded by the state it was
    read in (the same guard as ``ConcurrentTransitionMixin``, for a set of rows)::

        WITH v(id, old_state, state, ...) AS (VALUES (...), (...))
        UPDATE disputes_dispute SET state = v.state, ... FROM v
        WHERE disputes_dispute.id = v.id AND disputes_dispute.state = v.old_state
    """
    if not rows:
        return
    fields = [Dispute._meta.get_field(name) for name in CLOCK_FIELDS]
    table = connection.ops.quote_name(Dispute._meta.db_table)
    columns = [connection.ops.quote_name(field.column) for field in fields]
    values = [
        [row.pk for row in rows],
        [expected[row.pk] for row in rows],
        *[
            [field.get_db_prep_save(getattr(row, field.attname), connection) for row in rows]
            for field in fields
        ],
    ]
    setting = ", ".join(f"{col} = v.{col}" for col in columns)
    guard = f"FROM v WHERE {table}.id = v.id AND {table}.state = v.old_state RETURNING {table}.id"
    # Only quoted names and column types from the model's own metadata are formatted into
    # the SQL below; every value travels as a parameter.
    if connection.vendor == "postgresql":
        # One array per column: a handful of parameters however large the batch.
        types = [Dispute._meta.pk, Dispute._meta.get_field("state"), *fields]
        arrays = ", ".join(f"%s::{f.db_type(connection).split('(')[0]}[]" for f in types)
        sql = (
            f"WITH v AS (SELECT * FROM unnest({arrays}) AS t(id, old_state, {', '.join(columns)}))"  # noqa: S608
            f" UPDATE {table} SET {setting} {guard}"
        )
        params: list[object] = values
    else:
        # SQLite: numbers are cast; dates and text travel as they are (a CAST to
        # "datetime" would take NUMERIC affinity and turn "2027-01-30 ..." into 2027).
        casts = ", ".join(
            f"CAST(%s AS {f.db_type(connection)})"
            if f.get_internal_type() in NUMERIC_FIELDS
            else "%s"
            for f in [Dispute._meta.pk, Dispute._meta.get_field("state"), *fields]
        )
        sql = (
            f"WITH v(id, old_state, {', '.join(columns)}) AS (VALUES "  # noqa: S608
            + ", ".join([f"({casts})"] * len(rows))
            + f") UPDATE {table} SET {setting} {guard}"  # noqa: S608
        )
        params = [value for row in zip(*values, strict=True) for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = len(cursor.fetchall())
    if written != len(rows):
        raise ConcurrentTransition(
            f"{len(rows) - written} of {len(rows)} rows moved under the sweep"
        )


def _sweep_batch(*, now: datetime, batch_size: int) -> tuple[int, int]:
    """One batch: claim, move, record, commit. Returns (moved, failed)."""
    claimed: list[int] = []
    try:
        with transaction.atomic():
            rows = list(
                disputes_due(now=now)
                .select_for_update(of=("self",), skip_locked=True)
                .select_related("store")
                .order_by("next_deadline_at", "id")[:batch_size]
            )
            claimed = [row.pk for row in rows]
            expected = {row.pk: row.state for row in rows}
            recorder = Recorder()
            for dispute in rows:
                apply_clock(dispute, now=now, recorder=recorder)
            _write_batch(rows, expected)
            recorder.flush()
        return len(rows), 0
    except Exception:
        logger.exception("sweep batch of %d failed; retrying its rows one by one", len(claimed))
    moved = failed = 0
    for dispute_id in claimed:
        try:
            moved += dispute_process_deadline(dispute_id=dispute_id, now=now)
        except Exception as exc:
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
    """Warn whoever must act before a clock runs out (the seller a day before the 5-day
    answer, the buyer before the return deadline, the arbitrators before a case's target).

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
            recorder = Recorder()
            for dispute in rows:
                due = (
                    dispute.arbitration_target_at
                    if dispute.reminder_kind == ReminderKind.ARBITRATION_TARGET
                    else dispute.next_deadline_at
                )
                recorder.add(
                    dispute,
                    kind=EventKind.REMINDER,
                    actor=None,
                    party=Party.PLATFORM,
                    from_state=dispute.state,
                    at=now,
                    data={
                        "reminder": dispute.reminder_kind,
                        "due": due.isoformat() if due else None,
                    },
                    deadline_due_at=dispute.reminder_at,
                )
            Dispute.objects.filter(pk__in=[row.pk for row in rows]).update(
                reminder_at=None, reminder_kind=""
            )
            recorder.flush()
            sent += len(rows)
