"""JSON logs: a line from a request to a dispute's page carries request_id, user_id and
dispute_id; a line from a task carries task_id; the portal's own stdlib log lines carry the
same context."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from django.conf import settings as django_settings

from disputes.tasks import sweep_dispute_deadlines
from operations.logging import connect_worker_logging, disconnect_worker_logging
from tests.factories import make_order, open_dispute
from tests.operations.data import claim

logger = logging.getLogger("tests.operations")


@pytest.fixture
def log_lines():
    """Every line the root logger writes, as the deployed JSON formatter writes it."""
    config = dict(django_settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**config))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def dispute(alice, bobs_store, now):
    order = make_order(buyer=alice, store=bobs_store, shipped_at=now)
    return open_dispute(line=order.lines.get(), buyer=alice, request=claim(), now=now)


def test_a_dispute_page_logs_request_user_and_dispute(client, alice, dispute, log_lines):
    client.force_login(alice)
    response = client.get(f"/disputes/{dispute.pk}/")
    assert response.status_code == 200
    lines = [line for line in log_lines() if line.get("logger", "").startswith("django_structlog")]
    events = {line["event"] for line in lines}
    assert {"request_started", "request_finished"} <= events
    for line in lines:
        assert line["request_id"]
        assert line["user_id"] == alice.pk
        assert line["dispute_id"] == dispute.pk
        assert line["level"] and line["timestamp"]
    assert len({line["request_id"] for line in lines}) == 1


def test_another_page_has_no_dispute_id_and_a_new_request_id(client, alice, dispute, log_lines):
    client.force_login(alice)
    client.get(f"/disputes/{dispute.pk}/")
    client.get("/disputes/")
    first, second = (
        [line for line in log_lines() if line["event"] == "request_finished"][i] for i in (0, 1)
    )
    assert "dispute_id" not in second
    assert second["request_id"] != first["request_id"]
    assert second["user_id"] == alice.pk


def test_a_notification_pk_is_not_taken_for_a_dispute(client, alice, dispute, log_lines):
    client.force_login(alice)
    client.get("/notifications/99999/")
    assert all("dispute_id" not in line for line in log_lines())


def test_stdlib_lines_carry_the_bound_context(log_lines):
    with structlog.contextvars.bound_contextvars(request_id="r-1", user_id=7, dispute_id=42):
        logger.warning("pushed aside by the sweep: %s", "boom")
    (line,) = [line for line in log_lines() if line["logger"] == "tests.operations"]
    assert line["event"] == "pushed aside by the sweep: boom"
    assert (line["request_id"], line["user_id"], line["dispute_id"]) == ("r-1", 7, 42)
    assert line["level"] == "warning"


def hook_that_logs(**kwargs):
    logger.info("sweep reported")


@pytest.fixture
def worker_logging():
    connect_worker_logging()
    yield
    disconnect_worker_logging()


def test_a_task_line_carries_the_task_id(db, settings, worker_logging, log_lines):
    """The worker's signals (connected at worker_init) bind task_id for each task: the
    task's own lines and the portal's lines inside it carry it."""
    settings.PORTAL_SWEEP_HOOK = [
        "operations.heartbeat.sweep_completed",
        f"{__name__}.hook_that_logs",
    ]
    result = sweep_dispute_deadlines.apply()
    lines = log_lines()
    ours = [line for line in lines if line["event"] == "sweep reported"]
    assert ours and ours[0]["task_id"] == result.id
    started = [line for line in lines if line["event"] == "task_started"]
    assert started[0]["task_id"] == result.id
    assert started[0]["task"] == sweep_dispute_deadlines.name
