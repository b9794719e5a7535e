"""The deadline sweep against the speed limit of this database on this machine.

100,000 disputes whose seller deadline has passed are swept with all their side effects
(the transition and outcome on each row, two events and two outbox rows each); then the
same rows, reset, are moved by one raw SQL UPDATE of the state alone (the baseline); then
two sweepers share the backlog in parallel. Prints one BENCH line per figure.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import timedelta

from harness import bench_line, setup_django

COUNT = int(os.environ.get("BENCH_DISPUTES", "100000"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))


def reset(due) -> None:
    """Put every benchmark dispute back to 'open, seller deadline passed'."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE disputes_notification, disputes_disputeevent, refunds_payout,"
            " refunds_coupon, refunds_refund, refunds_gatewaycall"
        )
        cursor.execute(
            "UPDATE disputes_dispute SET state = 'open', outcome_type = '', outcome_amount = NULL,"
            " decided_by = '', decided_at = NULL, finished_at = NULL, closing = '',"
            " next_deadline_at = %s,"
            " deadline_kind = 'seller_response', revision = 0, sweep_failures = 0,"
            " sweep_error = '', sweep_retry_at = NULL",
            [due],
        )
        cursor.execute("UPDATE orders_orderline SET refunded_total = 0, paid_out_total = 0")
        cursor.execute("UPDATE orders_order SET refunded_total = 0, paid_out_total = 0")
    connection.close()


def sweep_in_process(now) -> int:
    import django

    django.setup()
    import disputes.notifications as notifications
    from disputes.services import disputes_sweep_due

    notifications.queue_delivery = lambda ids: None  # delivery is async; its rows are written
    import refunds.services as refunds

    refunds._queue_send = lambda ids: None  # the gateway is called after commit, async
    return disputes_sweep_due(now=now, batch_size=BATCH).moved


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from disputes.models import Dispute
    from orders.models import Order, Store
    from tests.disputes.bulk import overdue_disputes

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE refunds_payout, refunds_coupon, refunds_refund, refunds_gatewaycall,"
            " evidence_evidence,"
            " disputes_notification, disputes_disputeevent, disputes_disputemessage,"
            " disputes_dispute, orders_orderline, orders_order, orders_store CASCADE"
        )
    User = get_user_model()
    buyer, _ = User.objects.get_or_create(username="bench-buyer")
    seller, _ = User.objects.get_or_create(username="bench-seller")
    store = Store.objects.create(name="Bench", slug="bench", owner=seller)
    now = timezone.now()
    due = now - timedelta(days=1)
    started = time.perf_counter()
    overdue_disputes(buyer=buyer, store=store, count=COUNT, due=due)
    print(f"# created {COUNT} overdue disputes in {time.perf_counter() - started:.1f}s")
    assert Order.objects.count() == 1

    # 1. The sweep with every side effect, one process.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.perf_counter()
    moved = sweep_in_process(now)
    sweep_seconds = time.perf_counter() - started
    assert moved == COUNT, moved
    assert Dispute.objects.filter(state="resolved").count() == COUNT

    # 2. The speed limit: one raw UPDATE of the same state change on the same rows.
    reset(due)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "UPDATE disputes_dispute SET state = 'agreed'"
            " WHERE state = 'open' AND next_deadline_at <= %s",
            [now],
        )
        raw_seconds = time.perf_counter() - started
        assert cursor.rowcount == COUNT
    connection.close()

    # 3. Two sweepers in parallel over the same backlog.
    reset(due)
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(2) as pool:
        results = pool.map(sweep_in_process, [now, now])
    parallel_seconds = time.perf_counter() - started
    assert sum(results) == COUNT, results
    from disputes.models import DisputeEvent

    assert DisputeEvent.objects.filter(kind="deadline_passed").count() == COUNT

    raw_rate = COUNT / raw_seconds
    print(bench_line("sweep_rate", COUNT / sweep_seconds, "disputes/s", raw_rate))
    print(bench_line("raw_sql_update_rate", raw_rate, "disputes/s", raw_rate))
    print(
        bench_line(
            "sweep_rate_two_workers", COUNT / parallel_seconds, "disputes/s", COUNT / sweep_seconds
        )
    )


if __name__ == "__main__":
    main()
