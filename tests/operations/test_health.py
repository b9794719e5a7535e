"""``/health/``: 200 with every part up; 503 naming the part that is down (Redis stopped,
the scheduler silent for three intervals, the embedded broker's folder gone).

The checks run in threads of their own (django-health-check), on connections of their own:
these tests commit what they write (``transaction=True``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from disputes.tasks import sweep_dispute_deadlines
from operations.heartbeat import DEADLINE_SWEEP, stale_after, sweep_completed
from operations.models import SweepHeartbeat

PARTS = {"database", "cache", "broker", "storage", "scheduler"}

pytestmark = pytest.mark.django_db(transaction=True)


def health(client, **params):
    response = client.get("/health/", params)
    return response.status_code, response.json()


def down(report: dict[str, str]) -> set[str]:
    return {part for part, status in report.items() if status != "OK"}


@pytest.fixture
def swept():
    """The beat-scheduled deadline sweep ran once, just now."""
    sweep_dispute_deadlines()


def test_everything_up_answers_200_naming_every_part(client, swept):
    status, report = health(client)
    assert status == 200
    assert report == dict.fromkeys(PARTS, "OK")


def test_plain_text_for_monitors(client, swept):
    response = client.get("/health/", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert sorted(response.content.decode().splitlines()) == sorted(f"{p}: OK" for p in PARTS)
    assert "no-cache" in response["Cache-Control"]


def test_a_sweep_run_records_its_heartbeat(swept):
    beat = SweepHeartbeat.objects.get(name=DEADLINE_SWEEP)
    assert timezone.now() - beat.completed_at < timedelta(seconds=30)
    assert set(beat.result) >= {"moved", "failed", "reminders"}


def test_no_sweep_ever_is_a_503_naming_the_scheduler(client):
    status, report = health(client)
    assert status == 503
    assert down(report) == {"scheduler"}
    assert "no deadline sweep has completed yet" in report["scheduler"]


def test_a_sweep_older_than_three_intervals_is_a_503_then_a_sweep_makes_it_200(client, settings):
    limit = stale_after()
    assert limit == timedelta(seconds=3 * settings.SWEEP_INTERVAL_SECONDS)
    sweep_completed(name=DEADLINE_SWEEP, at=timezone.now() - limit - timedelta(seconds=5))
    status, report = health(client)
    assert status == 503
    assert down(report) == {"scheduler"}
    assert "the last deadline sweep completed" in report["scheduler"]

    sweep_dispute_deadlines()
    status, report = health(client)
    assert (status, down(report)) == (200, set())


def test_a_sweep_just_inside_three_intervals_is_still_healthy(client):
    sweep_completed(name=DEADLINE_SWEEP, at=timezone.now() - stale_after() + timedelta(seconds=20))
    assert health(client)[0] == 200


def test_other_sweeps_do_not_stand_in_for_the_deadline_sweep(client):
    from disputes.tasks import deliver_pending_notifications

    deliver_pending_notifications()
    assert SweepHeartbeat.objects.filter(name=deliver_pending_notifications.name).exists()
    status, report = health(client)
    assert (status, down(report)) == (503, {"scheduler"})


@pytest.mark.redis
@pytest.mark.xdist_group("shared-services")
def test_redis_stopped_is_a_503_naming_cache_and_broker(client, swept, private_redis, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": private_redis["url"],
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    settings.CELERY_BROKER_URL = private_redis["url"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    assert health(client) == (200, dict.fromkeys(PARTS, "OK"))

    private_redis["proc"].terminate()
    private_redis["proc"].wait(10)
    status, report = health(client)
    assert status == 503
    assert down(report) == {"cache", "broker"}
    assert "cache" in report["cache"] and "broker" in report["broker"]

    # Back up: healthy again, with nothing restarted on the portal's side.
    private_redis["proc"] = private_redis["start"]()
    status, report = health(client)
    assert (status, down(report)) == (200, set())


def test_the_embedded_broker_is_checked_as_configured(client, swept, settings, tmp_path):
    """With no REDIS_URL (`make run`), the broker is a folder: healthy while it is there."""
    folder = tmp_path / "broker"
    folder.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
    }
    assert health(client)[0] == 200

    folder.rmdir()
    status, report = health(client)
    assert (status, down(report)) == (503, {"broker"})
