"""Walk-through item 15: links in mails point to the port `make run` serves on, also from a
command run by hand (`manage.py sweep_deadlines --deliver`), without SITE_URL being set.

`make run` records its address in var/site-url (the Makefile's run target, the one place that
knows PORTAL_PORT); the settings read that file when SITE_URL is not in the environment. These
tests run the Makefile's own recipe line (from `make -n run`) and then the portal in fresh
processes, as a person at a terminal would.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from disputes.models import Notification
from disputes.services import DisputeRequest
from tests.factories import DRESS_LINES, make_order, open_dispute

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "var" / "site-url"

# The file is shared with a `make run` of this checkout: one test at a time touches it.
pytestmark = pytest.mark.xdist_group("shared-services")


@pytest.fixture(autouse=True)
def _no_site_url_in_dot_env():
    env_file = ROOT / ".env"
    if env_file.exists() and re.search(r"^\s*SITE_URL\s*=", env_file.read_text(), re.M):
        pytest.skip(".env sets SITE_URL, which would decide the outcome")


@pytest.fixture
def recorded():
    """var/site-url as it was before the test, put back afterwards."""
    before = RECORDED.read_bytes() if RECORDED.exists() else None
    yield RECORDED
    if before is None:
        RECORDED.unlink(missing_ok=True)
    else:
        RECORDED.write_bytes(before)


def portal_env(**overrides: str | None) -> dict[str, str]:
    """A fresh process's environment: no SITE_URL, nothing of pytest's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTEST")
        and key not in {"SITE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
    }
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", DEBUG="0", SECRET_KEY="k" * 60)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def make_run_records(port: int, site_url: str | None = None) -> str:
    """Run the line of `make run` that records the address, as make would, and return what
    it recorded."""
    env = portal_env(SITE_URL=site_url, PORTAL_PORT=None)
    dry = subprocess.run(
        ["make", "-n", "run", f"PORTAL_PORT={port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = [line for line in dry.stdout.splitlines() if "var/site-url" in line]
    assert len(lines) == 1, dry.stdout
    # It runs before the portal starts (the web server and worker read it at start).
    assert dry.stdout.index(lines[0]) < dry.stdout.index("honcho")
    subprocess.run(["sh", "-c", lines[0]], cwd=ROOT, env=env, check=True, timeout=30)
    return RECORDED.read_text().strip()


def site_url_in_a_fresh_process(**env: str | None) -> str:
    script = (
        "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=portal_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_make_run_records_its_address_and_the_settings_read_it(recorded):
    assert make_run_records(8765) == "http://127.0.0.1:8765"
    assert site_url_in_a_fresh_process() == "http://127.0.0.1:8765"
    # SITE_URL in the environment wins, and `make run` records that one.
    assert site_url_in_a_fresh_process(SITE_URL="https://portal.example") == (
        "https://portal.example"
    )
    assert make_run_records(8765, site_url="http://demo.lan:8765") == "http://demo.lan:8765"
    assert site_url_in_a_fresh_process() == "http://demo.lan:8765"
    # Without make run's record, the default port.
    recorded.unlink()
    assert site_url_in_a_fresh_process() == "http://127.0.0.1:8000"


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_sweep_run_by_hand_mails_links_to_the_recorded_port(
    recorded, require_postgres, alice, bobs_store, tmp_path
):
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=3),
    )
    dispute = open_dispute(
        line=order.lines.first(),
        buyer=alice,
        request=DisputeRequest(
            received=True,
            reason="not_as_described",
            description="The dress is orange, not red as pictured.",
            quantity=1,
            requested_outcome="refund_only",
            requested_amount=Decimal("45.00"),
        ),
    )
    # The worker was not running: the mails wait for the sweep.
    Notification.objects.update(sent_at=None, claimed_until=None, attempts=0)
    assert Notification.objects.filter(sent_at__isnull=True).exists()

    make_run_records(8765)
    mail_dir = tmp_path / "mail"
    result = subprocess.run(
        [sys.executable, "manage.py", "sweep_deadlines", "--deliver"],
        cwd=ROOT,
        env=portal_env(
            DATABASE_URL=_database_url(),
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
            MEDIA_ROOT=str(tmp_path / "media"),
            CELERY_TASK_ALWAYS_EAGER="1",
            EMAIL_URL=None,
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "notifications mailed: 0" not in result.stdout, result.stdout

    link = f"http://127.0.0.1:8765/disputes/{dispute.pk}/"
    messages = []
    for path in mail_dir.iterdir():
        for raw in re.split(rb"\n-{79}\n", path.read_bytes()):
            if raw.strip():
                messages.append(email.message_from_bytes(raw.lstrip()))
    assert {m["To"] for m in messages} >= {alice.email, bobs_store.owner.email}
    for message in messages:
        body = "".join(
            part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            for part in message.walk()
            if part.get_content_maintype() == "text"
        )
        assert link in body, body[:400]
        assert "127.0.0.1:8000" not in body
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
