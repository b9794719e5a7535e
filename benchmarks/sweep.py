"""The deadline sweep against the speed limit of this database on this machine.

100,000 disputes whose seller deadline has passed are swept with all their side effects
(the transition and outcome on each row, two events, two outbox rows, a refund and the
line's and order's refunded totals); then the same rows, reset, are moved by one raw SQL
statement doing the same work (``UPDATE ... RETURNING`` feeding the inserts: the baseline
of ``sweep_rate``), and by a bare UPDATE of the state alone; then two sweepers share the
backlog in parallel. Prints one BENCH line per figure.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import timedelta

from harness import bench_line, setup_django

COUNT = int(os.environ.get("BENCH_DISPUTES", "100000"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))

# What the sweep writes for a seller who stayed silent on a full-refund request, in one
# statement: the dispute decided by the deadline and resolved (dated at its due time), the
# two events, the buyer's and the seller's outbox rows for the first, the refund row with
# its idempotency key, and the line's and order's refunded totals. (No integration owns the
# order and it is not completed: the sweep writes no webhook or payout rows either.)
SAME_WORK_SQL = """
WITH moved AS (
    UPDATE disputes_dispute AS d SET
        state = 'resolved', outcome_type = d.proposal_type, outcome_amount = d.proposal_amount,
        decided_by = 'deadline', decided_at = d.next_deadline_at,
        finished_at = d.next_deadline_at, closing = 'refunded',
        next_deadline_at = NULL, deadline_kind = '', reminder_at = NULL, reminder_kind = '',
        revision = d.revision + 1, sweep_failures = 0, sweep_error = '', sweep_retry_at = NULL
    FROM orders_store AS s
    WHERE s.id = d.store_id AND d.state = 'open' AND d.deadline_kind = 'seller_response'
        AND d.proposal_type = 'full_refund' AND d.next_deadline_at <= %(now)s
        AND (d.sweep_retry_at IS NULL OR d.sweep_retry_at <= %(now)s)
    RETURNING d.id, d.line_id, d.order_id, d.buyer_id, s.owner_id, d.outcome_type,
        d.outcome_amount, d.decided_at AS due
), passed AS (
    INSERT INTO disputes_disputeevent (dispute_id, kind, actor_id, actor_party, from_state,
        to_state, note, data, message_id, created_at, processed_at)
    SELECT id, 'deadline_passed', NULL, 'deadline', 'open', 'agreed', %(note)s,
        jsonb_build_object('clock', 'seller_response', 'outcome', outcome_type,
            'amount', outcome_amount::text, 'decided_by', 'deadline'),
        NULL, due, %(now)s
    FROM moved
    RETURNING id, dispute_id, created_at
), resolved AS (
    INSERT INTO disputes_disputeevent (dispute_id, kind, actor_id, actor_party, from_state,
        to_state, note, data, message_id, created_at, processed_at)
    SELECT id, 'resolved', NULL, 'platform', 'agreed', 'resolved', '',
        jsonb_build_object('outcome', outcome_type, 'amount', outcome_amount::text,
            'decided_by', 'deadline', 'closing', 'refunded'),
        NULL, due, %(now)s
    FROM moved
), mailed AS (
    INSERT INTO disputes_notification (recipient_id, event_id, created_at, attempts, last_error)
    SELECT r.recipient_id, p.id, p.created_at, 0, ''
    FROM passed AS p JOIN moved AS m ON m.id = p.dispute_id
    CROSS JOIN LATERAL (VALUES (m.buyer_id), (m.owner_id)) AS r(recipient_id)
), refunded AS (
    INSERT INTO refunds_refund (order_id, line_id, dispute_id, amount, currency, method, reason,
        idempotency_key, state, gateway_reference, attempts, last_error, flagged, created_at)
    SELECT m.order_id, m.line_id, m.id, m.outcome_amount, o.currency, o.payment_method,
        'Dispute #' || m.id || ': ' || %(label)s, gen_random_uuid(), 'pending', '', 0, '',
        false, %(now)s
    FROM moved AS m JOIN orders_order AS o ON o.id = m.order_id
), line_totals AS (
    UPDATE orders_orderline AS l SET refunded_total = l.refunded_total + m.outcome_amount
    FROM moved AS m WHERE l.id = m.line_id
), order_totals AS (
    UPDATE orders_order AS o SET refunded_total = o.refunded_total + t.amount
    FROM (SELECT order_id, sum(outcome_amount) AS amount FROM moved GROUP BY order_id) AS t
    WHERE o.id = t.order_id
)
SELECT count(*) FROM moved
"""

WRITTEN = (
    "disputes_disputeevent",
    "disputes_notification",
    "refunds_refund",
    "refunds_payout",
    "refunds_coupon",
    "api_webhookdelivery",
)


def written() -> dict[str, int]:
    """How many rows of each kind the sweep (or the statement) wrote, and the money moved."""
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in WRITTEN:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT sum(refunded_total) FROM orders_orderline")
        counts["refunded"] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM disputes_dispute WHERE state = 'resolved'")
        counts["resolved"] = cursor.fetchone()[0]
    return counts


def reset(due) -> None:
    """Put every benchmark dispute back to 'open, seller deadline passed'."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE disputes_notification, disputes_disputeevent, refunds_payout,"
            " refunds_coupon, refunds_refund, refunds_gatewaycall, api_webhookdelivery"
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
    swept = written()
    assert swept["resolved"] == COUNT, swept

    # 2. The speed limit: one raw SQL statement doing the same work on the same rows.
    from django.db import transaction

    from disputes.services.clocks import CLOCK_RULES
    from disputes.states import DeadlineKind, OutcomeType

    reset(due)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    params = {
        "now": now,
        "note": str(CLOCK_RULES[DeadlineKind.SELLER_RESPONSE][1]),
        "label": str(OutcomeType.FULL_REFUND.label),
    }
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SAME_WORK_SQL, params)
        assert cursor.fetchone()[0] == COUNT
    same_work_seconds = time.perf_counter() - started
    # The same rows of every kind as the sweep wrote, the same money.
    assert written() == swept, (written(), swept)

    # 3. The state change alone: one bare UPDATE of the state on the same rows.
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

    # 4. Two sweepers in parallel over the same backlog.
    reset(due)
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(2) as pool:
        results = pool.map(sweep_in_process, [now, now])
    parallel_seconds = time.perf_counter() - started
    assert sum(results) == COUNT, results
    from disputes.models import DisputeEvent

    assert DisputeEvent.objects.filter(kind="deadline_passed").count() == COUNT

    same_work_rate = COUNT / same_work_seconds
    print(bench_line("sweep_rate", COUNT / sweep_seconds, "disputes/s", same_work_rate))
    print(bench_line("raw_sql_same_work_rate", same_work_rate, "disputes/s", same_work_rate))
    print(bench_line("raw_sql_update_rate", COUNT / raw_seconds, "disputes/s", same_work_rate))
    print(
        bench_line(
            "sweep_rate_two_workers", COUNT / parallel_seconds, "disputes/s", COUNT / sweep_seconds
        )
    )


if __name__ == "__main__":
    main()
