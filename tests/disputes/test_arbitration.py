"""Arbitration through the services and the sweep: escalation clocks, rulings, replies,
the final second ruling, evidence requests and reminders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from disputes.models import Dispute, EvidenceRequest
from disputes.services import (
    DeadlinePassed,
    DisputeError,
    DisputeRequest,
    StaleDispute,
    dispute_add_evidence,
    dispute_assign,
    dispute_open,
    dispute_propose,
    dispute_reply_ruling,
    dispute_request_evidence,
    dispute_rule,
    disputes_send_reminders,
    disputes_sweep_due,
)
from disputes.states import (
    Closing,
    DeadlineKind,
    DisputeState,
    EventKind,
    OutcomeType,
    Party,
    Reason,
    ReminderKind,
    Reply,
)
from refunds.models import Refund
from tests.factories import DRESS_LINES, UserFactory, make_arbitrator, make_order, photo

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
D = Decimal


def claim(amount="45.00", outcome="refund_only"):
    return DisputeRequest(
        received=True,
        reason=Reason.NOT_AS_DESCRIBED,
        description="The dress is orange, not red as in the listing.",
        quantity=1,
        requested_outcome=outcome,
        requested_amount=D(amount),
    )


@pytest.fixture
def opened(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 3 * DAY)
    return dispute_open(
        line=order.lines.first(), buyer=alice, request=claim(), files=[photo()], now=now
    ).dispute


@pytest.fixture
def escalated(opened, bob, now):
    dispute_propose(
        dispute_id=opened.pk,
        user=bob,
        outcome=OutcomeType.REJECTED,
        note="It is red.",
        now=now + DAY,
    )
    assert disputes_sweep_due(now=now + 8 * DAY).moved == 1
    return Dispute.objects.get(pk=opened.pk)


@pytest.fixture
def clerk(db):
    """Staff who may read disputes but not rule."""
    return UserFactory(username="clerk", is_staff=True)


def events(dispute, kind):
    return list(dispute.events.filter(kind=kind))


def test_escalation_starts_the_arbitration_clocks(escalated, now):
    at = now + 8 * DAY
    assert escalated.state == DisputeState.ESCALATED
    assert escalated.escalated_at == at
    assert escalated.arbitration_target_at == at + 15 * DAY
    assert escalated.arbitration_limit_at == at + 60 * DAY
    assert (escalated.deadline_kind, escalated.next_deadline_at) == (
        DeadlineKind.ARBITRATION_LIMIT,
        at + 60 * DAY,
    )
    assert (escalated.reminder_kind, escalated.reminder_at) == (
        ReminderKind.ARBITRATION_TARGET,
        at + 13 * DAY,
    )


def test_arbitrators_are_reminded_before_the_target_once(escalated, sam, now):
    at = now + 8 * DAY
    assert disputes_send_reminders(now=at + 13 * DAY - timedelta(seconds=1)) == 0
    assert disputes_send_reminders(now=at + 13 * DAY) == 1
    assert disputes_send_reminders(now=at + 14 * DAY) == 0
    (event,) = events(escalated, EventKind.REMINDER)
    assert event.data["reminder"] == ReminderKind.ARBITRATION_TARGET
    # Nobody has the case yet: every arbitrator hears of it.
    assert list(event.notifications.values_list("recipient", flat=True)) == [sam.pk]


def test_the_sixty_day_limit_marks_the_case_late_without_stopping_a_ruling(escalated, sam, now):
    at = now + 8 * DAY
    dispute_assign(dispute_id=escalated.pk, user=sam, assignee=sam, now=at + DAY)
    assert disputes_sweep_due(now=at + 60 * DAY).moved == 1
    dispute = Dispute.objects.get(pk=escalated.pk)
    assert dispute.state == DisputeState.ESCALATED and dispute.next_deadline_at is None
    (late,) = events(dispute, EventKind.ARBITRATION_LATE)
    assert list(late.notifications.values_list("recipient", flat=True)) == [sam.pk]
    dispute_rule(
        dispute_id=dispute.pk,
        user=sam,
        outcome=OutcomeType.FULL_REFUND,
        reason="The photos show an orange dress.",
        now=at + 61 * DAY,
    )
    assert Dispute.objects.get(pk=dispute.pk).state == DisputeState.RULED


def test_only_arbitrators_rule(escalated, alice, bob, clerk, now):
    for person in (alice, bob, clerk):
        with pytest.raises(DisputeError):
            dispute_rule(
                dispute_id=escalated.pk,
                user=person,
                outcome=OutcomeType.FULL_REFUND,
                reason="The photos show an orange dress.",
                now=now + 9 * DAY,
            )
    assert Dispute.objects.get(pk=escalated.pk).state == DisputeState.ESCALATED


@pytest.mark.parametrize(
    ("outcome", "amount", "field"),
    [
        ("coupon", "5.00", "outcome"),
        ("partial_refund", "45.01", "amount"),
        ("partial_refund", None, "amount"),
        ("partial_refund", "0.001", "amount"),
    ],
)
def test_a_ruling_outside_the_rules_is_refused(escalated, sam, now, outcome, amount, field):
    with pytest.raises(DisputeError) as info:
        dispute_rule(
            dispute_id=escalated.pk,
            user=sam,
            outcome=outcome,
            amount=None if amount is None else D(amount),
            reason="Reasons both sides will read.",
            now=now + 9 * DAY,
        )
    assert info.value.field == field


def test_a_ruling_needs_reasons(escalated, sam, now):
    with pytest.raises(DisputeError) as info:
        dispute_rule(
            dispute_id=escalated.pk,
            user=sam,
            outcome=OutcomeType.REJECTED,
            reason=" ",
            now=now + 9 * DAY,
        )
    assert info.value.field == "reason"


@pytest.fixture
def ruled(escalated, sam, now):
    dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("20.00"),
        reason="The colour differs; half the price back.",
        now=now + 9 * DAY,
    )
    return Dispute.objects.get(pk=escalated.pk)


def test_a_ruling_waits_five_days_for_replies(ruled, sam, now):
    assert ruled.state == DisputeState.RULED
    assert (ruled.ruling_type, ruled.ruling_amount, ruled.ruling_round) == (
        OutcomeType.PARTIAL_REFUND,
        D("20.00"),
        1,
    )
    assert ruled.assignee == sam and ruled.ruled_by == sam
    assert (ruled.deadline_kind, ruled.next_deadline_at) == (
        DeadlineKind.RULING_REPLY,
        now + 14 * DAY,
    )
    assert not Refund.objects.filter(dispute=ruled).exists()


def test_both_agree_and_the_ruling_takes_effect(ruled, alice, bob, now):
    dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True, now=now + 10 * DAY)
    assert Dispute.objects.get(pk=ruled.pk).state == DisputeState.RULED
    with pytest.raises(DisputeError):  # once each
        dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True, now=now + 10 * DAY)
    dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=True, now=now + 11 * DAY)
    dispute = Dispute.objects.get(pk=ruled.pk)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
        OutcomeType.PARTIAL_REFUND,
        D("20.00"),
        Party.STAFF,
    )
    assert [r.amount for r in Refund.objects.filter(dispute=dispute)] == [D("20.00")]


def test_silence_counts_as_agreement(ruled, alice, now):
    dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True, now=now + 10 * DAY)
    assert disputes_sweep_due(now=now + 14 * DAY - timedelta(seconds=1)).moved == 0
    assert disputes_sweep_due(now=now + 14 * DAY).moved == 1
    dispute = Dispute.objects.get(pk=ruled.pk)
    # The seller's silence counts as agreement, but is recorded as what it was: no reply.
    assert (dispute.buyer_reply, dispute.seller_reply) == (Reply.AGREE, "")
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    with pytest.raises(StaleDispute):
        dispute_reply_ruling(
            dispute_id=ruled.pk,
            user=dispute.store.owner,
            agree=False,
            reason="Too late to object now.",
            now=now + 15 * DAY,
        )


def test_replying_after_five_days_is_too_late(ruled, bob, now):
    with pytest.raises(DeadlinePassed):
        dispute_reply_ruling(
            dispute_id=ruled.pk,
            user=bob,
            agree=False,
            reason="I object to this ruling.",
            now=now + 14 * DAY,
        )


def test_an_objection_returns_the_case_and_the_second_ruling_is_final(ruled, alice, bob, sam, now):
    with pytest.raises(DisputeError) as info:
        dispute_reply_ruling(dispute_id=ruled.pk, user=bob, agree=False, reason="no", now=now)
    assert info.value.field == "reason"
    dispute_reply_ruling(
        dispute_id=ruled.pk,
        user=bob,
        agree=False,
        reason="The label photo shows the colour is right.",
        files=[photo("label.jpg")],
        now=now + 10 * DAY,
    )
    dispute = Dispute.objects.get(pk=ruled.pk)
    assert dispute.state == DisputeState.ESCALATED and dispute.seller_reply == Reply.OBJECT
    assert dispute.assignee == sam
    assert dispute.evidence.filter(party=Party.SELLER).count() == 1
    # The other side can no longer reply: the case is with the arbitrator again.
    with pytest.raises(StaleDispute):
        dispute_reply_ruling(dispute_id=ruled.pk, user=alice, agree=True, now=now + 10 * DAY)
    dispute_rule(
        dispute_id=ruled.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("10.00"),
        reason="Having seen the label, a smaller refund.",
        now=now + 12 * DAY,
    )
    dispute = Dispute.objects.get(pk=ruled.pk)
    assert dispute.ruling_round == 2
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert [r.amount for r in Refund.objects.filter(dispute=dispute)] == [D("10.00")]
    (final,) = [e for e in events(dispute, EventKind.RULED) if e.data["final"]]
    assert final.data["round"] == 2


def test_a_rejection_ruled_and_agreed_ends_without_money(escalated, alice, bob, sam, now):
    dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.REJECTED,
        reason="The dress matches the listing photos.",
        now=now + 9 * DAY,
    )
    for person in (alice, bob):
        dispute_reply_ruling(dispute_id=escalated.pk, user=person, agree=True, now=now + 10 * DAY)
    dispute = Dispute.objects.get(pk=escalated.pk)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REJECTED)
    assert not Refund.objects.filter(dispute=dispute).exists()


def test_a_return_ruling_starts_the_return_clock(escalated, alice, bob, sam, now):
    dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.RETURN_AND_REFUND,
        reason="Send it back and get the full price.",
        now=now + 9 * DAY,
    )
    for person in (alice, bob):
        dispute_reply_ruling(dispute_id=escalated.pk, user=person, agree=True, now=now + 10 * DAY)
    dispute = Dispute.objects.get(pk=escalated.pk)
    assert (dispute.state, dispute.deadline_kind) == (
        DisputeState.AWAITING_RETURN,
        DeadlineKind.RETURN_SHIPMENT,
    )
    assert dispute.outcome_amount == D("45.00")
    # The buyer is reminded the day before the return is due.
    assert dispute.reminder_kind == ReminderKind.RETURN_SHIPMENT
    assert dispute.reminder_at == now + 19 * DAY


def test_assignment_only_to_arbitrators(escalated, sam, clerk, now):
    other = make_arbitrator("tess")
    dispute_assign(dispute_id=escalated.pk, user=sam, assignee=other, now=now + 9 * DAY)
    assert Dispute.objects.get(pk=escalated.pk).assignee == other
    (event,) = events(escalated, EventKind.ASSIGNED)
    assert list(event.notifications.values_list("recipient", flat=True)) == [other.pk]
    with pytest.raises(DisputeError):
        dispute_assign(dispute_id=escalated.pk, user=sam, assignee=clerk, now=now + 9 * DAY)
    with pytest.raises(DisputeError):
        dispute_assign(dispute_id=escalated.pk, user=clerk, assignee=sam, now=now + 9 * DAY)


def test_an_evidence_request_is_answered_by_the_side_asked(escalated, alice, bob, sam, now):
    request = dispute_request_evidence(
        dispute_id=escalated.pk,
        user=sam,
        party=Party.SELLER,
        note="Please send a photo of the label and the packing slip.",
        days=3,
        now=now + 9 * DAY,
    )
    assert request.due_at == now + 12 * DAY
    (event,) = events(escalated, EventKind.EVIDENCE_REQUESTED)
    assert list(event.notifications.values_list("recipient", flat=True)) == [bob.pk]
    dispute_add_evidence(dispute_id=escalated.pk, user=alice, files=[photo()], now=now + 10 * DAY)
    assert EvidenceRequest.objects.get(pk=request.pk).answered_at is None
    dispute_add_evidence(dispute_id=escalated.pk, user=bob, files=[photo()], now=now + 10 * DAY)
    assert EvidenceRequest.objects.get(pk=request.pk).answered_at == now + 10 * DAY


def test_the_seller_is_reminded_a_day_before_the_five_day_answer(opened, bob, now):
    assert (opened.reminder_kind, opened.reminder_at) == (
        ReminderKind.SELLER_RESPONSE,
        now + 4 * DAY,
    )
    assert disputes_send_reminders(now=now + 4 * DAY) == 1
    (event,) = events(opened, EventKind.REMINDER)
    assert list(event.notifications.values_list("recipient", flat=True)) == [bob.pk]
    assert disputes_send_reminders(now=now + 5 * DAY) == 0


def test_an_answer_before_the_reminder_cancels_it(opened, bob, now):
    dispute_propose(
        dispute_id=opened.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("10.00"),
        now=now + DAY,
    )
    assert Dispute.objects.get(pk=opened.pk).reminder_at is None
    assert disputes_send_reminders(now=now + 4 * DAY) == 0


def test_an_arbitrator_never_rules_on_a_dispute_of_their_own(alice, bobs_store, now):
    """An arbitrator who bought on the marketplace cannot rule on their own claim."""
    from django.contrib.auth.models import Group

    from accounts.roles import ARBITRATORS

    alice.is_staff = True
    alice.save()
    alice.groups.add(Group.objects.get(name=ARBITRATORS))
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - DAY)
    dispute = dispute_open(
        line=order.lines.first(), buyer=alice, request=claim(), files=[photo()], now=now
    ).dispute
    dispute_propose(
        dispute_id=dispute.pk,
        user=bobs_store.owner,
        outcome=OutcomeType.REJECTED,
        note="It is red.",
        now=now + DAY,
    )
    disputes_sweep_due(now=now + 8 * DAY)
    with pytest.raises(DisputeError):
        dispute_rule(
            dispute_id=dispute.pk,
            user=Dispute.objects.get(pk=dispute.pk).buyer,
            outcome=OutcomeType.FULL_REFUND,
            reason="A full refund for myself.",
            now=now + 9 * DAY,
        )


def test_an_objection_after_the_limit_does_not_raise_the_alarm_again(escalated, bob, sam, now):
    at = now + 8 * DAY
    assert disputes_sweep_due(now=at + 60 * DAY).moved == 1  # marked late once
    dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.REJECTED,
        reason="The listing photos match the dress.",
        now=at + 61 * DAY,
    )
    dispute_reply_ruling(
        dispute_id=escalated.pk,
        user=escalated.buyer,
        agree=False,
        reason="The colour is plainly different.",
        now=at + 62 * DAY,
    )
    dispute = Dispute.objects.get(pk=escalated.pk)
    assert dispute.state == DisputeState.ESCALATED and dispute.next_deadline_at is None
    assert disputes_sweep_due(now=at + 63 * DAY).moved == 0
    assert len(events(dispute, EventKind.ARBITRATION_LATE)) == 1
