"""Shared set-up for the benchmarks: a PostgreSQL database of their own, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"


def setup_django(database: str = "portal_bench") -> str:
    """Point Django at the benchmark database ``database`` (created if missing) and migrate
    it. Each benchmark that keeps data of its own between runs names its own database."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {database!r}")
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        parsed = urlparse(base)
        url = urlunparse(parsed._replace(path=f"/{database}"))
    else:
        url = urlunparse(urlparse(DEFAULT_URL)._replace(path=f"/{database}"))
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
                "SELECT 1 FROM pg_database WHERE datname = %s", [database]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')
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
