"""Opening a dispute and acting on it: the services, their refusals and their records."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from disputes.models import Dispute, DisputeEvent, DisputeMessage
from disputes.services import (
    DisputeError,
    DisputeRequest,
    StaleDispute,
    dispute_accept,
    dispute_post_message,
    dispute_propose,
    dispute_withdraw,
)
from disputes.states import (
    DeadlineKind,
    DisputeState,
    EventKind,
    OutcomeType,
    Party,
    Reason,
    RequestedOutcome,
)
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
CAP = Decimal("20.00")  # the default line: 2 canvas bags at 10.00


def ask(**changes) -> DisputeRequest:
    """A valid questionnaire for the whole default line, with ``changes`` applied."""
    fields = {
        "received": True,
        "reason": Reason.DAMAGED,
        "description": "Both bags arrived with the straps torn off.",
        "quantity": 2,
        "requested_outcome": RequestedOutcome.REFUND_ONLY,
        "requested_amount": CAP,
    }
    fields.update(changes)
    return DisputeRequest(**fields)


def snapshot(dispute: Dispute) -> tuple[dict, int, int]:
    """Everything a refused action must leave alone."""
    row = Dispute.objects.filter(pk=dispute.pk).values().get()
    return (
        row,
        DisputeEvent.objects.filter(dispute_id=dispute.pk).count(),
        DisputeMessage.objects.filter(dispute_id=dispute.pk).count(),
    )


def kinds(dispute: Dispute) -> list[str]:
    return list(
        DisputeEvent.objects.filter(dispute_id=dispute.pk)
        .order_by("created_at", "id")
        .values_list("kind", flat=True)
    )


def reload(dispute: Dispute) -> Dispute:
    return Dispute.objects.get(pk=dispute.pk)


@pytest.fixture
def order(alice, bobs_store, now):
    return make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=10))


@pytest.fixture
def line(order):
    return order.lines.get()


@pytest.fixture
def dispute(line, alice, now):
    return open_dispute(line=line, buyer=alice, request=ask(), now=now)


def refuse_open(line, buyer, request, now, *, field=None, match=None) -> DisputeError:
    with pytest.raises(DisputeError, match=match) as excinfo:
        open_dispute(line=line, buyer=buyer, request=request, now=now)
    assert excinfo.value.field == field
    assert not Dispute.objects.filter(line=line).exists()
    return excinfo.value


# --- opening ---------------------------------------------------------------------------------
def test_opening_starts_the_sellers_five_day_clock_with_the_buyers_request_on_the_table(
    line, alice, now
):
    dispute = open_dispute(line=line, buyer=alice, request=ask(), now=now)
    dispute = reload(dispute)
    assert dispute.state == DisputeState.OPEN
    assert dispute.revision == 0
    assert dispute.opened_at == now
    assert dispute.next_deadline_at == now + timedelta(days=5)
    assert dispute.deadline_kind == DeadlineKind.SELLER_RESPONSE
    assert dispute.first_answer_at is None
    assert dispute.amount_cap == CAP
    assert dispute.currency == line.order.currency
    assert (dispute.buyer, dispute.store, dispute.order) == (alice, line.order.store, line.order)
    assert dispute.proposal_type == OutcomeType.FULL_REFUND
    assert dispute.proposal_amount == CAP
    assert dispute.proposal_by == Party.BUYER
    assert dispute.proposal_at == now
    assert dispute.outcome_type == ""

    event = DisputeEvent.objects.get(dispute=dispute)
    assert event.kind == EventKind.OPENED
    assert (event.from_state, event.to_state) == ("", DisputeState.OPEN)
    assert (event.actor, event.actor_party) == (alice, Party.BUYER)
    assert event.created_at == now
    assert event.data["amount"] == "20.00"


def test_a_request_below_what_was_paid_is_a_partial_refund(line, alice, now):
    dispute = open_dispute(
        line=line, buyer=alice, request=ask(requested_amount=Decimal("7.50")), now=now
    )
    dispute = reload(dispute)
    assert dispute.proposal_type == OutcomeType.PARTIAL_REFUND
    assert dispute.proposal_amount == Decimal("7.50")
    assert dispute.requested_amount == Decimal("7.50")


def test_a_return_is_on_the_table_when_the_buyer_asks_for_one(line, alice, now):
    request = ask(requested_outcome=RequestedOutcome.RETURN_AND_REFUND)
    dispute = reload(open_dispute(line=line, buyer=alice, request=request, now=now))
    assert dispute.proposal_type == OutcomeType.RETURN_AND_REFUND
    assert dispute.proposal_amount == CAP


def test_a_parcel_that_never_came_is_a_full_refund_request(line, alice, now):
    request = ask(received=False, reason=Reason.NOT_RECEIVED)
    dispute = reload(open_dispute(line=line, buyer=alice, request=request, now=now))
    assert dispute.received is False
    assert dispute.proposal_type == OutcomeType.FULL_REFUND
    assert dispute.amount_cap == CAP


def test_the_description_is_stored_without_surrounding_whitespace(line, alice, now):
    request = ask(description="   The zip broke at once.  \n")
    dispute = reload(open_dispute(line=line, buyer=alice, request=request, now=now))
    assert dispute.description == "The zip broke at once."


@pytest.mark.parametrize("who", ["carol", "bob", "dave", "sam"])
def test_only_the_orders_buyer_can_open_a_dispute(who, persona, line, now):
    refuse_open(line, persona(who), ask(), now, match="Only the buyer")
    assert not DisputeEvent.objects.exists()


def test_a_paid_order_cannot_be_disputed_before_it_ships(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store)
    refuse_open(order.lines.get(), alice, ask(), now, match="once the seller has shipped")


def test_a_cancelled_order_cannot_be_disputed(alice, bobs_store, now):
    from orders.services import order_cancel

    order = make_order(buyer=alice, store=bobs_store)
    order_cancel(order=order, by=alice, now=now)
    refuse_open(order.lines.get(), alice, ask(), now, match="was cancelled")


def test_a_completed_order_can_be_disputed_until_the_last_second_of_its_fifteen_days(
    alice, bobs_store, now
):
    confirmed = now - timedelta(days=20)
    ends = confirmed + timedelta(days=15)

    late = make_order(
        buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=30), confirmed_at=confirmed
    )
    refuse_open(late.lines.get(), alice, ask(), ends, match="window closed")
    refuse_open(late.lines.get(), alice, ask(), ends + timedelta(days=1), match="window closed")

    in_time = make_order(
        buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=30), confirmed_at=confirmed
    )
    dispute = open_dispute(line=in_time.lines.get(), buyer=alice, request=ask(), now=ends - SECOND)
    assert reload(dispute).state == DisputeState.OPEN


def test_protection_ran_out_but_not_swept_yet_still_leaves_fifteen_days(alice, bobs_store, now):
    order = make_order(
        buyer=alice, store=bobs_store, protection_days=60, shipped_at=now - timedelta(days=70)
    )
    ends = order.protection_ends_at + timedelta(days=15)
    refuse_open(order.lines.get(), alice, ask(), ends, match="window closed")
    dispute = open_dispute(line=order.lines.get(), buyer=alice, request=ask(), now=ends - SECOND)
    assert reload(dispute).state == DisputeState.OPEN


def test_a_line_can_be_disputed_only_once_while_its_dispute_runs(dispute, line, alice, now):
    with pytest.raises(DisputeError, match="only once") as excinfo:
        open_dispute(line=line, buyer=alice, request=ask(), now=now + HOUR)
    assert excinfo.value.field is None
    assert Dispute.objects.count() == 1
    assert kinds(dispute) == [EventKind.OPENED]


def test_a_withdrawn_line_can_never_be_disputed_again(dispute, line, alice, now):
    dispute_withdraw(dispute_id=dispute.pk, user=alice, now=now + HOUR)
    with pytest.raises(DisputeError, match="only once"):
        open_dispute(line=line, buyer=alice, request=ask(), now=now + 2 * HOUR)
    assert Dispute.objects.count() == 1
    assert reload(dispute).state == DisputeState.WITHDRAWN


def test_a_resolved_line_can_never_be_disputed_again(dispute, line, alice, bob, now):
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + HOUR)
    with pytest.raises(DisputeError, match="only once"):
        open_dispute(line=line, buyer=alice, request=ask(), now=now + 2 * HOUR)
    assert Dispute.objects.count() == 1


def test_the_other_line_of_the_same_order_can_still_be_disputed(alice, bobs_store, now):
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=10)
    )
    red, blue = order.lines.order_by("id")
    request = ask(quantity=1, requested_amount=Decimal("45.00"))
    first = open_dispute(line=red, buyer=alice, request=request, now=now)
    second = open_dispute(line=blue, buyer=alice, request=request, now=now)
    assert {first.line_id, second.line_id} == {red.pk, blue.pk}


@pytest.mark.parametrize("quantity", [0, -1, 3])
def test_the_quantity_is_between_one_and_the_lines_quantity(quantity, line, alice, now):
    refuse_open(line, alice, ask(quantity=quantity), now, field="quantity")


@pytest.mark.parametrize(
    ("quantity", "amount", "proposal"),
    [
        pytest.param(2, Decimal("20.00"), OutcomeType.FULL_REFUND, id="cap"),
        pytest.param(2, Decimal("19.99"), OutcomeType.PARTIAL_REFUND, id="just-below-cap"),
        pytest.param(2, Decimal("0.01"), OutcomeType.PARTIAL_REFUND, id="one-cent"),
        pytest.param(1, Decimal("10.00"), OutcomeType.FULL_REFUND, id="one-of-two-at-unit-price"),
        pytest.param(1, Decimal("4.00"), OutcomeType.PARTIAL_REFUND, id="one-of-two-partial"),
    ],
)
def test_amounts_up_to_what_was_paid_for_the_disputed_quantity_are_accepted(
    quantity, amount, proposal, line, alice, now
):
    request = ask(quantity=quantity, requested_amount=amount)
    dispute = reload(open_dispute(line=line, buyer=alice, request=request, now=now))
    assert dispute.amount_cap == Decimal("10.00") * quantity
    assert (dispute.proposal_type, dispute.proposal_amount) == (proposal, amount)


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        pytest.param(2, Decimal("20.01"), id="cap-plus-a-cent"),
        pytest.param(2, Decimal("0"), id="zero"),
        pytest.param(2, Decimal("-5.00"), id="negative"),
        pytest.param(1, Decimal("10.01"), id="one-of-two-above-unit-price"),
        pytest.param(1, Decimal("20.00"), id="one-of-two-at-line-price"),
    ],
)
def test_amounts_above_what_was_paid_or_not_above_zero_are_refused(
    quantity, amount, line, alice, now
):
    request = ask(quantity=quantity, requested_amount=amount)
    refuse_open(line, alice, request, now, field="requested_amount")
    assert not DisputeEvent.objects.exists()


def test_the_amount_refusal_says_what_was_paid(line, alice, now):
    error = refuse_open(
        line,
        alice,
        ask(quantity=1, requested_amount=Decimal("10.01")),
        now,
        field="requested_amount",
    )
    assert "10.00" in str(error)


@pytest.mark.parametrize("reason", [r for r in Reason.values if r != Reason.NOT_RECEIVED], ids=str)
def test_a_parcel_that_never_came_can_only_be_not_received(reason, line, alice, now):
    refuse_open(line, alice, ask(received=False, reason=reason), now, field="reason")


def test_a_parcel_that_came_cannot_be_not_received(line, alice, now):
    refuse_open(line, alice, ask(received=True, reason=Reason.NOT_RECEIVED), now, field="reason")


def test_a_parcel_that_never_came_cannot_be_returned(line, alice, now):
    request = ask(
        received=False,
        reason=Reason.NOT_RECEIVED,
        requested_outcome=RequestedOutcome.RETURN_AND_REFUND,
    )
    refuse_open(line, alice, request, now, field="requested_outcome")


def test_a_description_in_cyrillic_is_refused_naming_the_letters(line, alice, now):
    request = ask(description="Сумка пришла порванная")
    error = refuse_open(line, alice, request, now, field="description")
    assert "“С”" in str(error)
    assert "Cyrillic" in str(error)


def test_the_latin_rule_can_be_switched_off(line, alice, now, settings):
    settings.PORTAL_REQUIRE_LATIN_DESCRIPTION = False
    request = ask(description="Сумка пришла порванная")
    dispute = reload(open_dispute(line=line, buyer=alice, request=request, now=now))
    assert dispute.description == "Сумка пришла порванная"


@pytest.mark.parametrize(
    "description", ["", "Torn bag", "   Torn bag  ", "  \n  "], ids=["empty", "8", "padded", "ws"]
)
def test_a_description_of_fewer_than_ten_characters_is_refused(description, line, alice, now):
    refuse_open(line, alice, ask(description=description), now, field="description")


def test_ten_characters_are_enough(line, alice, now):
    dispute = open_dispute(line=line, buyer=alice, request=ask(description="Torn bags!"), now=now)
    assert reload(dispute).description == "Torn bags!"


def test_a_description_over_five_thousand_characters_is_refused(line, alice, now):
    refuse_open(line, alice, ask(description="a" * 5001), now, field="description")


# --- the table: every action by every persona in every state of this issue -------------------
def seller_proposes(dispute, bob, at):
    return dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("12.00"),
        note="Half the price back, you keep the bags.",
        now=at,
    )


def buyer_counters(dispute, alice, at):
    return dispute_propose(
        dispute_id=dispute.pk,
        user=alice,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("16.00"),
        note="Both straps are gone: 16 at least.",
        now=at,
    )


def reach(situation: str, dispute: Dispute, alice, bob, now) -> Dispute:
    """Bring ``dispute`` to one of this issue's situations through the services."""
    if situation in ("seller_proposal", "buyer_counter"):
        seller_proposes(dispute, bob, now + HOUR)
    if situation == "buyer_counter":
        buyer_counters(dispute, alice, now + 2 * HOUR)
    if situation == "resolved":
        dispute_accept(dispute_id=dispute.pk, user=bob, now=now + HOUR)
    if situation == "withdrawn":
        dispute_withdraw(dispute_id=dispute.pk, user=alice, now=now + HOUR)
    return reload(dispute)


SITUATIONS = ["open", "seller_proposal", "buyer_counter", "resolved", "withdrawn"]
PERSONAS = ["alice", "carol", "bob", "dave", "sam"]
RESOLVED, RESPONDED, WITHDRAWN = (
    DisputeState.RESOLVED,
    DisputeState.SELLER_RESPONDED,
    DisputeState.WITHDRAWN,
)
# (action, situation) -> {persona: state it leads to}; every other persona is refused.
ALLOWED = {
    ("accept", "open"): {"bob": RESOLVED},
    ("accept", "seller_proposal"): {"alice": RESOLVED},
    ("accept", "buyer_counter"): {"bob": RESOLVED},
    ("propose", "open"): {"bob": RESPONDED},
    ("propose", "seller_proposal"): {"bob": RESPONDED, "alice": RESPONDED},
    # Nobody counters their own proposal: the buyer waits for the seller's answer to hers.
    ("propose", "buyer_counter"): {"bob": RESPONDED},
    ("withdraw", "open"): {"alice": WITHDRAWN},
    ("withdraw", "seller_proposal"): {"alice": WITHDRAWN},
    ("withdraw", "buyer_counter"): {"alice": WITHDRAWN},
}
# How many events an allowed action adds: accept is agreed, then resolved. Each action is
# one change of the revision, whatever number of transitions it makes.
STEPS = {"accept": 2, "propose": 1, "withdraw": 1}


def act(action: str, name: str, dispute: Dispute, user, at, revision=None) -> Dispute:
    if action == "accept":
        return dispute_accept(dispute_id=dispute.pk, user=user, expected_revision=revision, now=at)
    if action == "withdraw":
        return dispute_withdraw(
            dispute_id=dispute.pk, user=user, expected_revision=revision, now=at
        )
    # A proposal each side is allowed to make, so only the rules of the table decide.
    as_seller = name in ("bob", "dave", "sam")
    return dispute_propose(
        dispute_id=dispute.pk,
        user=user,
        outcome=OutcomeType.COUPON if as_seller else OutcomeType.PARTIAL_REFUND,
        amount=Decimal("14.00") if as_seller else Decimal("18.00"),
        note="A new offer.",
        expected_revision=revision,
        now=at,
    )


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("who", PERSONAS)
@pytest.mark.parametrize("action", ["accept", "propose", "withdraw"])
def test_who_may_do_what_in_each_state(action, who, situation, persona, dispute, alice, bob, now):
    dispute = reach(situation, dispute, alice, bob, now)
    before, events_before, _messages = snapshot(dispute)
    at = now + timedelta(days=1)
    expected = ALLOWED.get((action, situation), {}).get(who)

    if expected is None:
        with pytest.raises(DisputeError):
            act(action, who, dispute, persona(who), at, revision=dispute.revision)
        assert snapshot(dispute) == (before, events_before, _messages)
        return

    act(action, who, dispute, persona(who), at, revision=dispute.revision)
    after = reload(dispute)
    assert after.state == expected
    assert after.revision == before["revision"] + 1
    assert DisputeEvent.objects.filter(dispute=dispute).count() == events_before + STEPS[action]


def test_nobody_can_accept_their_own_proposal(dispute, alice, bob, now):
    # The buyer's request is on the table at first, then the seller's, then the buyer's.
    with pytest.raises(DisputeError):
        dispute_accept(dispute_id=dispute.pk, user=alice, now=now + HOUR)
    seller_proposes(dispute, bob, now + HOUR)
    with pytest.raises(DisputeError):
        dispute_accept(dispute_id=dispute.pk, user=bob, now=now + 2 * HOUR)
    buyer_counters(dispute, alice, now + 3 * HOUR)
    with pytest.raises(DisputeError):
        dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 4 * HOUR)
    assert reload(dispute).state == DisputeState.SELLER_RESPONDED


def test_state_cannot_be_assigned_directly(dispute):
    with pytest.raises(AttributeError):
        dispute.state = DisputeState.RESOLVED


# --- accepting -------------------------------------------------------------------------------
def test_seller_accepts_the_buyers_request_as_it_stands(dispute, alice, bob, now):
    at = now + timedelta(days=2)
    dispute_accept(dispute_id=dispute.pk, user=bob, expected_revision=0, now=at)
    dispute = reload(dispute)
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.outcome_type, dispute.outcome_amount) == (OutcomeType.FULL_REFUND, CAP)
    assert (dispute.decided_by, dispute.decided_at) == (Party.SELLER, at)
    assert dispute.first_answer_at == at
    assert dispute.finished_at == at
    assert dispute.next_deadline_at is None
    assert dispute.deadline_kind == ""
    assert dispute.revision == 1

    accepted, resolved = DisputeEvent.objects.filter(dispute=dispute).order_by("id")[1:]
    assert accepted.kind == EventKind.ACCEPTED
    assert (accepted.from_state, accepted.to_state) == (DisputeState.OPEN, DisputeState.AGREED)
    assert (accepted.actor, accepted.actor_party) == (bob, Party.SELLER)
    assert accepted.data == {"outcome": "full_refund", "amount": "20.00", "decided_by": "seller"}
    assert resolved.kind == EventKind.RESOLVED
    assert (resolved.from_state, resolved.to_state) == (DisputeState.AGREED, RESOLVED)
    assert (resolved.actor, resolved.actor_party) == (None, Party.PLATFORM)
    assert accepted.created_at == resolved.created_at == at


def test_seller_accepts_a_partial_request_for_the_amount_asked(line, alice, bob, now):
    request = ask(requested_amount=Decimal("6.00"))
    dispute = open_dispute(line=line, buyer=alice, request=request, now=now)
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + HOUR)
    dispute = reload(dispute)
    assert (dispute.outcome_type, dispute.outcome_amount) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("6.00"),
    )


def test_buyer_accepts_the_sellers_proposal(dispute, alice, bob, now):
    seller_proposes(dispute, bob, now + HOUR)
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * HOUR)
    dispute = reload(dispute)
    assert dispute.state == DisputeState.RESOLVED
    assert (dispute.outcome_type, dispute.outcome_amount) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("12.00"),
    )
    assert dispute.decided_by == Party.BUYER
    assert dispute.first_answer_at == now + HOUR
    accepted = DisputeEvent.objects.get(dispute=dispute, kind=EventKind.ACCEPTED)
    assert (accepted.from_state, accepted.to_state) == (RESPONDED, DisputeState.AGREED)
    assert (accepted.actor, accepted.actor_party) == (alice, Party.BUYER)
    assert kinds(dispute) == [
        EventKind.OPENED,
        EventKind.PROPOSED,
        EventKind.ACCEPTED,
        EventKind.RESOLVED,
    ]


def test_seller_accepts_the_buyers_counter(dispute, alice, bob, now):
    seller_proposes(dispute, bob, now + HOUR)
    buyer_counters(dispute, alice, now + 2 * HOUR)
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + 3 * HOUR)
    dispute = reload(dispute)
    assert (dispute.outcome_type, dispute.outcome_amount) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("16.00"),
    )
    assert dispute.decided_by == Party.SELLER
    # The seller's first answer was the proposal, not this acceptance.
    assert dispute.first_answer_at == now + HOUR


def test_buyer_accepts_a_replacement_with_no_amount(dispute, alice, bob, now):
    dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REPLACEMENT, now=now + HOUR
    )
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * HOUR)
    dispute = reload(dispute)
    assert (dispute.outcome_type, dispute.outcome_amount) == (OutcomeType.REPLACEMENT, None)


# --- proposing -------------------------------------------------------------------------------
def test_the_sellers_first_proposal_starts_the_seven_day_negotiation(dispute, bob, now):
    first = now + timedelta(days=3)
    seller_proposes(dispute, bob, first)
    dispute = reload(dispute)
    assert dispute.state == RESPONDED
    assert dispute.first_answer_at == first
    assert dispute.next_deadline_at == first + timedelta(days=7)
    assert dispute.deadline_kind == DeadlineKind.NEGOTIATION
    assert (dispute.proposal_type, dispute.proposal_amount) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("12.00"),
    )
    assert (dispute.proposal_by, dispute.proposal_at) == (Party.SELLER, first)
    assert dispute.proposal_note == "Half the price back, you keep the bags."
    assert dispute.revision == 1

    event = DisputeEvent.objects.get(dispute=dispute, kind=EventKind.PROPOSED)
    assert (event.from_state, event.to_state) == (DisputeState.OPEN, RESPONDED)
    assert (event.actor, event.actor_party) == (bob, Party.SELLER)
    assert event.data == {"outcome": "partial_refund", "amount": "12.00"}
    assert event.note == "Half the price back, you keep the bags."


def test_revisions_and_counters_do_not_move_the_negotiation_deadline(dispute, alice, bob, now):
    first = now + timedelta(days=1)
    seller_proposes(dispute, bob, first)
    buyer_counters(dispute, alice, first + timedelta(days=1))
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.COUPON,
        amount=Decimal("15.00"),
        now=first + timedelta(days=2),
    )
    dispute = reload(dispute)
    assert dispute.first_answer_at == first
    assert dispute.next_deadline_at == first + timedelta(days=7)
    assert dispute.deadline_kind == DeadlineKind.NEGOTIATION
    assert (dispute.proposal_type, dispute.proposal_by) == (OutcomeType.COUPON, Party.SELLER)
    assert dispute.revision == 3
    assert kinds(dispute).count(EventKind.PROPOSED) == 3


def test_the_buyers_counter_is_on_the_table(dispute, alice, bob, now):
    seller_proposes(dispute, bob, now + HOUR)
    buyer_counters(dispute, alice, now + 2 * HOUR)
    dispute = reload(dispute)
    assert dispute.state == RESPONDED
    assert (dispute.proposal_type, dispute.proposal_amount) == (
        OutcomeType.PARTIAL_REFUND,
        Decimal("16.00"),
    )
    assert dispute.proposal_by == Party.BUYER
    event = DisputeEvent.objects.filter(dispute=dispute).latest("id")
    assert (event.from_state, event.to_state) == (RESPONDED, RESPONDED)
    assert (event.actor, event.actor_party) == (alice, Party.BUYER)


@pytest.fixture
def negotiating(dispute, bob, now):
    """The seller answered: the buyer may counter, the seller may revise."""
    seller_proposes(dispute, bob, now + HOUR)
    return reload(dispute)


def refuse_proposal(dispute, user, now, *, field, **proposal) -> DisputeError:
    before = snapshot(dispute)
    with pytest.raises(DisputeError) as excinfo:
        dispute_propose(dispute_id=dispute.pk, user=user, now=now + timedelta(days=1), **proposal)
    assert excinfo.value.field == field
    assert snapshot(dispute) == before
    return excinfo.value


@pytest.mark.parametrize(
    "amount",
    [Decimal("20.01"), Decimal("0"), Decimal("-1.00"), None],
    ids=["above-cap", "zero", "negative", "none"],
)
def test_a_sellers_partial_refund_is_above_zero_and_within_what_was_paid(amount, dispute, bob, now):
    refuse_proposal(
        dispute, bob, now, field="amount", outcome=OutcomeType.PARTIAL_REFUND, amount=amount
    )


def test_a_sellers_partial_refund_of_everything_paid_is_allowed(dispute, bob, now):
    dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.PARTIAL_REFUND, amount=CAP, now=now
    )
    assert reload(dispute).proposal_amount == CAP


@pytest.mark.parametrize("amount", [None, Decimal("0"), Decimal("20.01")])
def test_a_coupon_needs_an_amount_within_what_was_paid(amount, dispute, bob, now):
    refuse_proposal(dispute, bob, now, field="amount", outcome=OutcomeType.COUPON, amount=amount)


def test_a_coupon_records_its_amount(dispute, bob, now):
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.COUPON,
        amount=Decimal("8.00"),
        now=now + HOUR,
    )
    assert reload(dispute).proposal_amount == Decimal("8.00")


def test_a_replacement_carries_no_amount(dispute, bob, now):
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.REPLACEMENT,
        amount=Decimal("5.00"),
        now=now + HOUR,
    )
    dispute = reload(dispute)
    assert (dispute.proposal_type, dispute.proposal_amount) == (OutcomeType.REPLACEMENT, None)


@pytest.mark.parametrize("note", ["", "   \n "], ids=["empty", "blank"])
def test_a_rejection_needs_reasons(note, dispute, bob, now):
    refuse_proposal(dispute, bob, now, field="note", outcome=OutcomeType.REJECTED, note=note)


def test_a_rejection_with_reasons_is_on_the_table_without_an_amount(dispute, bob, now):
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.REJECTED,
        amount=Decimal("3.00"),
        note="  The tracking shows the bags delivered intact.  ",
        now=now + HOUR,
    )
    dispute = reload(dispute)
    assert (dispute.proposal_type, dispute.proposal_amount) == (OutcomeType.REJECTED, None)
    assert dispute.proposal_note == "The tracking shows the bags delivered intact."


def test_a_note_over_five_thousand_characters_is_refused(dispute, bob, now):
    refuse_proposal(dispute, bob, now, field="note", outcome=OutcomeType.REJECTED, note="n" * 5001)


@pytest.mark.parametrize(
    "outcome", [OutcomeType.FULL_REFUND, OutcomeType.RETURN_AND_REFUND, OutcomeType.WITHDRAWN]
)
def test_the_seller_proposes_only_the_sellers_solutions(outcome, dispute, bob, now):
    refuse_proposal(dispute, bob, now, field="outcome", outcome=outcome, amount=Decimal("5.00"))


@pytest.mark.parametrize(
    "outcome",
    [OutcomeType.REPLACEMENT, OutcomeType.COUPON, OutcomeType.REJECTED, OutcomeType.WITHDRAWN],
)
def test_the_buyer_counters_only_with_the_buyers_solutions(outcome, negotiating, alice, now):
    refuse_proposal(
        negotiating, alice, now, field="outcome", outcome=outcome, amount=Decimal("5.00"), note="x"
    )


def test_a_buyers_full_refund_counter_records_what_was_paid(negotiating, alice, now):
    dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.FULL_REFUND,
        amount=Decimal("3.00"),
        now=now + timedelta(days=1),
    )
    dispute = reload(negotiating)
    assert (dispute.proposal_type, dispute.proposal_amount) == (OutcomeType.FULL_REFUND, CAP)
    event = DisputeEvent.objects.filter(dispute=dispute).latest("id")
    assert event.data == {"outcome": "full_refund", "amount": "20.00"}


def test_a_buyers_return_counter_defaults_to_what_was_paid(negotiating, alice, now):
    dispute_propose(
        dispute_id=negotiating.pk,
        user=alice,
        outcome=OutcomeType.RETURN_AND_REFUND,
        now=now + timedelta(days=1),
    )
    dispute = reload(negotiating)
    assert (dispute.proposal_type, dispute.proposal_amount) == (
        OutcomeType.RETURN_AND_REFUND,
        CAP,
    )


@pytest.mark.parametrize("amount", [Decimal("20.01"), Decimal("0")])
def test_a_buyers_partial_counter_is_above_zero_and_within_what_was_paid(
    amount, negotiating, alice, now
):
    refuse_proposal(
        negotiating, alice, now, field="amount", outcome=OutcomeType.PARTIAL_REFUND, amount=amount
    )


def test_nothing_can_be_returned_from_a_parcel_that_never_came(line, alice, bob, now):
    request = ask(received=False, reason=Reason.NOT_RECEIVED)
    dispute = open_dispute(line=line, buyer=alice, request=request, now=now)
    seller_proposes(dispute, bob, now + HOUR)
    refuse_proposal(
        reload(dispute), alice, now, field="outcome", outcome=OutcomeType.RETURN_AND_REFUND
    )


# --- withdrawing -----------------------------------------------------------------------------
def test_buyer_withdraws_and_the_dispute_is_final(negotiating, alice, now):
    at = now + timedelta(days=2)
    dispute_withdraw(
        dispute_id=negotiating.pk, user=alice, note="  Found it at the neighbours.  ", now=at
    )
    dispute = reload(negotiating)
    assert dispute.state == WITHDRAWN
    assert (dispute.outcome_type, dispute.outcome_amount) == (OutcomeType.WITHDRAWN, None)
    assert (dispute.decided_by, dispute.decided_at, dispute.finished_at) == (
        Party.BUYER,
        at,
        at,
    )
    assert dispute.next_deadline_at is None
    assert dispute.deadline_kind == ""
    event = DisputeEvent.objects.filter(dispute=dispute).latest("id")
    assert event.kind == EventKind.WITHDRAWN
    assert (event.from_state, event.to_state) == (RESPONDED, WITHDRAWN)
    assert (event.actor, event.actor_party) == (alice, Party.BUYER)
    assert event.note == "Found it at the neighbours."
    assert kinds(dispute) == [EventKind.OPENED, EventKind.PROPOSED, EventKind.WITHDRAWN]


# --- stale forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["accept", "propose", "withdraw"])
def test_a_form_from_before_the_last_change_is_stale(action, negotiating, alice, bob, persona):
    # The page was drawn while the dispute was open (revision 0); the seller has answered.
    who = {"accept": "alice", "propose": "bob", "withdraw": "alice"}[action]
    before = snapshot(negotiating)
    with pytest.raises(StaleDispute):
        act(action, who, negotiating, persona(who), negotiating.opened_at, revision=0)
    assert snapshot(negotiating) == before


def test_a_revision_from_the_future_is_stale_too(dispute, bob, now):
    before = snapshot(dispute)
    with pytest.raises(StaleDispute):
        dispute_accept(dispute_id=dispute.pk, user=bob, expected_revision=5, now=now)
    assert snapshot(dispute) == before


def test_the_same_acceptance_submitted_twice_acts_once(dispute, bob, now):
    dispute_accept(dispute_id=dispute.pk, user=bob, expected_revision=0, now=now + HOUR)
    after_first = snapshot(dispute)
    with pytest.raises(StaleDispute):
        dispute_accept(dispute_id=dispute.pk, user=bob, expected_revision=0, now=now + 2 * HOUR)
    assert snapshot(dispute) == after_first
    assert kinds(dispute) == [EventKind.OPENED, EventKind.ACCEPTED, EventKind.RESOLVED]


def test_the_same_acceptance_twice_without_a_revision_is_refused_as_no_longer_possible(
    dispute, bob, now
):
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + HOUR)
    with pytest.raises(StaleDispute, match="no longer possible"):
        dispute_accept(dispute_id=dispute.pk, user=bob, now=now + 2 * HOUR)
    assert kinds(dispute) == [EventKind.OPENED, EventKind.ACCEPTED, EventKind.RESOLVED]


def test_the_same_withdrawal_submitted_twice_acts_once(dispute, alice, now):
    dispute_withdraw(dispute_id=dispute.pk, user=alice, expected_revision=0, now=now + HOUR)
    with pytest.raises(StaleDispute):
        dispute_withdraw(dispute_id=dispute.pk, user=alice, expected_revision=0, now=now + HOUR)
    assert kinds(dispute) == [EventKind.OPENED, EventKind.WITHDRAWN]


# --- messages --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "party"), [("alice", Party.BUYER), ("bob", Party.SELLER), ("sam", Party.STAFF)]
)
def test_a_message_is_one_event_and_changes_no_state(who, party, persona, negotiating, now):
    before, events_before, _ = snapshot(negotiating)
    at = now + timedelta(days=1)
    message = dispute_post_message(
        dispute_id=negotiating.pk, user=persona(who), body="  Any news?  ", now=at
    ).message
    assert (message.author, message.author_party, message.body) == (
        persona(who),
        party,
        "Any news?",
    )
    after, events_after, messages_after = snapshot(negotiating)
    assert after == before  # no state change, no new revision: forms on screen stay good
    assert (events_after, messages_after) == (events_before + 1, 1)
    event = DisputeEvent.objects.filter(dispute=negotiating).latest("id")
    assert event.kind == EventKind.MESSAGE
    assert event.message == message
    assert (event.from_state, event.to_state) == (RESPONDED, RESPONDED)
    assert (event.actor, event.actor_party) == (persona(who), party)
    assert event.created_at == at


@pytest.mark.parametrize("who", ["carol", "dave"])
def test_strangers_cannot_write_in_the_thread(who, persona, dispute, now):
    before = snapshot(dispute)
    with pytest.raises(DisputeError, match="not yours"):
        dispute_post_message(dispute_id=dispute.pk, user=persona(who), body="Hello", now=now)
    assert snapshot(dispute) == before


@pytest.mark.parametrize("situation", ["resolved", "withdrawn"])
@pytest.mark.parametrize("who", ["alice", "bob", "sam"])
def test_a_finished_dispute_takes_no_more_messages(
    who, situation, persona, dispute, alice, bob, now
):
    dispute = reach(situation, dispute, alice, bob, now)
    before = snapshot(dispute)
    with pytest.raises(StaleDispute, match="closed"):
        dispute_post_message(
            dispute_id=dispute.pk, user=persona(who), body="One more thing", now=now + 2 * HOUR
        )
    assert snapshot(dispute) == before


@pytest.mark.parametrize("body", ["", "   \n", "x" * 5001], ids=["empty", "blank", "too-long"])
def test_a_message_needs_a_body_of_reasonable_length(body, dispute, alice, now):
    before = snapshot(dispute)
    with pytest.raises(DisputeError) as excinfo:
        dispute_post_message(dispute_id=dispute.pk, user=alice, body=body, now=now)
    assert excinfo.value.field == "body"
    assert snapshot(dispute) == before


# --- mail ------------------------------------------------------------------------------------
def mail_to(mailoutbox, user):
    return [m for m in mailoutbox if m.to == [user.email]]


def test_opening_mails_the_buyer_and_the_seller_once_each_with_the_clock(
    line, alice, bob, now, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        dispute = open_dispute(line=line, buyer=alice, request=ask(), now=now)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([alice.email, bob.email])
    for mail in mailoutbox:
        assert f"Dispute #{dispute.pk}" in mail.subject
        assert f"/disputes/{dispute.pk}/" in mail.body
        assert "The seller must answer by 28 Nov 2026, 12:00 UTC." in mail.body
        assert "(5 days left)" in mail.body
    assert "Hello Alice" in mail_to(mailoutbox, alice)[0].body
    assert "Hello Bob" in mail_to(mailoutbox, bob)[0].body


def test_nothing_is_mailed_before_the_commit(
    line, alice, now, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        open_dispute(line=line, buyer=alice, request=ask(), now=now)
    assert mailoutbox == []
    assert callbacks


def test_a_refused_action_mails_nobody(
    dispute, carol, now, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(DisputeError),
    ):
        dispute_accept(dispute_id=dispute.pk, user=carol, now=now)
    assert callbacks == []
    assert mailoutbox == []


def test_a_proposal_mails_both_parties_with_the_negotiation_clock(
    dispute, alice, bob, now, mailoutbox, django_capture_on_commit_callbacks
):
    at = now + timedelta(days=1)
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        seller_proposes(dispute, bob, at)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([alice.email, bob.email])
    for mail in mailoutbox:
        assert f"/disputes/{dispute.pk}/" in mail.body
        assert "until 1 Dec 2026, 12:00 UTC to agree" in mail.body
        assert "(7 days left)" in mail.body


def test_an_acceptance_mails_each_party_once_with_the_outcome(
    dispute, alice, bob, now, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute_accept(dispute_id=dispute.pk, user=bob, now=now + HOUR)
    for person in (alice, bob):
        # One mail for the acceptance, and one when the refund it granted left.
        mail, refund_mail = mail_to(mailoutbox, person)
        assert "accepted the proposal" in mail.body
        assert "State: Resolved" in mail.body
        assert "Outcome: Full refund" in mail.body
        assert "Refund sent" in refund_mail.subject


@pytest.mark.parametrize(
    ("author", "readers"),
    [("alice", ["bob"]), ("bob", ["alice"]), ("sam", ["alice", "bob"])],
)
def test_a_message_is_mailed_to_the_other_party_only(
    author, readers, persona, dispute, now, mailoutbox, django_capture_on_commit_callbacks
):
    at = now + HOUR
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        dispute_post_message(
            dispute_id=dispute.pk,
            user=persona(author),
            body="Could you send a photo of the label?",
            now=at,
        )
    assert sorted(m.to[0] for m in mailoutbox) == sorted(persona(r).email for r in readers)
    for mail in mailoutbox:
        assert "Could you send a photo of the label?" in mail.body
        assert f"/disputes/{dispute.pk}/" in mail.body
        assert "The seller must answer by 28 Nov 2026, 12:00 UTC." in mail.body


@pytest.mark.parametrize("amount", ["19.999", "0.001"])
def test_amounts_below_a_cent_are_refused_not_rounded(amount, alice, bobs_store, now):
    from tests.factories import DRESS_LINES, make_order

    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=1)
    )
    request = DisputeRequest(
        received=True,
        reason="damaged",
        description="Torn at the seam on arrival.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal(amount),
    )
    with pytest.raises(DisputeError, match="two decimals") as refused:
        open_dispute(line=order.lines.first(), buyer=alice, request=request, now=now)
    assert refused.value.field == "requested_amount"
    assert not Dispute.objects.exists()


def test_the_database_keeps_finished_and_finished_at_together(dispute, now):
    """Escrow reads an unfinished dispute as one without ``finished_at``: the database
    refuses a row where the two disagree, whoever writes it."""
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.filter(pk=dispute.pk).update(finished_at=now)
    assert Dispute.objects.get(pk=dispute.pk).finished_at is None
