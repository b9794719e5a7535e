"""A real Celery worker on Redis, killed between the gateway call and the commit.

The simulated gateway's ``crash_after_call`` mode records the call in its ledger and then
ends the worker process at once (``os._exit``): the money moved, nothing else was
recorded. The refund must stay pending, and every later run of the task (five of them,
on a healthy worker) must reuse the idempotency key, so the ledger keeps one call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection

from portal.celery import app
from refunds.models import GatewayCall, Refund, RefundState
from refunds.services import refund_create, refund_send
from tests.factories import DRESS_LINES, make_order
from tests.refunds.money_invariants import check_money

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_broker(require_postgres, private_redis, settings, tmp_path):
    """Celery on a Redis broker of the test's own (no stray worker can take its tasks)."""
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


def reset_pool() -> None:
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def send(name: str, broker_url: str, *args) -> None:
    with app.connection_for_write(broker_url) as conn:
        app.send_task(name, args=list(args), connection=conn)


def wait_for(predicate, timeout=30.0, every=0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def start_worker(broker_url: str, mode: str, tmp_path: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "PORTAL_SIMULATED_GATEWAY_MODE": mode,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    if db.get("PASSWORD"):
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-l", "ERROR"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"worker-{mode}.log", "ab"),
    )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def send_together(refund_id: int, workers: int) -> list:
    """``refund_send`` in several threads (each its own connection), released at once."""
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def worker(i):
        try:
            barrier.wait()
            results[i] = refund_send(refund_id=refund_id).state
        except Exception as exc:  # the test inspects what each side got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture
def refund(alice, bobs_store):
    """A 20.00 refund recorded while the broker is unreachable: pending, never sent."""
    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES)
    with mock.patch("refunds.tasks.send_refunds.delay", side_effect=OSError("broker down")):
        refund = refund_create(line=order.lines.first(), amount=Decimal("20.00"), reason="part")
    assert refund.state == RefundState.PENDING
    assert not GatewayCall.objects.exists()
    return refund


def test_a_worker_killed_after_the_gateway_call_leaves_one_call_per_refund(
    real_broker, refund, tmp_path
):
    started = time.monotonic()
    crashing = start_worker(real_broker, "crash_after_call", tmp_path)
    try:
        send("refunds.tasks.send_refund", real_broker, refund.pk)
        # The worker calls the gateway, and dies before it can record the answer.
        crashing.wait(30)
        assert crashing.returncode == 9, crashing.returncode
    finally:
        stop(crashing)
    (call,) = GatewayCall.objects.filter(idempotency_key=refund.idempotency_key)
    assert call.times_asked == 1
    refund.refresh_from_db()
    assert (refund.state, refund.attempts, refund.gateway_reference) == (
        RefundState.PENDING,
        0,
        "",
    )

    healthy = start_worker(real_broker, "ok", tmp_path)
    try:
        for _ in range(5):
            send("refunds.tasks.send_refund", real_broker, refund.pk)
        assert wait_for(
            lambda: Refund.objects.get(pk=refund.pk).state == RefundState.SENT, timeout=30
        ), "the healthy worker never sent the refund"
        # The retry sweep's task too: it finds nothing left to do.
        send("refunds.tasks.send_due_refunds", real_broker)
        # Let the worker drain the queue: the last message is the sweep.
        with app.connection_for_write(real_broker) as conn:
            client = conn.default_channel.client
            assert wait_for(lambda: client.llen("celery") == 0, timeout=20)
        time.sleep(0.5)
        assert healthy.poll() is None, "the healthy worker died"
    finally:
        stop(healthy)
    assert GatewayCall.objects.filter(idempotency_key=refund.idempotency_key).count() == 1
    assert GatewayCall.objects.count() == 1
    call.refresh_from_db()
    refund.refresh_from_db()
    assert call.times_asked >= 2  # asked again after the crash, answered from the ledger
    assert refund.state == RefundState.SENT
    assert refund.gateway_reference == call.reference
    assert refund.attempts == 1
    check_money([refund.order_id])
    assert time.monotonic() - started < 60


def test_two_workers_sending_the_same_refund_at_once_call_the_gateway_once(
    require_postgres, alice, bobs_store, now
):
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=1)
    )
    line = order.lines.first()
    for round_ in range(10):
        with mock.patch("refunds.tasks.send_refunds.delay", side_effect=OSError("broker down")):
            refund = refund_create(line=line, amount=Decimal("1.00"), reason=f"round {round_}")
        results = send_together(refund.pk, 2)
        assert results == [RefundState.SENT, RefundState.SENT], (round_, results)
        refund.refresh_from_db()
        (call,) = GatewayCall.objects.filter(idempotency_key=refund.idempotency_key)
        assert refund.state == RefundState.SENT and refund.attempts == 1, round_
        assert refund.gateway_reference == call.reference
        assert 1 <= call.times_asked <= 2
    assert GatewayCall.objects.count() == 10
    check_money([order.pk])
