"""``/metrics``: refused without its token (or, with none set, from anywhere but the machine
itself); with it, django-prometheus's metrics and every portal gauge with its value."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from operations.gauges import GAUGES
from operations.heartbeat import DEADLINE_SWEEP, sweep_completed
from tests.operations.data import small_marketplace

TOKEN = "scrape-me-" + "x" * 20


def samples(response) -> dict[str, float]:
    text = response.content.decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


@pytest.fixture
def token(settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": "Bearer "},
    ],
    ids=["no header", "wrong token", "wrong scheme", "empty token"],
)
def test_refused_without_its_token(client, token, headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"portal_" not in response.content


@pytest.mark.django_db
def test_the_token_is_needed_even_from_the_machine_itself(client, token):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "headers", "allowed"),
    [
        ("127.0.0.1", {}, True),
        ("::1", {}, True),
        ("10.0.0.7", {}, False),
        ("203.0.113.9", {}, False),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, False),
    ],
    ids=["loopback", "ipv6 loopback", "private network", "public", "through a proxy"],
)
def test_without_a_token_only_the_machine_itself(client, settings, remote, headers, allowed):
    settings.PORTAL_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == (200 if allowed else 401)


@pytest.mark.django_db
def test_a_logged_in_person_without_the_token_is_refused(client, token, alice):
    """Being logged in is not the token."""
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401


def test_every_portal_gauge_with_its_value(client, token, now, alice, carol, bobs_store):
    expected = small_marketplace(now=now, alice=alice, carol=carol, bobs_store=bobs_store)
    sweep_completed(name=DEADLINE_SWEEP, at=now)
    with time_machine.travel(now + timedelta(seconds=42), tick=False):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = samples(response)
    for gauge in GAUGES:
        want = expected[gauge.key]
        if gauge.is_age:
            want += 42  # scraped 42 s after the data's "now"
        assert values[f"portal_{gauge.key}"] == pytest.approx(want), gauge.key
    text = response.content.decode()
    assert f'portal_sweep_last_completed_age_seconds{{sweep="{DEADLINE_SWEEP}"}} 42.0' in text
    # django-prometheus's own: requests, and the database and cache wrappers.
    assert "django_http_requests_before_middlewares_total" in text
    assert "django_db_execute_total" in text
    assert "django_cache_get_total" in text
