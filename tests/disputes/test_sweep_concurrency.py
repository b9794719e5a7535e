"""On PostgreSQL: sweepers racing each other, and a seller racing the sweep."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count

from disputes.models import Dispute, DisputeEvent
from disputes.services import DisputeRequest, StaleDispute, dispute_accept, disputes_sweep_due
from disputes.states import DisputeState, EventKind, Party
from tests.disputes.bulk import overdue_disputes
from tests.factories import make_order, open_dispute

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _refunds_stay_pending(monkeypatch):
    """These races are about the dispute; the refunds their outcomes record stay pending
    (sending them is tested in tests/refunds)."""
    monkeypatch.setattr("refunds.services._queue_send", lambda ids: None)


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
    return results


def test_two_sweepers_move_two_thousand_disputes_exactly_once(
    require_postgres, alice, bobs_store, now
):
    ids = overdue_disputes(buyer=alice, store=bobs_store, count=2000, due=now)
    later = now + timedelta(minutes=1)
    first, second = run_together(
        lambda: disputes_sweep_due(now=later, batch_size=100),
        lambda: disputes_sweep_due(now=later, batch_size=100),
    )
    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    assert first.moved + second.moved == 2000
    assert first.moved > 0 and second.moved > 0, "both sweepers should share the backlog"
    assert Dispute.objects.filter(pk__in=ids, state=DisputeState.RESOLVED).count() == 2000
    per_dispute = (
        DisputeEvent.objects.filter(kind=EventKind.DEADLINE_PASSED)
        .values("dispute")
        .annotate(n=Count("id"))
    )
    assert len(per_dispute) == 2000
    assert {row["n"] for row in per_dispute} == {1}
    assert DisputeEvent.objects.filter(kind=EventKind.RESOLVED).count() == 2000


def test_seller_accepting_as_the_sweep_takes_the_dispute_leaves_one_outcome(
    require_postgres, alice, bob, bobs_store, now
):
    winners = {"seller": 0, "deadline": 0}
    for round_ in range(50):
        order = make_order(buyer=alice, store=bobs_store, shipped_at=now - timedelta(days=2))
        dispute = open_dispute(
            line=order.lines.get(),
            buyer=alice,
            request=DisputeRequest(
                received=True,
                reason="damaged",
                description="Cracked in two places on arrival.",
                quantity=1,
                requested_outcome="refund_only",
                requested_amount=Decimal("10.00"),
            ),
            now=now,
        )
        due = dispute.next_deadline_at
        seller, sweep = run_together(
            lambda d=dispute, due=due: dispute_accept(
                dispute_id=d.pk, user=bob, now=due - timedelta(milliseconds=1)
            ),
            lambda due=due: disputes_sweep_due(now=due + timedelta(milliseconds=1)),
        )
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.RESOLVED, round_
        events = list(dispute.events.values_list("kind", flat=True))
        if isinstance(seller, StaleDispute):
            assert sweep.moved == 1
            assert dispute.decided_by == Party.DEADLINE
            assert events == ["opened", "deadline_passed", "resolved"]
            winners["deadline"] += 1
        else:
            assert not isinstance(seller, Exception), seller
            assert sweep.moved == 0
            assert dispute.decided_by == Party.SELLER
            assert events == ["opened", "accepted", "resolved"]
            winners["seller"] += 1
    assert sum(winners.values()) == 50
