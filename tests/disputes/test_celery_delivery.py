"""The wiring, for real: beat's task on the Redis broker, a worker killed mid-sweep, and
the broker gone while deadlines must still be enforced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from disputes.models import Dispute, DisputeEvent, Notification
from disputes.notifications import notifications_deliver
from disputes.services import disputes_sweep_due
from disputes.states import DisputeState, EventKind
from portal.celery import app
from refunds.models import Refund, RefundState
from tests.conftest import need
from tests.disputes.bulk import overdue_disputes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_broker(private_redis, settings):
    """Celery on a Redis broker of the test's own, tasks sent for real (not run inline).

    A private redis-server, not the shared one: a worker or a beat left running on the
    machine's Redis would otherwise take the test's tasks (and send it its own)."""
    redis_url = private_redis["url"]
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = redis_url
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    yield redis_url
    app.conf.broker_url, app.conf.task_always_eager = saved
    reset_pool()


def send(name: str, broker_url: str, **options) -> None:
    """Send a task on a connection of its own (the app's pools are the worker's)."""
    with app.connection_for_write(broker_url) as conn:
        app.send_task(name, connection=conn, **options)


def reset_pool() -> None:
    """Drop the connections to the broker so the next test connects to its own."""
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(predicate, timeout=30.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# A worker thread and the test share the database: SQLite's in-memory test database, shared
# between threads, answers "database table is locked" instead of waiting, so this runs on
# PostgreSQL (CI), as deployed.
@pytest.mark.postgres
def test_a_real_worker_runs_the_scheduled_sweep(
    require_postgres, real_broker, alice, bobs_store, now
):
    from celery.contrib.testing.worker import start_worker

    ids = overdue_disputes(buyer=alice, store=bobs_store, count=20, due=timezone.now())
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-dispute-deadlines"]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        send(entry["task"], real_broker, **entry["options"])
        assert wait_for(
            lambda: Dispute.objects.filter(pk__in=ids, state=DisputeState.RESOLVED).count() == 20
        )
        # The refunds it recorded were sent by the same worker, after the commit...
        assert wait_for(lambda: Refund.objects.filter(state=RefundState.SENT).count() == 20)
        # ...and the outbox rows written on the way were delivered.
        assert wait_for(lambda: not Notification.objects.filter(sent_at__isnull=True).exists())
    # Two people, two events each: the deadline that granted the refund, and the refund
    # leaving (the worker also sent the 20 refunds the sweep recorded).
    assert Notification.objects.count() == 80


def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(real_broker, alice, bobs_store):
    total = 6000
    ids = overdue_disputes(buyer=alice, store=bobs_store, count=total, due=timezone.now())
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        if connection.vendor == "postgresql"
        else f"sqlite:///{db['NAME']}",
        "CELERY_BROKER_URL": real_broker,
        "REDIS_URL": real_broker,
        "PORTAL_SWEEP_BATCH_SIZE": "100",
    }
    need(connection.vendor == "postgresql", "needs PostgreSQL for a second process")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        send("disputes.tasks.sweep_dispute_deadlines", real_broker)
        assert wait_for(
            lambda: DisputeEvent.objects.filter(kind=EventKind.DEADLINE_PASSED).count() >= 200,
            timeout=60,
            every=0.01,
        ), "the worker never started sweeping"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    moved_before = Dispute.objects.filter(state=DisputeState.RESOLVED).count()
    assert 0 < moved_before < total, "the kill should land in the middle of the sweep"

    disputes_sweep_due()  # the next run: whatever the dead worker did not commit

    assert Dispute.objects.filter(pk__in=ids, state=DisputeState.RESOLVED).count() == total
    per_dispute = (
        DisputeEvent.objects.filter(kind=EventKind.DEADLINE_PASSED)
        .values("dispute")
        .annotate(n=Count("id"))
    )
    assert len(per_dispute) == total
    assert {row["n"] for row in per_dispute} == {1}


def test_with_the_broker_down_the_command_still_enforces_every_deadline(
    private_redis, alice, bobs_store, settings, mailoutbox
):
    saved = (app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_connection_retry)
    app.conf.broker_url = private_redis["url"]
    app.conf.task_always_eager = False
    app.conf.broker_transport_options = {"max_retries": 1, "interval_start": 0}
    app.conf.task_publish_retry = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        ids = overdue_disputes(buyer=alice, store=bobs_store, count=30, due=timezone.now())
        private_redis["proc"].terminate()
        private_redis["proc"].wait(10)

        call_command("sweep_deadlines", stdout=open(os.devnull, "w"))  # noqa: SIM115

        # Every deadline applied, whole: state, events and outbox rows together.
        assert Dispute.objects.filter(pk__in=ids, state=DisputeState.RESOLVED).count() == 30
        assert DisputeEvent.objects.filter(kind=EventKind.DEADLINE_PASSED).count() == 30
        assert Notification.objects.filter(sent_at__isnull=True).count() == 60
        assert mailoutbox == []

        # The broker is back: the periodic resend delivers everything, once.
        private_redis["proc"] = private_redis["start"]()
        assert notifications_deliver(now=timezone.now() + timedelta(minutes=6)) == 60
        assert len(mailoutbox) == 60
        assert notifications_deliver(now=timezone.now() + timedelta(minutes=12)) == 0
    finally:
        app.conf.broker_url, app.conf.task_always_eager, _ = saved
        app.conf.broker_transport_options = {}
        reset_pool()
