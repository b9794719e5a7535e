"""Every outcome taking effect end to end, clocks included.

Each test drives the real services and the real deadline sweep: a dispute is opened on
the demo two-dress order, an outcome is agreed, time passes, and the money (refunds in
the simulated gateway's ledger, escrow payouts, coupons) ends where the SPEC says.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from disputes.models import Dispute
from disputes.services import (
    DeadlinePassed,
    DisputeError,
    DisputeRequest,
    StaleDispute,
    dispute_accept,
    dispute_confirm_replacement,
    dispute_confirm_return,
    dispute_propose,
    dispute_replacement_not_arrived,
    dispute_ship_replacement,
    dispute_ship_return,
    dispute_withdraw,
    disputes_sweep_due,
)
from disputes.states import Closing, DeadlineKind, DisputeState, EventKind, OutcomeType, Reason
from orders.models import Order, OrderLine
from orders.services import order_complete_expired, order_confirm_receipt
from refunds.models import Coupon, GatewayCall, Payout, PayoutKind, Refund, RefundState
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db(transaction=False)

DAY = timedelta(days=1)
D = Decimal


@pytest.fixture
def order(alice, bobs_store, now):
    """Two dresses at 45.00, shipped a week ago, protection 60 days."""
    return make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 7 * DAY)


@pytest.fixture
def blue(order):
    return order.lines.order_by("id")[1]


FULL = D("45.00")


def open_on(line, buyer, at, *, wants_return=False, amount=FULL):
    return open_dispute(
        line=line,
        buyer=buyer,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="Wrong colour: the dress is green, not blue.",
            quantity=1,
            requested_outcome="return_and_refund" if wants_return else "refund_only",
            requested_amount=amount,
        ),
        now=at,
    )


def money(order_id):
    """(refunded, paid out, held) for the order, re-read from the database."""
    order = Order.objects.get(pk=order_id)
    return order.refunded_total, order.paid_out_total, order.held_in_escrow


def refunds_of(dispute):
    return list(Refund.objects.filter(dispute=dispute).order_by("id"))


def sweep(at):
    return disputes_sweep_due(now=at)


def test_a_partial_refund_is_recorded_and_sent_once_with_the_agreement(
    order, blue, alice, bob, now, django_capture_on_commit_callbacks
):
    dispute = open_on(blue, alice, now)
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("15.00"),
        note="A discount for the colour.",
        now=now + DAY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * DAY)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    (refund,) = refunds_of(dispute)
    assert (refund.amount, refund.method, refund.state) == (D("15.00"), "card", RefundState.SENT)
    assert GatewayCall.objects.filter(idempotency_key=refund.idempotency_key).count() == 1
    assert OrderLine.objects.get(pk=blue.pk).refunded_total == D("15.00")
    # The order is not completed: nothing leaves escrow yet.
    assert money(order.pk) == (D("15.00"), D("0.00"), D("75.00"))
    kinds = list(dispute.events.values_list("kind", flat=True))
    assert kinds.count(EventKind.REFUND_SENT) == 1


def test_seller_silence_grants_the_full_refund_through_the_sweep(order, blue, alice, now):
    dispute = open_on(blue, alice, now)
    assert sweep(now + 5 * DAY - timedelta(seconds=1)).moved == 0
    assert sweep(now + 5 * DAY).moved == 1
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing, dispute.decided_by) == (
        DisputeState.RESOLVED,
        Closing.REFUNDED,
        "deadline",
    )
    (refund,) = refunds_of(dispute)
    assert refund.amount == D("45.00")
    assert sweep(now + 6 * DAY).moved == 0  # a second sweep moves nothing more
    assert len(refunds_of(dispute)) == 1


def test_escrow_undisputed_line_paid_at_completion_disputed_one_when_settled(
    order, blue, alice, bob, now
):
    red = order.lines.order_by("id")[0]
    dispute = open_on(blue, alice, now)
    order_confirm_receipt(order=order, buyer=alice, now=now + DAY)
    # The red dress is paid out; the disputed blue one is held.
    assert money(order.pk) == (D("0.00"), D("45.00"), D("45.00"))
    assert Payout.objects.get(line=red).amount == D("45.00")
    assert not Payout.objects.filter(line=blue).exists()
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=D("20.00"),
        now=now + 2 * DAY,
    )
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 3 * DAY)
    # Settled: 20.00 back to the buyer, the other 25.00 to the seller.
    assert money(order.pk) == (D("20.00"), D("70.00"), D("0.00"))
    release = Payout.objects.get(line=blue, kind=PayoutKind.RELEASE)
    assert release.amount == D("25.00")


def test_a_dispute_settled_before_completion_is_paid_out_at_completion(
    order, blue, alice, bob, now
):
    dispute = open_on(blue, alice, now)
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + DAY)  # full refund
    assert money(order.pk) == (D("45.00"), D("0.00"), D("45.00"))
    order_complete_expired(order_id=order.pk, now=order.protection_ends_at)
    assert money(order.pk) == (D("45.00"), D("45.00"), D("0.00"))
    # The refunded blue dress is settled with a zero payout; it is never paid again.
    assert Payout.objects.get(line=blue).amount == D("0.00")


def test_a_post_close_refund_is_taken_back_from_the_seller_payout(order, blue, alice, bob, now):
    order_confirm_receipt(order=order, buyer=alice, now=now)
    assert money(order.pk) == (D("0.00"), D("90.00"), D("0.00"))
    dispute = open_on(blue, alice, now + 3 * DAY)  # within the 15-day post-close window
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + 4 * DAY)
    assert money(order.pk) == (D("45.00"), D("45.00"), D("0.00"))
    clawback = Payout.objects.get(line=blue, kind=PayoutKind.CLAWBACK)
    assert clawback.amount == D("-45.00")
    assert clawback.refund == refunds_of(dispute)[0]


def test_withdrawal_releases_the_line_to_the_seller(order, blue, alice, now):
    dispute = open_on(blue, alice, now)
    order_confirm_receipt(order=order, buyer=alice, now=now + DAY)
    dispute_withdraw(dispute_id=dispute.pk, user=alice, now=now + 2 * DAY)
    assert money(order.pk) == (D("0.00"), D("90.00"), D("0.00"))


# --- return, then refund ------------------------------------------------------------------
@pytest.fixture
def return_agreed(order, blue, alice, bob, now):
    dispute = open_on(blue, alice, now, wants_return=True)
    dispute_accept(dispute_id=dispute.pk, user=bob, now=now + DAY)
    dispute.refresh_from_db()
    return dispute


def test_an_agreed_return_gives_the_buyer_ten_days_to_ship(return_agreed, now):
    dispute = return_agreed
    assert dispute.state == DisputeState.AWAITING_RETURN
    assert dispute.deadline_kind == DeadlineKind.RETURN_SHIPMENT
    assert dispute.next_deadline_at == now + DAY + 10 * DAY
    assert not refunds_of(dispute)


def test_return_shipped_then_confirmed_refunds(return_agreed, alice, bob, now):
    dispute = return_agreed
    dispute_ship_return(
        dispute_id=dispute.pk,
        user=alice,
        carrier="China Post",
        tracking="rr 123 cn",
        now=now + 3 * DAY,
    )
    dispute.refresh_from_db()
    assert (dispute.return_tracking, dispute.deadline_kind) == ("RR 123 CN", "return_receipt")
    assert dispute.next_deadline_at == now + 13 * DAY
    dispute_confirm_return(dispute_id=dispute.pk, user=bob, now=now + 8 * DAY)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.RETURNED_REFUNDED)
    assert [r.amount for r in refunds_of(dispute)] == [D("45.00")]


def test_return_shipped_and_seller_silent_refunds_by_itself(return_agreed, alice, now):
    dispute = return_agreed
    dispute_ship_return(
        dispute_id=dispute.pk, user=alice, carrier="DHL", tracking="JD0001", now=now + 2 * DAY
    )
    assert sweep(now + 12 * DAY - timedelta(seconds=1)).moved == 0
    assert sweep(now + 12 * DAY).moved == 1
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.RETURNED_REFUNDED)
    assert [r.amount for r in refunds_of(dispute)] == [D("45.00")]


def test_return_not_shipped_lapses_without_refund(return_agreed, order, bob, now):
    dispute = return_agreed
    assert sweep(now + 11 * DAY).moved == 1
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.RETURN_LAPSED)
    assert not refunds_of(dispute)
    # Too late to ship now.
    with pytest.raises(StaleDispute):
        dispute_ship_return(
            dispute_id=dispute.pk,
            user=dispute.buyer,
            carrier="DHL",
            tracking="X1",
            now=now + 12 * DAY,
        )


def test_the_seller_cannot_confirm_a_return_that_was_not_shipped(return_agreed, bob, now):
    with pytest.raises(StaleDispute):
        dispute_confirm_return(dispute_id=return_agreed.pk, user=bob, now=now + 2 * DAY)


def test_shipping_the_return_after_its_deadline_is_too_late(return_agreed, alice, now):
    with pytest.raises(DeadlinePassed):
        dispute_ship_return(
            dispute_id=return_agreed.pk,
            user=alice,
            carrier="DHL",
            tracking="X1",
            now=now + 11 * DAY,
        )


@pytest.mark.parametrize(
    ("carrier", "tracking", "field"),
    [("", "RR1", "carrier"), ("DHL", "", "tracking"), ("DHL", "РР123", "tracking")],
)
def test_a_return_needs_a_carrier_and_a_latin_tracking_number(
    return_agreed, alice, now, carrier, tracking, field
):
    with pytest.raises(DisputeError) as info:
        dispute_ship_return(
            dispute_id=return_agreed.pk,
            user=alice,
            carrier=carrier,
            tracking=tracking,
            now=now + 2 * DAY,
        )
    assert info.value.field == field


# --- replacement --------------------------------------------------------------------------
@pytest.fixture
def replacement_agreed(order, blue, alice, bob, now):
    dispute = open_on(blue, alice, now, amount=D("30.00"))
    dispute_propose(dispute_id=dispute.pk, user=bob, outcome=OutcomeType.REPLACEMENT, now=now + DAY)
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * DAY)
    dispute.refresh_from_db()
    return dispute


def test_an_agreed_replacement_gives_the_seller_seven_days(replacement_agreed, now):
    dispute = replacement_agreed
    assert (dispute.state, dispute.deadline_kind) == (
        DisputeState.AWAITING_REPLACEMENT,
        DeadlineKind.REPLACEMENT_SHIPMENT,
    )
    assert dispute.next_deadline_at == now + 9 * DAY


def test_replacement_not_shipped_grants_the_original_request(replacement_agreed, now):
    assert sweep(now + 9 * DAY).moved == 1
    dispute = Dispute.objects.get(pk=replacement_agreed.pk)
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert (dispute.outcome_type, dispute.outcome_amount) == (
        OutcomeType.PARTIAL_REFUND,
        D("30.00"),
    )
    assert [r.amount for r in refunds_of(dispute)] == [D("30.00")]


def test_replacement_shipped_and_received_resolves_without_money(
    replacement_agreed, order, alice, bob, now
):
    dispute = replacement_agreed
    dispute_ship_replacement(
        dispute_id=dispute.pk, user=bob, carrier="EMS", tracking="EE1", now=now + 4 * DAY
    )
    dispute.refresh_from_db()
    # The replacement has a protection period of its own, as long as the order's.
    assert dispute.deadline_kind == DeadlineKind.REPLACEMENT_ARRIVAL
    assert dispute.next_deadline_at == now + 4 * DAY + 60 * DAY
    dispute_confirm_replacement(dispute_id=dispute.pk, user=alice, now=now + 20 * DAY)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REPLACED)
    assert not refunds_of(dispute)


def test_a_replacement_keeps_protection_after_the_order_protection_ends(
    replacement_agreed, order, alice, bob, now
):
    dispute = replacement_agreed
    dispute_ship_replacement(
        dispute_id=dispute.pk, user=bob, carrier="EMS", tracking="EE1", now=now + 8 * DAY
    )
    # The order's own protection runs out and the order completes...
    order_complete_expired(order_id=order.pk, now=order.protection_ends_at)
    assert Order.objects.get(pk=order.pk).state == "completed"
    # ...but the buyer can still report that the replacement never came.
    dispute_replacement_not_arrived(
        dispute_id=dispute.pk, user=alice, now=order.protection_ends_at + 5 * DAY
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REFUNDED)
    assert [r.amount for r in refunds_of(dispute)] == [D("30.00")]
    # Escrow: the red dress was paid at completion, the blue one now, less the refund.
    assert money(order.pk) == (D("30.00"), D("60.00"), D("0.00"))


def test_replacement_protection_ending_in_silence_counts_as_delivered(replacement_agreed, bob, now):
    dispute = replacement_agreed
    dispute_ship_replacement(
        dispute_id=dispute.pk, user=bob, carrier="EMS", tracking="EE1", now=now + 3 * DAY
    )
    assert sweep(now + 63 * DAY).moved == 1
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REPLACED)


def test_the_buyer_cannot_report_non_arrival_before_it_ships(replacement_agreed, alice, now):
    with pytest.raises(StaleDispute):
        dispute_replacement_not_arrived(
            dispute_id=replacement_agreed.pk, user=alice, now=now + 3 * DAY
        )


def test_only_the_seller_ships_a_replacement(replacement_agreed, alice, carol, now):
    for person in (alice, carol):
        with pytest.raises(DisputeError):
            dispute_ship_replacement(
                dispute_id=replacement_agreed.pk,
                user=person,
                carrier="EMS",
                tracking="E1",
                now=now + 3 * DAY,
            )


# --- coupon -------------------------------------------------------------------------------
def test_a_coupon_outcome_issues_a_code_for_the_same_store(order, blue, alice, bob, now):
    dispute = open_on(blue, alice, now)
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.COUPON,
        amount=D("12.50"),
        now=now + DAY,
    )
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * DAY)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.COUPON)
    coupon = Coupon.objects.get(dispute=dispute)
    assert (coupon.value, coupon.store_id, coupon.buyer_id) == (
        D("12.50"),
        order.store_id,
        alice.pk,
    )
    assert coupon.expires_at == now + 2 * DAY + timedelta(days=90)
    assert len(coupon.code) == 14 and coupon.code.count("-") == 2
    assert not refunds_of(dispute)


def test_a_rejection_accepted_ends_without_money(order, blue, alice, bob, now):
    dispute = open_on(blue, alice, now)
    dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.REJECTED,
        note="The colour matches the listing photo.",
        now=now + DAY,
    )
    dispute_accept(dispute_id=dispute.pk, user=alice, now=now + 2 * DAY)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.closing) == (DisputeState.RESOLVED, Closing.REJECTED)
    assert not refunds_of(dispute)
