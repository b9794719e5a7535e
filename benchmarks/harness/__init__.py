"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"


def setup_django() -> str:
    """Point Django at the benchmark database (created if missing) and migrate it."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        parsed = urlparse(base)
        url = urlunparse(parsed._replace(path="/portal_bench"))
    else:
        url = DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # The benchmarks run the portal as deployed (DEBUG off), with a throw-away key.
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
    os.environ.pop("REDIS_URL", None)

    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'portal_bench'"
            ).fetchone()
            if not exists:
                conn.execute("CREATE DATABASE portal_bench")
    except psycopg.OperationalError as exc:
        sys.exit(f"the benchmarks need PostgreSQL ({url}): {exc}")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def bench_line(name: str, value: float, unit: str, baseline: float) -> str:
    ratio = value / baseline if baseline else 0.0
    return f"BENCH {name} {value:.0f} {unit} baseline={baseline:.0f} ratio={ratio:.3f}"
