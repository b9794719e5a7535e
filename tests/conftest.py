"""Personas, clocks and the switches that decide whether a real service is required.

Personas (HOUSE_STYLE.md): buyer alice, other buyer carol, seller bob (alice's store),
other seller dave, staff arbitrator sam, and anonymous.
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import StoreFactory, UserFactory, make_arbitrator

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def need(available: bool, reason: str) -> None:
    """Skip when a real service is missing, or fail when CI said it must be there."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def private_redis():
    """A redis-server of the test's own, on a free port, that the test can stop and restart."""
    import subprocess
    import time

    server = shutil.which("redis-server")
    need(server is not None, "needs redis-server installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            return False

    def start():
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not listening():
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)
        return proc

    handle = {"url": f"redis://127.0.0.1:{port}/0", "proc": start(), "start": start}
    yield handle
    if handle["proc"].poll() is None:
        handle["proc"].terminate()
        handle["proc"].wait(10)


@pytest.fixture
def require_postgres(django_db_setup) -> None:
    from django.db import connection

    need(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://... to run it",
    )


def _redis_up(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    need(bool(url) and _redis_up(url), "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    return url


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run inline in ordinary tests; broker tests start a real worker instead."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Eager tasks still take a producer from the app's pool (Celery 5.5+); an in-process
    # worker started by an earlier test closes that pool when it stops. Start each test
    # with fresh pools, or every .delay() after such a test fails ("closed pool").
    from kombu import pools

    from portal.celery import app

    pools.reset()  # kombu keeps producer pools per connection, process-wide
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


# --- personas ---------------------------------------------------------------------------------
@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", first_name="Carol")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", first_name="Bob")


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", first_name="Dave")


@pytest.fixture
def sam(db):
    return make_arbitrator("sam")


@pytest.fixture
def bobs_store(bob):
    return StoreFactory(owner=bob, name="Bob's Boutique", slug="bobs-boutique")


@pytest.fixture
def daves_store(dave):
    return StoreFactory(owner=dave, name="Dave's Gadgets", slug="daves-gadgets")


@pytest.fixture
def persona(request, alice, carol, bob, dave, sam, bobs_store, daves_store):
    """Look a persona up by name (for parametrised authorization tables)."""
    people = {"alice": alice, "carol": carol, "bob": bob, "dave": dave, "sam": sam}
    return lambda name: people.get(name)


@pytest.fixture
def client_for(client, persona):
    """A test client logged in as the named persona ("anonymous" stays logged out)."""

    def login(name: str):
        if name != "anonymous":
            client.force_login(persona(name))
        return client

    return login


# --- browser (Debian's Chromium through Playwright) -------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    need(os.path.exists(CHROMIUM), "needs Debian's chromium: apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "UTC", "locale": "en-GB"}


@pytest.fixture(scope="session")
def screenshots_dir():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Every test stores its files in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


# Tests that share one outside service (the Redis broker and its Celery workers, Chromium with
# a live server, subprocesses of the portal) run one after the other on one xdist worker;
# everything else is spread over the others (`make test` runs pytest -n auto --dist loadgroup).
SHARED_SERVICE_FILES = (
    "tests/disputes/test_celery_delivery.py",
    "tests/disputes/test_notifications_redis.py",
    "tests/refunds/test_refund_worker_kill.py",
    "tests/test_compose.py",
    "tests/test_deploy.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("browser") or item.nodeid.startswith(SHARED_SERVICE_FILES):
            item.add_marker(pytest.mark.xdist_group("shared-services"))
