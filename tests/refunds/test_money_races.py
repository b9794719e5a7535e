"""On PostgreSQL: money writers racing each other, released together by a barrier.

A dispute's outcome racing the order's completion, two refunds racing for the same line,
and a refund racing the release of its line: whoever wins, the line is released once,
for what is left of it, and the sums hold (``money_invariants``).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from disputes.services import DisputeRequest, dispute_accept, dispute_propose
from disputes.states import DisputeState, OutcomeType
from orders.models import Order, OrderLine
from orders.services import order_confirm_receipt
from orders.states import OrderState
from refunds.models import Payout, PayoutKind, Refund
from refunds.services import RefundError, RefundRequest, refund_create, refunds_create
from tests.factories import DRESS_LINES, make_order, open_dispute
from tests.refunds.money_invariants import check_money

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

D = Decimal
DAY = timedelta(days=1)


def run_together(*jobs):
    """Run each job in its own thread and connection, released by one barrier."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # the test inspects what each side got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    return results


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Refunds are recorded, not sent: these races are about the sums."""
    monkeypatch.setattr("refunds.services._queue_send", lambda ids: None)


def disputed_order(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 3 * DAY)
    red, blue = order.lines.order_by("pk")
    dispute = open_dispute(
        line=blue,
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason="not_as_described",
            description="Wrong colour: the dress is green, not blue.",
            quantity=1,
            requested_outcome="refund_only",
            requested_amount=D("45.00"),
        ),
        now=now,
    )
    return order, red, blue, dispute


def test_an_outcome_racing_the_order_completion_releases_the_line_once(
    require_postgres, alice, bob, bobs_store, now
):
    for round_ in range(20):
        order, red, blue, dispute = disputed_order(alice, bobs_store, now)
        if round_ % 2:
            # The seller offers 15.00; the buyer accepts it as she confirms receipt.
            dispute_propose(
                dispute_id=dispute.pk,
                user=bob,
                outcome=OutcomeType.PARTIAL_REFUND,
                amount=D("15.00"),
                note="A discount.",
                now=now + DAY,
            )
            accepter, refunded = alice, D("15.00")
        else:
            # The seller accepts the full refund as the buyer confirms receipt.
            accepter, refunded = bob, D("45.00")
        outcome, completion = run_together(
            lambda d=dispute, u=accepter: dispute_accept(
                dispute_id=d.pk, user=u, now=now + 2 * DAY
            ),
            lambda o=order: order_confirm_receipt(order=o, buyer=alice, now=now + 2 * DAY),
        )
        assert not isinstance(outcome, Exception), (round_, outcome)
        assert not isinstance(completion, Exception), (round_, completion)
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.RESOLVED, round_
        assert Order.objects.get(pk=order.pk).state == OrderState.COMPLETED
        (refund,) = Refund.objects.filter(dispute=dispute)
        assert refund.amount == refunded
        # Each line released exactly once: the red dress in full, the blue one less its
        # refund, whichever side took the order's lock first.
        (red_release,) = Payout.objects.filter(line=red, kind=PayoutKind.RELEASE)
        (blue_release,) = Payout.objects.filter(line=blue, kind=PayoutKind.RELEASE)
        assert red_release.amount == D("45.00")
        assert blue_release.amount == D("45.00") - refunded, round_
        assert not Payout.objects.filter(order=order, kind=PayoutKind.CLAWBACK).exists()
        check_money([order.pk])
        blue.refresh_from_db()
        assert (blue.refunded_total, blue.paid_out_total) == (refunded, D("45.00") - refunded)


def test_two_refunds_of_one_line_above_what_was_paid_one_succeeds(
    require_postgres, alice, bobs_store, now
):
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES)
    lines = list(order.lines.order_by("pk"))
    for round_, line in enumerate(lines):
        results = run_together(
            lambda ln=line: refund_create(line=ln, amount=D("30.00"), reason="first"),
            lambda ln=line: refunds_create(
                requests=[RefundRequest(ln.pk, D("30.00"), "second")], now=now
            ),
        )
        failures = [r for r in results if isinstance(r, Exception)]
        assert len(failures) == 1, (round_, results)
        assert isinstance(failures[0], RefundError), failures[0]
        assert OrderLine.objects.get(pk=line.pk).refunded_total == D("30.00")
        assert Refund.objects.filter(line=line).count() == 1
        check_money([order.pk])
    # Whatever is left can still be refunded, to the cent, and no more.
    for line in lines:
        refund_create(line=line, amount=D("15.00"), reason="the rest")
        with pytest.raises(RefundError):
            refund_create(line=line, amount=D("0.01"), reason="too much")
    order.refresh_from_db()
    assert order.refunded_total == order.total_paid == D("90.00")
    check_money([order.pk])


def test_a_refund_racing_the_release_of_its_line_never_pays_out_twice(
    require_postgres, alice, bobs_store, now
):
    """A post-close refund taken back from the payout, or the payout made less the refund:
    either way, refunds plus payouts stay what the buyer paid."""
    for round_ in range(10):
        order = make_order(
            buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 3 * DAY
        )
        red = order.lines.order_by("pk").first()
        refund, completion = run_together(
            lambda ln=red: refund_create(line=ln, amount=D("20.00"), reason="goodwill"),
            lambda o=order: order_confirm_receipt(order=o, buyer=alice, now=now),
        )
        assert not isinstance(refund, Exception), (round_, refund)
        assert not isinstance(completion, Exception), (round_, completion)
        red.refresh_from_db()
        assert (red.refunded_total, red.paid_out_total) == (D("20.00"), D("25.00")), round_
        (release,) = Payout.objects.filter(line=red, kind=PayoutKind.RELEASE)
        clawbacks = list(Payout.objects.filter(line=red, kind=PayoutKind.CLAWBACK))
        # Released in full then 20.00 taken back, or released less the 20.00.
        assert (release.amount, [c.amount for c in clawbacks]) in [
            (D("45.00"), [D("-20.00")]),
            (D("25.00"), []),
        ], round_
        check_money([order.pk])
