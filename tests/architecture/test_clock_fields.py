"""The sweep writes a batch's transitions back with one statement that carries only
``CLOCK_FIELDS``: every field any clock's consequence changes must be among them, or it
would be silently dropped. Checked on unsaved disputes, in memory, for every clock and every
outcome a clock can make take effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from disputes.models import Dispute
from disputes.outcomes import Change
from disputes.services.clock_writer import CLOCK_FIELDS
from disputes.services.clocks import CLOCK_STATES, apply_clock
from disputes.states import DeadlineKind, OutcomeType, Party, RequestedOutcome

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AMOUNT = Decimal("20.00")


def values(dispute: Dispute) -> dict[str, object]:
    return {
        field.attname: getattr(dispute, field.attname) for field in Dispute._meta.concrete_fields
    }


def dispute_waiting_on(kind: str, outcome: str, *, shipped: bool) -> Dispute:
    """An unsaved dispute whose ``kind`` clock has just run out."""
    return Dispute(
        pk=1,
        line_id=1,
        order_id=1,
        buyer_id=1,
        store_id=1,
        received=True,
        reason="not_as_described",
        description="The dress is the wrong colour.",
        quantity=1,
        requested_outcome=(
            RequestedOutcome.RETURN_AND_REFUND
            if outcome == OutcomeType.RETURN_AND_REFUND
            else RequestedOutcome.REFUND_ONLY
        ),
        requested_amount=AMOUNT,
        amount_cap=Decimal("40.00"),
        currency="USD",
        state=CLOCK_STATES[kind],
        deadline_kind=kind,
        next_deadline_at=NOW - timedelta(minutes=1),
        opened_at=NOW - timedelta(days=30),
        proposal_type=outcome,
        proposal_amount=AMOUNT,
        proposal_by=Party.BUYER,
        ruling_type=outcome,
        ruling_amount=AMOUNT,
        ruling_round=1,
        escalated_at=NOW - timedelta(days=20),
        arbitration_target_at=NOW + timedelta(days=1),
        arbitration_limit_at=NOW - timedelta(minutes=1),
        outcome_type=outcome,
        outcome_amount=AMOUNT,
        return_shipped_at=NOW - timedelta(days=3) if shipped else None,
        replacement_shipped_at=NOW - timedelta(days=3) if shipped else None,
    )


CASES = [
    (kind, outcome, shipped)
    for kind in DeadlineKind
    for outcome in (
        OutcomeType.FULL_REFUND,
        OutcomeType.PARTIAL_REFUND,
        OutcomeType.RETURN_AND_REFUND,
        OutcomeType.REPLACEMENT,
        OutcomeType.COUPON,
        OutcomeType.REJECTED,
    )
    for shipped in (False, True)
]


@pytest.mark.parametrize(("kind", "outcome", "shipped"), CASES)
def test_every_field_a_clock_changes_is_written_by_the_batch(kind, outcome, shipped):
    dispute = dispute_waiting_on(kind, outcome, shipped=shipped)
    before = values(dispute)
    try:
        apply_clock(dispute, now=NOW, change=Change())
    except Exception as exc:  # a combination the state machine refuses: nothing to write
        if type(exc).__name__ != "TransitionNotAllowed":
            raise
        return
    changed = {name for name, value in values(dispute).items() if before[name] != value}
    assert changed, "a clock that ran out changed nothing"
    assert changed <= set(CLOCK_FIELDS), sorted(changed - set(CLOCK_FIELDS))


def test_the_check_sees_a_field_outside_the_batch():
    dispute = dispute_waiting_on(
        DeadlineKind.SELLER_RESPONSE, OutcomeType.FULL_REFUND, shipped=False
    )
    before = values(dispute)
    dispute.proposal_note = "changed by a transition the writer does not know"
    changed = {name for name, value in values(dispute).items() if before[name] != value}
    assert not changed <= set(CLOCK_FIELDS)
