"""Two people acting on the same dispute at the same moment: each case moves exactly once.

Real PostgreSQL (row locks and the concurrent-transition guard are what is under test), two
threads with a connection each, released together by a barrier, many times over on fresh
disputes so that both orders of arrival are exercised.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, DisputeEvent
from disputes.services import DisputeError, DisputeRequest, StaleDispute
from disputes.states import DisputeState, EventKind, OutcomeType, Party, Reason, RequestedOutcome
from tests.factories import make_order, open_dispute

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.usefixtures("require_postgres"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _refunds_stay_pending(monkeypatch):
    """These races are about the dispute; the refunds their outcomes record stay pending
    (sending them is tested in tests/refunds)."""
    monkeypatch.setattr("refunds.services._queue_send", lambda ids: None)


ROUNDS = 20
VIEW_ROUNDS = 10

CLAIM = DisputeRequest(
    received=True,
    reason=Reason.DAMAGED,
    description="The bag arrived torn along the bottom seam.",
    quantity=2,
    requested_outcome=RequestedOutcome.REFUND_ONLY,
    requested_amount=Decimal("20.00"),
)


def race(*actions: Callable[[], Any]) -> list[tuple[bool, Any]]:
    """Run the actions at the same moment, each in its own thread with its own database
    connection; return (succeeded, result or exception) for each, in order."""
    barrier = threading.Barrier(len(actions))
    results: list[tuple[bool, Any]] = [(False, None)] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = (True, action())
        except Exception as exc:
            results[index] = (False, exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, action), daemon=True)
        for i, action in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung (a deadlock?)"
    return results


def fresh_line(alice, bobs_store):
    """A line of a newly shipped order: two canvas bags at 10.00."""
    order = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    return order.lines.get()


def fresh_dispute(alice, bobs_store) -> Dispute:
    return open_dispute(line=fresh_line(alice, bobs_store), buyer=alice, request=CLAIM)


def kinds(dispute: Dispute) -> list[str]:
    return list(
        DisputeEvent.objects.filter(dispute=dispute)
        .order_by("created_at", "id")
        .values_list("kind", flat=True)
    )


def assert_moved_once(dispute: Dispute, *, accept_won: bool) -> None:
    dispute.refresh_from_db()
    if accept_won:
        assert dispute.state == DisputeState.RESOLVED
        assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
            OutcomeType.FULL_REFUND,
            Decimal("20.00"),
            Party.SELLER,
        )
        assert kinds(dispute) == [EventKind.OPENED, EventKind.ACCEPTED, EventKind.RESOLVED]
    else:
        assert dispute.state == DisputeState.WITHDRAWN
        assert (dispute.outcome_type, dispute.outcome_amount, dispute.decided_by) == (
            OutcomeType.WITHDRAWN,
            None,
            Party.BUYER,
        )
        assert kinds(dispute) == [EventKind.OPENED, EventKind.WITHDRAWN]
    assert dispute.next_deadline_at is None
    assert dispute.finished_at is not None


def test_seller_accepting_while_the_buyer_withdraws_moves_the_dispute_once(alice, bob, bobs_store):
    winners: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        dispute = fresh_dispute(alice, bobs_store)
        # Half the rounds carry the revision the page showed (the form's path), half do not
        # (the state machine alone must then refuse the loser).
        revision = dispute.revision if round_ % 2 == 0 else None
        (accepted, accept_result), (withdrew, withdraw_result) = race(
            partial(
                services.dispute_accept, dispute_id=dispute.pk, user=bob, expected_revision=revision
            ),
            partial(
                services.dispute_withdraw,
                dispute_id=dispute.pk,
                user=alice,
                expected_revision=revision,
            ),
        )
        assert accepted != withdrew, (accept_result, withdraw_result)
        loser = withdraw_result if accepted else accept_result
        assert isinstance(loser, StaleDispute), repr(loser)
        assert_moved_once(dispute, accept_won=accepted)
        winners["accept" if accepted else "withdraw"] += 1
    assert sum(winners.values()) == ROUNDS


def test_two_openings_of_the_same_line_make_one_dispute(alice, bobs_store):
    for _ in range(ROUNDS):
        line = fresh_line(alice, bobs_store)
        results = race(
            partial(open_dispute, line=line, buyer=alice, request=CLAIM),
            partial(open_dispute, line=line, buyer=alice, request=CLAIM),
        )
        won = [result for ok, result in results if ok]
        lost = [result for ok, result in results if not ok]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], DisputeError), repr(lost[0])
        assert "already has a dispute" in str(lost[0])
        dispute = Dispute.objects.get(line=line)
        assert dispute.pk == won[0].pk
        assert kinds(dispute) == [EventKind.OPENED]


def test_two_people_posting_at_once_through_the_pages_move_the_dispute_once(alice, bob, bobs_store):
    seller, buyer = Client(), Client()
    seller.force_login(bob)
    buyer.force_login(alice)
    for _ in range(VIEW_ROUNDS):
        dispute = fresh_dispute(alice, bobs_store)
        form = {"revision": dispute.revision}
        (_, accept_response), (_, withdraw_response) = race(
            partial(seller.post, reverse("disputes:accept", args=[dispute.pk]), form),
            partial(buyer.post, reverse("disputes:withdraw", args=[dispute.pk]), form),
        )
        codes = (accept_response.status_code, withdraw_response.status_code)
        assert sorted(codes) == [302, 409], codes
        loser = withdraw_response if codes[0] == 302 else accept_response
        assert "This dispute changed" in loser.content.decode()
        assert_moved_once(dispute, accept_won=codes[0] == 302)
