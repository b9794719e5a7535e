"""Prometheus metrics: django-prometheus's own (requests, database, cache) and the
portal's operational gauges, computed when Prometheus scrapes (one query for them all).

Processes: under gunicorn each worker process keeps its own django-prometheus counters,
so a scrape sees the counters of whichever process answered it. The portal's gauges do
not care (they are read from the database at scrape time). For exact request counters
across processes, set PROMETHEUS_MULTIPROC_DIR to an empty folder before the processes
start (prometheus_client's multiprocess mode): the view then merges every process's files.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from ipaddress import ip_address

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from operations.gauges import GAUGES, operational_gauges
from operations.models import SweepHeartbeat

PREFIX = "portal_"


class PortalGauges(Collector):
    """The operational gauges (``portal_<key>``) and each sweep's heartbeat age."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        values = operational_gauges(now)
        with translation.override("en"):
            for gauge in GAUGES:
                yield GaugeMetricFamily(
                    PREFIX + gauge.key, str(gauge.help), value=values[gauge.key]
                )
        ages = GaugeMetricFamily(
            PREFIX + "sweep_last_completed_age_seconds",
            "Seconds since each periodic sweep last completed.",
            labels=["sweep"],
        )
        for name, completed_at in SweepHeartbeat.objects.values_list("name", "completed_at"):
            ages.add_metric([name], max(0.0, (now - completed_at).total_seconds()))
        yield ages


def registry() -> prometheus_client.CollectorRegistry:
    """django-prometheus's metrics (this process's, or every process's in multiprocess
    mode) and the portal's gauges."""
    merged = prometheus_client.CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(merged)
    else:
        merged.register(_Default())
    merged.register(PortalGauges())
    return merged


class _Default(Collector):
    """The process-wide default registry, read through (django-prometheus registers there)."""

    def collect(self) -> Iterator[object]:
        yield from prometheus_client.REGISTRY.collect()


LOCAL_ADDRESSES = {ip_address("127.0.0.1"), ip_address("::1")}


def is_allowed(request: HttpRequest) -> bool:
    """With PORTAL_METRICS_TOKEN set: ``Authorization: Bearer <token>`` only. Without one:
    only a request from the machine itself that did not come through a proxy."""
    token = settings.PORTAL_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ip_address(request.META.get("REMOTE_ADDR", "")) in LOCAL_ADDRESSES
    except ValueError:
        return False


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(
        prometheus_client.generate_latest(registry()),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
