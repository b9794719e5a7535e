"""Random sequences of actions by random people on one dispute, against a model of the rules.

The model below is the rule book written out plainly (SPEC.md, "The life of a dispute"):
who may accept, propose or withdraw in which state, which proposals and amounts each side
may put on the table, and what every allowed change records. Hypothesis drives the real
services; after every step the dispute in the database must be what the model says.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from disputes.models import Dispute, DisputeEvent, DisputeMessage
from disputes.services import (
    DisputeError,
    DisputeRequest,
    dispute_accept,
    dispute_post_message,
    dispute_propose,
    dispute_withdraw,
)
from disputes.states import (
    DeadlineKind,
    DisputeState,
    OutcomeType,
    Party,
    Reason,
    RequestedOutcome,
)
from tests.factories import StoreFactory, UserFactory, make_arbitrator, make_order, open_dispute

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
UNIT_PRICE = Decimal("10.00")
PERSONAS = ("alice", "carol", "bob", "dave", "sam")
# alice is the buyer, bob the seller, sam staff; carol and dave have nothing to do with it.
PARTIES = {"alice": Party.BUYER, "bob": Party.SELLER, "sam": Party.STAFF}
KNOWN_STATES = {
    DisputeState.OPEN,
    DisputeState.SELLER_RESPONDED,
    DisputeState.AGREED,
    DisputeState.AWAITING_RETURN,
    DisputeState.AWAITING_REPLACEMENT,
    DisputeState.RESOLVED,
    DisputeState.WITHDRAWN,
}
NEGOTIATING = (DisputeState.OPEN, DisputeState.SELLER_RESPONDED)
FINISHED = (DisputeState.RESOLVED, DisputeState.WITHDRAWN)
SELLER_MAY_PROPOSE = {
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.REPLACEMENT,
    OutcomeType.COUPON,
    OutcomeType.REJECTED,
}
BUYER_MAY_PROPOSE = {
    OutcomeType.FULL_REFUND,
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.RETURN_AND_REFUND,
}
CENT = Decimal("0.01")

people = st.sampled_from(PERSONAS)
revisions = st.sampled_from(["none", "current", "current", "stale"])
outcomes = st.sampled_from(list(OutcomeType))
amounts = st.one_of(
    st.none(),
    st.sampled_from(
        [Decimal(v) for v in ("0", "0.01", "10.00", "10.01", "19.99", "20.00", "20.01", "-1.00")]
    ),
    st.decimals(min_value=Decimal("-5"), max_value=Decimal("25"), places=2),
)
# Around the two caps (one bag: 10.00, two bags: 20.00), and anything up to a little above.
sensible_amounts = st.one_of(
    st.none(),
    st.sampled_from([Decimal(v) for v in ("9.99", "10.00", "10.01", "19.99", "20.00", "20.01")]),
    st.decimals(min_value=CENT, max_value=Decimal("21"), places=2),
)
notes = st.sampled_from(["", "   ", "The bag in the photos is not the one I sent."])
bodies = st.sampled_from(["", "  \n ", "Any news about this?", "Please look at the photos."])

_examples = itertools.count()


@dataclass
class Proposal:
    outcome: str
    amount: Decimal | None
    by: str


class DisputeMachine(RuleBasedStateMachine):
    """One fresh dispute per example; the DB is not reset between examples."""

    # --- setting up ----------------------------------------------------------------------
    @initialize(
        quantity=st.sampled_from([1, 2]),
        received=st.booleans(),
        full=st.booleans(),
        wants_return=st.booleans(),
    )
    def open_a_dispute(self, quantity, received, full, wants_return):
        n = next(_examples)
        self.people = {
            name: UserFactory(username=f"{name}-hyp{n}", first_name=name.title())
            for name in ("alice", "carol", "bob", "dave")
        }
        self.people["sam"] = make_arbitrator(f"sam-hyp{n}")
        store = StoreFactory(owner=self.people["bob"])
        StoreFactory(owner=self.people["dave"])
        order = make_order(
            buyer=self.people["alice"], store=store, shipped_at=START - timedelta(days=10)
        )
        self.now = START
        self.cap = UNIT_PRICE * quantity
        self.received = received
        amount = self.cap if full else (self.cap / 3).quantize(CENT)
        returns = received and wants_return
        request = DisputeRequest(
            received=received,
            reason=Reason.DAMAGED if received else Reason.NOT_RECEIVED,
            description="The bag arrived with the strap torn off.",
            quantity=quantity,
            requested_outcome=(
                RequestedOutcome.RETURN_AND_REFUND if returns else RequestedOutcome.REFUND_ONLY
            ),
            requested_amount=amount,
        )
        dispute = open_dispute(
            line=order.lines.get(), buyer=self.people["alice"], request=request, now=self.now
        )
        self.dispute_id = dispute.pk

        # The model.
        self.state = DisputeState.OPEN
        self.revision = 0
        self.events = 1  # "opened"
        if returns:
            first = OutcomeType.RETURN_AND_REFUND
        elif full:
            first = OutcomeType.FULL_REFUND
        else:
            first = OutcomeType.PARTIAL_REFUND
        self.proposal = Proposal(first, amount, Party.BUYER)
        self.outcome: Proposal | None = None
        self.first_answer_at: datetime | None = None
        self.deadline = (START + timedelta(days=5), DeadlineKind.SELLER_RESPONSE)

    # --- helpers -------------------------------------------------------------------------
    def tick(self) -> datetime:
        self.now += timedelta(hours=3)
        return self.now

    def revision_for(self, kind: str) -> int | None:
        if kind == "none":
            return None
        if kind == "current":
            return self.revision
        return self.revision - 1 if self.revision else self.revision + 1

    def snapshot(self):
        return (
            Dispute.objects.filter(pk=self.dispute_id).values().get(),
            DisputeEvent.objects.filter(dispute_id=self.dispute_id).count(),
            DisputeMessage.objects.filter(dispute_id=self.dispute_id).count(),
        )

    def attempt(self, action: str, call, allowed: bool) -> None:
        """Run ``call``: it must work when the model allows it, and otherwise be refused
        with a DisputeError (StaleDispute included) that changes nothing at all."""
        event(f"{action} {'allowed' if allowed else 'refused'}")
        if allowed:
            call()
            return
        before = self.snapshot()
        with pytest.raises(DisputeError):
            call()
        assert self.snapshot() == before

    def allowed_amount(self, party: str, outcome: str, amount, note: str):
        """(may it be proposed, the amount recorded) for one side's proposal."""
        mine = SELLER_MAY_PROPOSE if party == Party.SELLER else BUYER_MAY_PROPOSE
        if outcome not in mine:
            return False, None
        if outcome == OutcomeType.RETURN_AND_REFUND and not self.received:
            return False, None
        if outcome == OutcomeType.REJECTED and not note.strip():
            return False, None
        if outcome == OutcomeType.FULL_REFUND:
            return True, self.cap
        if outcome == OutcomeType.RETURN_AND_REFUND and amount is None:
            return True, self.cap
        if outcome in (OutcomeType.REPLACEMENT, OutcomeType.REJECTED):
            return True, None
        if amount is None or amount <= 0 or amount > self.cap:
            return False, None
        return True, amount

    # --- the rules -----------------------------------------------------------------------
    @rule(who=people, revision=revisions)
    def accept(self, who, revision):
        party = PARTIES.get(who)
        expected = self.revision_for(revision)
        allowed = (
            revision != "stale"
            and self.state in NEGOTIATING
            and party in (Party.BUYER, Party.SELLER)
            and party != self.proposal.by
        )
        at = self.tick()
        self.attempt(
            "accept",
            lambda: dispute_accept(
                dispute_id=self.dispute_id,
                user=self.people[who],
                expected_revision=expected,
                now=at,
            ),
            allowed,
        )
        if allowed:
            if party == Party.SELLER and self.first_answer_at is None:
                self.first_answer_at = at
            self.outcome = Proposal(self.proposal.outcome, self.proposal.amount, party)
            # A return or a replacement is a promise with its own clock; the rest ends here.
            if self.proposal.outcome == OutcomeType.RETURN_AND_REFUND:
                self.state = DisputeState.AWAITING_RETURN
                self.deadline = (at + timedelta(days=10), DeadlineKind.RETURN_SHIPMENT)
            elif self.proposal.outcome == OutcomeType.REPLACEMENT:
                self.state = DisputeState.AWAITING_REPLACEMENT
                self.deadline = (at + timedelta(days=7), DeadlineKind.REPLACEMENT_SHIPMENT)
            else:
                self.state = DisputeState.RESOLVED
                self.deadline = (None, "")
            self.revision += 1  # one action, one revision (agreed, then taking effect)
            self.events += 2

    @rule(who=people, outcome=outcomes, amount=amounts, note=notes, revision=revisions)
    def propose(self, who, outcome, amount, note, revision):
        party = PARTIES.get(who)
        expected = self.revision_for(revision)
        valid, recorded = self.allowed_amount(party, outcome, amount, note)
        allowed = (
            revision != "stale"
            and valid
            and (
                (party == Party.SELLER and self.state in NEGOTIATING)
                or (
                    party == Party.BUYER
                    and self.state == DisputeState.SELLER_RESPONDED
                    and self.proposal.by != Party.BUYER  # never a counter to her own
                )
            )
        )
        at = self.tick()
        self.attempt(
            "propose",
            lambda: dispute_propose(
                dispute_id=self.dispute_id,
                user=self.people[who],
                outcome=outcome,
                amount=amount,
                note=note,
                expected_revision=expected,
                now=at,
            ),
            allowed,
        )
        if allowed:
            if party == Party.SELLER and self.first_answer_at is None:
                self.first_answer_at = at
                self.deadline = (at + timedelta(days=7), DeadlineKind.NEGOTIATION)
            self.proposal = Proposal(outcome, recorded, party)
            self.state = DisputeState.SELLER_RESPONDED
            self.revision += 1
            self.events += 1

    # Most fully random proposals are refused; these two are usually on the right side.
    @rule(
        outcome=st.sampled_from(sorted(SELLER_MAY_PROPOSE)),
        amount=sensible_amounts,
        revision=st.sampled_from(["none", "current"]),
    )
    def seller_answers(self, outcome, amount, revision):
        self.propose("bob", outcome, amount, "Reasons, photos attached.", revision)

    @rule(
        outcome=st.sampled_from(sorted(BUYER_MAY_PROPOSE)),
        amount=sensible_amounts,
        revision=st.sampled_from(["none", "current"]),
    )
    def buyer_counters(self, outcome, amount, revision):
        self.propose("alice", outcome, amount, "", revision)

    @rule(revision=st.sampled_from(["none", "current"]))
    def the_other_side_accepts(self, revision):
        self.accept("bob" if self.proposal.by == Party.BUYER else "alice", revision)

    @rule(who=people, revision=revisions)
    def withdraw(self, who, revision):
        expected = self.revision_for(revision)
        allowed = (
            revision != "stale" and PARTIES.get(who) == Party.BUYER and self.state in NEGOTIATING
        )
        at = self.tick()
        self.attempt(
            "withdraw",
            lambda: dispute_withdraw(
                dispute_id=self.dispute_id,
                user=self.people[who],
                expected_revision=expected,
                now=at,
            ),
            allowed,
        )
        if allowed:
            self.outcome = Proposal(OutcomeType.WITHDRAWN, None, Party.BUYER)
            self.state = DisputeState.WITHDRAWN
            self.deadline = (None, "")
            self.revision += 1
            self.events += 1

    @rule(who=people, body=bodies)
    def message(self, who, body):
        allowed = who in PARTIES and self.state not in FINISHED and bool(body.strip())
        at = self.tick()
        self.attempt(
            "message",
            lambda: dispute_post_message(
                dispute_id=self.dispute_id, user=self.people[who], body=body, now=at
            ),
            allowed,
        )
        if allowed:
            self.events += 1  # a message changes no state and no revision

    # --- after every step ----------------------------------------------------------------
    @invariant()
    def the_dispute_is_what_the_model_says(self):
        dispute = Dispute.objects.get(pk=self.dispute_id)
        assert dispute.state in KNOWN_STATES
        assert dispute.state == self.state
        assert dispute.revision == self.revision
        assert DisputeEvent.objects.filter(dispute_id=self.dispute_id).count() == self.events
        assert (dispute.proposal_type, dispute.proposal_amount, dispute.proposal_by) == (
            self.proposal.outcome,
            self.proposal.amount,
            self.proposal.by,
        )
        if self.outcome is None:
            assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
                "",
                None,
                "",
            )
        else:
            assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
                self.outcome.outcome,
                self.outcome.amount,
                self.outcome.by,
            )
        assert dispute.first_answer_at == self.first_answer_at
        assert (dispute.next_deadline_at, dispute.deadline_kind) == self.deadline
        assert (dispute.finished_at is not None) == (self.state in FINISHED)

    @invariant()
    def no_amount_exceeds_what_was_paid(self):
        dispute = Dispute.objects.get(pk=self.dispute_id)
        assert dispute.amount_cap == self.cap
        assert Decimal("0") < dispute.requested_amount <= dispute.amount_cap
        for amount in (dispute.proposal_amount, dispute.outcome_amount):
            assert amount is None or Decimal("0") <= amount <= dispute.amount_cap


@pytest.mark.django_db
def test_random_sequences_of_actions_follow_the_rules():
    run_state_machine_as_test(
        DisputeMachine,
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            database=None,  # keep no example database in the working tree
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        ),
    )
