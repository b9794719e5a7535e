"""The parts ``/health/`` checks, each named as the report names it: database, cache, broker,
storage, scheduler (django-health-check 4.x checks; a failure raises ``ServiceUnavailable``
with a short reason, never a secret)."""

from __future__ import annotations

import dataclasses
import datetime
import os
from pathlib import Path

from celery import current_app
from django.conf import settings
from health_check import checks
from health_check.base import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable

from operations.heartbeat import DEADLINE_SWEEP, sweep_freshness


class Database(checks.Database):
    """``SELECT 1`` on a connection of its own."""

    def __repr__(self) -> str:
        return "database"


class Cache(checks.Cache):
    """Set and read back a key (Redis when REDIS_URL is set, else the process's memory)."""

    async def run(self) -> None:
        try:
            await super().run()
        except HealthCheckException as exc:
            raise ServiceUnavailable(f"cannot reach the cache ({exc.message})") from exc
        except Exception as exc:  # django-redis wraps the client's errors in its own
            raise ServiceUnavailable(f"cannot reach the cache ({type(exc).__name__})") from exc

    def __repr__(self) -> str:
        return "cache"


class Storage(checks.Storage):
    """Write, read back and delete a small file in the default storage (disk or S3)."""

    def __repr__(self) -> str:
        return "storage"


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker that is actually configured: Redis (connect and PING), or the
    folder-based broker of the embedded ``make run`` default (its folders are there and
    writable)."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=3), repr=False
    )

    def run(self) -> None:
        url = settings.CELERY_BROKER_URL
        if url.startswith("filesystem://"):
            self._check_folders()
            return
        seconds = self.timeout.total_seconds()
        try:
            with current_app.connection_for_write(
                url, connect_timeout=seconds, transport_options={"socket_timeout": seconds}
            ) as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=seconds)
                channel = connection.default_channel
                client = getattr(channel, "client", None)
                if client is not None and hasattr(client, "ping"):
                    client.ping()
        except Exception as exc:
            raise ServiceUnavailable(f"cannot reach the broker ({type(exc).__name__})") from exc

    @staticmethod
    def _check_folders() -> None:
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out"):
            folder = Path(options[key])
            if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
                raise ServiceUnavailable(f"the broker's folder {key} is missing or read-only")

    def __repr__(self) -> str:
        return "broker"


@dataclasses.dataclass
class Scheduler(HealthCheck):
    """The deadline sweep completed less than PORTAL_HEALTH_SWEEP_INTERVALS of its
    intervals ago: beat schedules it and a worker runs it."""

    sweep: str = DEADLINE_SWEEP

    def run(self) -> None:
        from django.db import connections

        try:
            freshness = sweep_freshness(name=self.sweep)
        finally:
            # Checks run in a thread of their own: give its connection back.
            connections.close_all()
        limit = int(freshness.limit.total_seconds())
        if freshness.age is None:
            raise ServiceUnavailable(f"no deadline sweep has completed yet (limit {limit} s)")
        if not freshness.is_fresh:
            raise ServiceUnavailable(
                f"the last deadline sweep completed {int(freshness.age.total_seconds())} s ago "
                f"(limit {limit} s)"
            )

    def __repr__(self) -> str:
        return "scheduler"


CHECKS = (Database, Cache, Broker, Storage, Scheduler)
