"""With Redis stopped, an arbitrator's ruling still commits; its mails wait in the outbox and
go out, once, when Redis is back and the periodic resend runs on a real worker."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from disputes import services
from disputes.models import Dispute, Notification
from disputes.notifications import notifications_deliver
from disputes.services import DisputeRequest, dispute_rule, disputes_sweep_due
from disputes.states import DisputeState, EventKind, OutcomeType, Reason, RequestedOutcome
from portal.celery import app
from tests.disputes.test_celery_delivery import (
    reset_pool,
    send,
    wait_for,
)
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


@pytest.fixture
def escalated(alice, bob, bobs_store, mailoutbox):
    """Alice's dispute, escalated after a week without agreement (mails sent inline)."""
    start = timezone.now() - timedelta(days=9)
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=start - timedelta(days=2)
    )
    dispute = open_dispute(
        line=order.lines.order_by("id")[0],
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason=Reason.NOT_AS_DESCRIBED,
            description="The dress is orange, not red as in the listing photos.",
            quantity=1,
            requested_outcome=RequestedOutcome.REFUND_ONLY,
            requested_amount=Decimal("45.00"),
        ),
        now=start,
    )
    services.dispute_propose(
        dispute_id=dispute.pk,
        user=bob,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("10.00"),
        now=start + timedelta(hours=1),
    )
    due = Dispute.objects.get(pk=dispute.pk).next_deadline_at
    disputes_sweep_due(now=due + timedelta(minutes=1))
    # Deliver whatever the setup left: an earlier in-process worker may leave Celery rewired.
    notifications_deliver()
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    mailoutbox.clear()
    return Dispute.objects.get(pk=dispute.pk)


@pytest.fixture
def broker_on_private_redis(private_redis, settings):
    saved = (app.conf.broker_url, app.conf.task_always_eager, app.conf.task_publish_retry)
    app.conf.broker_url = private_redis["url"]
    app.conf.task_always_eager = False
    app.conf.broker_transport_options = {"max_retries": 1, "interval_start": 0}
    app.conf.task_publish_retry = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    reset_pool()
    yield private_redis
    app.conf.broker_url, app.conf.task_always_eager, app.conf.task_publish_retry = saved
    app.conf.broker_transport_options = {}
    reset_pool()


def test_a_ruling_commits_with_redis_down_and_its_mails_go_out_once_it_is_back(
    escalated, broker_on_private_redis, sam, alice, bob, mailoutbox
):
    from celery.contrib.testing.worker import start_worker

    redis = broker_on_private_redis
    redis["proc"].terminate()
    redis["proc"].wait(10)

    dispute_rule(
        dispute_id=escalated.pk,
        user=sam,
        outcome=OutcomeType.PARTIAL_REFUND,
        amount=Decimal("20.00"),
        reason="The photos show the colour differs; half of the price is fair.",
    )

    # The ruling stands, whole: state, event and outbox rows, and no mail yet.
    ruled = Dispute.objects.get(pk=escalated.pk)
    assert ruled.state == DisputeState.RULED and ruled.ruling_amount == Decimal("20.00")
    waiting = Notification.objects.filter(event__kind=EventKind.RULED)
    assert sorted(waiting.values_list("recipient__username", flat=True)) == ["alice", "bob"]
    assert not waiting.filter(sent_at__isnull=False).exists()
    assert mailoutbox == []

    # Redis is back: a real worker runs the periodic resend from the broker.
    redis["proc"] = redis["start"]()
    reset_pool()
    entry = django_settings.CELERY_BEAT_SCHEDULE["deliver-pending-notifications"]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        send(entry["task"], redis["url"], **entry.get("options", {}))
        assert wait_for(lambda: not waiting.filter(sent_at__isnull=True).exists())

    assert sorted(m.to[0] for m in mailoutbox) == sorted([alice.email, bob.email])
    assert all("ruled" in m.body and m.alternatives for m in mailoutbox)
    # The next run of the resend finds nothing left: each mail went out once.
    assert notifications_deliver(now=timezone.now() + timedelta(minutes=10)) == 0
    assert len(mailoutbox) == 2
    assert set(waiting.values_list("attempts", flat=True)) == {1}
