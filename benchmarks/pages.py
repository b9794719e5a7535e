"""The portal's pages on a marketplace's worth of data, against a one-query page.

The large data set (benchmarks/harness/largedata.py: 50,000 orders, 10,000 disputes, a
store with 5,000 orders and 1,000 disputes, a buyer with 200 orders, ~1,500 cases in the
arbitration queue) lives in its own database, ``portal_bench_pages``, built on the first
run and reused after.

1. The plans: each page is loaded once in this process (Django's test client, the person's
   session) while its SQL is captured; every SELECT is run again under
   ``EXPLAIN (ANALYZE, BUFFERS)`` with its parameters. One line per page gives the query
   count (and a list's, far down its pages: it should be the same), the slowest statement
   (planning and execution), the time of the SQL and of the whole page in this process; a
   sequential scan of a table above 10,000 rows prints ``EXPLAIN-WARN``. The plans are
   written to var/bench/explain-<page>.txt.
2. The load: gunicorn as deployed (2 sync workers, DEBUG off, whitenoise) serves the same
   database; each page is loaded by 8 connections for BENCH_PAGES_SECONDS (10) seconds with
   wrk (or, without wrk, a Python load generator with keep-alive connections), logged in
   with a session cookie made here. One BENCH line per page, with the throw-away
   ``/bench/one-query/`` page of the same run (one query for 20 rows, a template, the same
   middleware, logged in) as the baseline, and the 99th percentile of the latency.
   ``page_frame`` is the portal's frame with nothing in it (``base.html``: the navigation
   and its two lazy queries, the language switch): the floor under every portal page.

BENCH_PAGES=my_orders,store_disputes limits the pages (the baseline is always measured, first
and again last; its figure is the mean of the two).
Exits non-zero when a page does not answer 200 to its person, or the server does not start.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import ROOT, bench_line, setup_django

DATABASE = "portal_bench_pages"
SETTINGS = "harness.pages_settings"
SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", "10"))
ONLY = {name.strip() for name in os.environ.get("BENCH_PAGES", "").split(",") if name.strip()}
CONNECTIONS = 8
THREADS = 2
LARGE_TABLE_ROWS = 10_000
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
OUT = ROOT / "var" / "bench"
BASELINE = "one_query"


@dataclass
class Page:
    name: str
    path: str
    persona: str  # buyer, seller or arbitrator
    deep: str = ""  # a page far down the list: its query count should be the first page's
    deep_queries: int = 0
    status: int = 0
    size: int = 0
    queries: int = 0
    slowest_ms: float = 0.0
    sql_ms: float = 0.0  # the page's statements, as they ran in the page
    page_ms: float = 0.0  # the whole answer, in this process, one request alone
    warnings: list[str] = field(default_factory=list)
    rate: float = 0.0
    p99_ms: float = 0.0
    load: float = 0.0  # the machine's load average as the page's run began
    errors: list[str] = field(default_factory=list)


def pages(dispute_id: int) -> list[Page]:
    return [
        Page(BASELINE, "/bench/one-query/", "buyer"),
        Page("frame", "/bench/frame/", "buyer"),
        Page("my_orders", "/orders/", "buyer", deep="?page=last"),
        Page("seller_dashboard", "/seller/", "seller", deep="?page=last"),
        Page("store_disputes", "/seller/disputes/", "seller", deep="?page=last"),
        Page("my_disputes", "/disputes/", "buyer", deep="?page=last"),
        Page("dispute", f"/disputes/{dispute_id}/", "buyer"),
        Page("notifications", "/notifications/", "seller", deep="?page=last"),
        Page("complaints", "/complaints/", "buyer", deep="?page=last"),
        Page("admin_queue", "/admin/disputes/dispute/?queue=1", "arbitrator", deep="&p=10"),
        Page("admin_events", "/admin/disputes/disputeevent/", "arbitrator", deep="?p=100"),
    ]


def sessions(people) -> dict[str, str]:
    """A logged-in session per person, made on the server as a log-in would make it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )

    store = import_module(settings.SESSION_ENGINE).SessionStore
    User = get_user_model()
    keys = {}
    for persona, pk in (
        ("buyer", people.buyer_id),
        ("seller", people.seller_id),
        ("arbitrator", people.arbitrator_id),
    ):
        user = User.objects.get(pk=pk)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys[persona] = session.session_key
    return keys


def refused(status: int, body: bytes, location: str = "") -> str:
    """Why an answer is not the page itself ('' when it is)."""
    if status != 200:
        return f"status {status}" + (f" to {location}" if location else "")
    if b'name="password"' in body:
        return "the log-in page"
    return ""


# --- the plans ----------------------------------------------------------------------------------
def table_rows() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        return dict(cursor.fetchall())


def explain_page(page: Page, cookie: tuple[str, str], rows: dict[str, int]) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies[cookie[0]] = cookie[1]
    client.get(page.path)  # first: caches and lazy set-up, as a warm server has them
    raw: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        raw.append((sql, params))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(record):
        began = time.perf_counter()
        response = client.get(page.path)
        page.page_ms = (time.perf_counter() - began) * 1000
    body = response.content
    page.status, page.size = response.status_code, len(body)
    why = refused(response.status_code, body, response.get("Location", ""))
    if why:
        page.errors.append(f"{page.path} answered {why}")
        return
    page.queries = len(captured.captured_queries)
    page.sql_ms = sum(float(query["time"]) for query in captured.captured_queries) * 1000

    report = [f"{page.name}: {page.path} as the {page.persona}, {page.queries} queries\n"]
    with connection.cursor() as cursor:
        for number, ((sql, params), shown) in enumerate(
            zip(raw, captured.captured_queries, strict=False), start=1
        ):
            took_in_page = float(shown["time"]) * 1000
            report.append(
                f"\n-- statement {number}/{page.queries} ({took_in_page:.1f} ms in the page)\n"
                + shown["sql"]
                + "\n"
            )
            if not re.match(r"\s*(SELECT|WITH)\b", sql, re.IGNORECASE) or re.search(
                r"\bFOR (UPDATE|SHARE|NO KEY UPDATE)\b", sql, re.IGNORECASE
            ):
                report.append("(not a plain read: not explained)\n")
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(line for (line,) in cursor.fetchall())
            report.append(plan + "\n")
            # What the statement costs the page: planning it and running it.
            took_ms = sum(
                float(ms) for ms in re.findall(r"(?:Planning|Execution) Time: ([\d.]+) ms", plan)
            )
            if took_ms > page.slowest_ms:
                page.slowest_ms = took_ms
            for table in sorted(set(re.findall(r"Seq Scan on (\w+)", plan))):
                if rows.get(table, 0) > LARGE_TABLE_ROWS:
                    page.warnings.append(
                        f"EXPLAIN-WARN page_{page.name} {table} rows={rows[table]}"
                        f" statement={number} time={took_ms:.1f}ms"
                        f" sql={' '.join(shown['sql'].split())[:160]}"
                    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"explain-{page.name}.txt").write_text("".join(report))
    if page.deep:
        with CaptureQueriesContext(connection) as deep:
            response = client.get(page.path + page.deep)
        if response.status_code == 200:
            page.deep_queries = len(deep.captured_queries)
        else:
            page.deep_queries = -response.status_code


# --- the load -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_up() -> bool:
    from urllib.parse import urlparse

    where = urlparse(REDIS_URL)
    try:
        with socket.create_connection((where.hostname, where.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_server(url: str, port: int, cache: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)]),
    }
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    if cache:
        env["REDIS_URL"] = cache
    gunicorn = Path(sys.executable).with_name("gunicorn")
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / "pages-gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "portal.wsgi:application",
            *("--bind", f"127.0.0.1:{port}", "--workers", "2"),
            *("--chdir", str(ROOT), "--log-level", "warning"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            status, _body, _ = fetch(port, "/login/", "")
            if status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"gunicorn did not start: see {OUT / 'pages-gunicorn.log'}")


def fetch(port: int, path: str, cookie: str) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Location", "")
    finally:
        conn.close()


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(port: int, path: str, cookie: str) -> tuple[float, float, str]:
    out = subprocess.run(
        [
            *("wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS:g}s", "--latency"),
            *("--timeout", "10s", "-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}{path}"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    problems = []
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        problems.append(f"{bad.group(1)} answers not 2xx/3xx")
    if errors := re.search(r"Socket errors: (.*)", out):
        problems.append(f"socket errors: {errors.group(1)}")
    if not rate or not p99:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(rate.group(1)), float(p99.group(1)) * UNITS_MS[p99.group(2)], "; ".join(problems)


def run_python(port: int, path: str, cookie: str) -> tuple[float, float, str]:
    """wrk's measurement with keep-alive connections in threads (when wrk is missing)."""
    stop = time.monotonic() + SECONDS
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            began = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    problems.append(f"status {response.status}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException) as exc:
                problems.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0
    summary = f"{len(problems)} failed requests ({problems[0]}...)" if problems else ""
    return len(latencies) / took, p99, summary


# --- the run ------------------------------------------------------------------------------------
def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["DEBUG"] = "0"
    url = setup_django(DATABASE)
    from django.conf import settings
    from harness.largedata import ensure_large_data

    people = ensure_large_data()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    keys = sessions(people)
    cookie_name = settings.SESSION_COOKIE_NAME
    measured = [p for p in pages(people.dispute_id) if not ONLY or p.name in ONLY | {BASELINE}]

    print("EXPLAIN: each page once in this process, its reads under EXPLAIN (ANALYZE, BUFFERS)")
    rows = table_rows()
    for page in measured:
        try:
            explain_page(page, (cookie_name, keys[page.persona]), rows)
        except Exception as exc:  # a page that fails is reported, the others still measured
            page.errors.append(f"{page.path} raised {type(exc).__name__}: {exc}")
        if page.errors:
            print(f"EXPLAIN page_{page.name} FAILED: {'; '.join(page.errors)}")
            continue
        print(
            f"EXPLAIN page_{page.name} queries={page.queries} slowest={page.slowest_ms:.1f}ms"
            f" sql={page.sql_ms:.0f}ms page={page.page_ms:.0f}ms size={page.size / 1000:.0f}KB"
            + (f" deep({page.deep})={page.deep_queries}" if page.deep else "")
            + f" plans={OUT / f'explain-{page.name}.txt'}"
        )
        for warning in page.warnings:
            print(warning)

    from django.db import connections

    connections.close_all()
    cache = REDIS_URL if redis_up() else ""
    tool = "wrk" if shutil.which("wrk") else "python"
    load = run_wrk if tool == "wrk" else run_python
    port = free_port()
    where = f"redis {cache}" if cache else "local memory"
    print(
        f"LOAD: gunicorn, 2 workers, DEBUG off, cache {where};"
        f" {tool} with {CONNECTIONS} connections for {SECONDS:g} s per page"
    )
    server = start_server(url, port, cache)
    try:
        for page in measured:
            cookie = f"{cookie_name}={keys[page.persona]}"
            status, body, location = fetch(port, page.path, cookie)
            if why := refused(status, body, location):
                page.errors.append(f"{page.path} answered {why} through gunicorn")
                continue
            for _ in range(2 * CONNECTIONS):  # both workers warm
                fetch(port, page.path, cookie)
            page.load = os.getloadavg()[0]
            page.rate, page.p99_ms, problems = load(port, page.path, cookie)
            if problems:
                page.errors.append(f"under load: {problems}")
            if not page.rate:
                page.errors.append(f"no answer came back within {SECONDS:g} s")
        # The yardstick again at the end: the baseline is the mean of both runs, so a machine
        # that got busier (or quieter) during the run weighs on both ends alike.
        first = measured[0]
        if len(measured) > 1 and first.rate:
            again = load(port, first.path, f"{cookie_name}={keys[first.persona]}")
            print(f"baseline: {first.rate:.0f} req/s first, {again[0]:.0f} req/s last")
            first.rate = (first.rate + again[0]) / 2
            first.p99_ms = max(first.p99_ms, again[1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    baseline = next(p for p in measured if p.name == BASELINE).rate
    print(f"BENCH pages: {tool}, {CONNECTIONS} connections, {SECONDS:g} s each")
    for page in measured:
        if page.rate:
            print(
                bench_line(f"page_{page.name}", page.rate, "req/s", baseline)
                + f" p99={page.p99_ms:.0f}ms"
            )
    print(
        f"{'page':<18} {'req/s':>7} {'ratio':>6} {'p99 ms':>7} {'queries':>7} {'deep':>5}"
        f" {'KB':>5}  seq  load"
    )
    for page in measured:
        ratio = page.rate / baseline if baseline else 0.0
        print(
            f"{page.name:<18} {page.rate:>7.0f} {ratio:>6.2f} {page.p99_ms:>7.0f}"
            f" {page.queries:>7} {page.deep_queries if page.deep else '-':>5}"
            f" {page.size / 1000:>5.0f}  {len(page.warnings):>3}  {page.load:.1f}"
        )
    failed = [page for page in measured if page.errors]
    for page in failed:
        print(f"BENCH-FAIL page_{page.name}: {'; '.join(page.errors)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
