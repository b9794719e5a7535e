"""The sweeps' heartbeats: a periodic task reports each completed run here (through
``settings.PORTAL_SWEEP_HOOK``, so that the lower app never imports this one), and the
health check asks whether the last run is recent enough."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from operations.models import SweepHeartbeat

# The sweep whose freshness says the scheduler is alive: the dispute deadlines' (its task's
# name, which is what a task reports itself as).
DEADLINE_SWEEP = "disputes.tasks.sweep_dispute_deadlines"


def sweep_completed(*, name: str, at: datetime, duration_ms: int = 0, result: Any = None) -> None:
    """Record that the sweep ``name`` (its task's name) completed at ``at``:
    one upsert, whatever the number of runs."""
    SweepHeartbeat.objects.bulk_create(
        [SweepHeartbeat(name=name, completed_at=at, duration_ms=duration_ms, result=result or {})],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["completed_at", "duration_ms", "result"],
    )


def sweep_interval(name: str = DEADLINE_SWEEP) -> timedelta:
    """How often beat runs the sweep (its entry in CELERY_BEAT_SCHEDULE)."""
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == name]
    if not entries:
        raise LookupError(f"{name} is not in CELERY_BEAT_SCHEDULE")
    schedule = entries[0]["schedule"]
    schedule = getattr(schedule, "run_every", schedule)  # a celery.schedules.schedule
    if isinstance(schedule, timedelta):
        return schedule
    return timedelta(seconds=float(schedule))


def stale_after(name: str = DEADLINE_SWEEP) -> timedelta:
    return sweep_interval(name) * settings.PORTAL_HEALTH_SWEEP_INTERVALS


@dataclass(frozen=True)
class Freshness:
    name: str
    completed_at: datetime | None
    limit: timedelta
    now: datetime

    @property
    def age(self) -> timedelta | None:
        return None if self.completed_at is None else self.now - self.completed_at

    @property
    def is_fresh(self) -> bool:
        return self.age is not None and self.age < self.limit


def sweep_freshness(*, name: str = DEADLINE_SWEEP, now: datetime | None = None) -> Freshness:
    now = now or timezone.now()
    completed_at = (
        SweepHeartbeat.objects.filter(name=name).values_list("completed_at", flat=True).first()
    )
    return Freshness(name=name, completed_at=completed_at, limit=stale_after(name), now=now)


def sweep_at_beat_start(sender: Any = None, **kwargs: Any) -> None:
    """Beat (``beat_init``) runs an interval-scheduled task first one interval after it
    starts; queue the deadline sweep at once instead, so that a freshly started portal shows
    a heartbeat on /health/ within seconds, not after a minute."""
    from celery import current_app

    app = getattr(sender, "app", None) or current_app
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == DEADLINE_SWEEP)
    app.send_task(DEADLINE_SWEEP, **entry.get("options", {}))
