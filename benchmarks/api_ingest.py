"""The marketplace API's order intake, over HTTP, against the speed limit of the ORM.

gunicorn serves the portal as deployed (2 sync workers, DEBUG off, PostgreSQL from
DATABASE_URL); BENCH_API_ORDERS orders (10,000) go up through ``POST /api/v1/orders/batch``
in batches of 500, each request with its Idempotency-Key as the README advises; then
BENCH_API_SINGLE orders (1,000) one per request through ``POST /api/v1/orders``. The client
sends from BENCH_API_CLIENTS threads (1: a marketplace's sync job, one request after the
other) and, as a client should, sends a request answered 5xx again with the same key. Orders
have two lines; buyers come back (2,000 of them) and stores too (100). The baseline: the same
rows (Order + OrderLine) bulk-inserted with the ORM in this process, 500 orders per
transaction. Prints one BENCH line per figure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from harness import ROOT, bench_line, setup_django

ORDERS = int(os.environ.get("BENCH_API_ORDERS", "10000"))
SINGLE = int(os.environ.get("BENCH_API_SINGLE", "1000"))
BATCH = int(os.environ.get("BENCH_API_BATCH", "500"))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "1"))
WORKERS = 2
BUYERS, STORES = 2000, 100
PAID_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
RETRIED: list[int] = []  # the 5xx answers the client retried


def line(colour: str, quantity: int, price: str) -> dict:
    variant = {"colour": colour, "size": "M"}
    return {
        "product": "Summer dress",
        "variant": variant,
        "quantity": quantity,
        "unit_price": price,
    }


def order(index: int, prefix: str) -> dict:
    buyer, store = index % BUYERS, index % STORES
    return {
        "id": f"{prefix}-{index}",
        "buyer": {"id": f"b-{buyer}", "email": f"b{buyer}@buyers.test", "name": "Alice Martin"},
        "store": {
            "id": f"s-{store}",
            "name": f"Store {store}",
            "seller": {"id": f"u-{store}", "email": f"u{store}@sellers.test", "name": "Bob Stone"},
        },
        "lines": [line("red", 1, "45.00"), line("blue", 2, "30.00")],
        "currency": "USD",
        "payment_method": "card",
        "amount_paid": "105.00",
        "paid_at": PAID_AT.isoformat(),
        "protection_days": 60,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def push(port: int, key: str, requests_: list[tuple[str, str]], expect: int) -> float:
    """Send every (path, body) from CLIENTS threads, each on its own session; returns the
    seconds it took. Every order must be created."""
    import requests

    local = threading.local()

    def send(item: tuple[str, str]) -> None:
        path, body = item
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {key}"
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        for _attempt in range(5):
            answer = local.session.post(
                f"http://127.0.0.1:{port}/api/v1{path}",
                data=body.encode(),
                headers=headers,
                timeout=300,
            )
            if answer.status_code < 500:
                break
            # As a client should: the same request and key again (a 5xx is not kept).
            RETRIED.append(answer.status_code)
        assert answer.status_code == expect, (answer.status_code, answer.text[:500])
        if path.endswith("/batch"):
            statuses = {result["status"] for result in answer.json()["results"]}
            assert statuses == {"created"}, statuses

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, requests_))
    return time.perf_counter() - started


def orm_baseline(specs: list[dict]) -> float:
    """The same orders and lines, bulk-inserted with the ORM, 500 per transaction."""
    from django.db import transaction

    from api.models import ExternalPerson, ExternalStore
    from orders.models import Order, OrderLine

    people = dict(ExternalPerson.objects.values_list("external_id", "user_id"))
    stores = dict(ExternalStore.objects.values_list("external_id", "store_id"))
    started = time.perf_counter()
    for start in range(0, len(specs), BATCH):
        chunk = specs[start : start + BATCH]
        with transaction.atomic():
            orders = Order.objects.bulk_create(
                Order(
                    number=f"ORM-{uuid.uuid4().hex[:20]}",
                    buyer_id=people[spec["buyer"]["id"]],
                    store_id=stores[spec["store"]["id"]],
                    total_paid=Decimal(spec["amount_paid"]),
                    payment_method=spec["payment_method"],
                    currency=spec["currency"],
                    placed_at=PAID_AT,
                    protection_days=spec["protection_days"],
                )
                for spec in chunk
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=row,
                    product_name=line["product"],
                    colour=line["variant"]["colour"],
                    size=line["variant"]["size"],
                    quantity=line["quantity"],
                    unit_price=Decimal(line["unit_price"]),
                )
                for row, spec in zip(orders, chunk, strict=True)
                for line in spec["lines"]
            )
    return time.perf_counter() - started


def main() -> None:
    url = setup_django()
    from django.db import connection

    from api.keys import api_key_create
    from api.models import ExternalOrder, Integration
    from orders.models import Order, OrderLine

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE api_idempotentresponse, api_externalorder, api_externalperson,"
            " api_externalstore, api_signinlink, api_webhookdelivery, api_webhookendpoint,"
            " api_apikey, api_integration, orders_orderline, orders_order, orders_store CASCADE"
        )
    integration = Integration.objects.create(name="Bench", contact_email="ops@bench.test")
    _key, key = api_key_create(integration=integration, name="bench")
    run = uuid.uuid4().hex[:6]
    batches = [
        ("/orders/batch", json.dumps({"orders": [order(i, run) for i in range(s, s + BATCH)]}))
        for s in range(0, ORDERS, BATCH)
    ]
    singles = [
        ("/orders", json.dumps(order(i, f"{run}-1"))) for i in range(ORDERS, ORDERS + SINGLE)
    ]
    warm = [("/orders", json.dumps(order(i, f"{run}-w"))) for i in range(WORKERS * 4)]

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "CELERY_BROKER_URL": "memory://",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        # The per-key limit (1200/min by default) would be the figure of the one-per-request run.
        "PORTAL_API_RATE": "1000000/m",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "portal.wsgi:application"),
            *("-w", str(WORKERS), "-b", f"127.0.0.1:{port}"),
            *("--timeout", "300", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        push(port, key, warm, 201)  # each worker has loaded the code and opened its connection
        batch_seconds = push(port, key, batches, 200)
        single_seconds = push(port, key, singles, 201)
    finally:
        server.terminate()
        server.wait(10)

    pushed = len(warm) + ORDERS + SINGLE
    assert ExternalOrder.objects.count() == pushed
    assert OrderLine.objects.count() == 2 * pushed
    specs = [order(i, "orm") for i in range(ORDERS)]
    orm_seconds = orm_baseline(specs)
    assert Order.objects.count() == pushed + ORDERS

    orm_rate = ORDERS / orm_seconds
    batch_rate = ORDERS / batch_seconds
    single_rate = SINGLE / single_seconds
    print(
        f"# {ORDERS} orders in batches of {BATCH} in {batch_seconds:.1f}s, {SINGLE} one per"
        f" request in {single_seconds:.1f}s ({CLIENTS} client thread(s), {WORKERS} gunicorn"
        f" workers); the ORM bulk-inserted {ORDERS} in {orm_seconds:.1f}s"
    )
    if RETRIED:
        print(f"# {len(RETRIED)} request(s) answered {sorted(set(RETRIED))} and were retried")
    print(bench_line("api_order_ingest", batch_rate, "orders/s", orm_rate))
    print(bench_line("api_order_single", single_rate, "orders/s", orm_rate))


if __name__ == "__main__":
    main()
