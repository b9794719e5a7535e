"""JSON logs with the ids an operator searches by: django-structlog binds ``request_id`` and
``user_id`` for a request (its RequestMiddleware) and ``task_id`` for a Celery task; this
module adds ``dispute_id`` on the lines of a dispute's pages, and wires the worker side.

Lower apps bind the dispute they handle with structlog's contextvars directly
(``structlog.contextvars.bound_contextvars(dispute_id=...)``); every line logged inside,
structlog's or the standard library's, carries it (settings.LOGGING merges the context
into both)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve

# The dispute pages: disputes/<int:pk>/... in the portal, and the dispute in the admin.
DISPUTE_ROUTE_PREFIX = "disputes/<int:pk>/"
ADMIN_DISPUTE_URL_NAMES = ("disputes_dispute_change", "disputes_dispute_history")


def dispute_id_of(match: ResolverMatch | None) -> int | None:
    """The dispute a URL is about."""
    if match is None:
        return None
    if match.namespace == "disputes" and match.route.startswith(DISPUTE_ROUTE_PREFIX):
        value = match.kwargs.get("pk")
    elif match.url_name in ADMIN_DISPUTE_URL_NAMES:
        value = match.kwargs.get("object_id")
    else:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DisputeLogContextMiddleware:
    """Bind ``dispute_id`` before django-structlog's RequestMiddleware (just inside this
    one) logs the request's first line; that middleware clears the context when the
    request ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        dispute_id = dispute_id_of(match)
        if dispute_id is not None:
            structlog.contextvars.bind_contextvars(dispute_id=dispute_id)
        return self.get_response(request)


_worker_receiver: Any = None


def _worker_signals(receiver: Any) -> list[tuple[Any, Any]]:
    """The task-side signals of django-structlog's worker boot step (the publishing side is
    connected in every process by django-structlog itself)."""
    from celery import signals

    return [
        (signals.task_prerun, receiver.receiver_task_prerun),
        (signals.task_retry, receiver.receiver_task_retry),
        (signals.task_success, receiver.receiver_task_success),
        (signals.task_failure, receiver.receiver_task_failure),
        (signals.task_revoked, receiver.receiver_task_revoked),
        (signals.task_unknown, receiver.receiver_task_unknown),
        (signals.task_rejected, receiver.receiver_task_rejected),
    ]


def connect_worker_logging(**kwargs: Any) -> None:
    """In a Celery worker (``worker_init``): bind ``task_id`` (and the task's name) for the
    lines of each task and log its start and end, as django-structlog's worker boot step
    does. Connected only in workers: an eager task inside a request must not clear the
    request's context."""
    global _worker_receiver
    if _worker_receiver is not None:
        return
    from django_structlog.celery.receivers import CeleryReceiver

    _worker_receiver = CeleryReceiver()
    for signal, method in _worker_signals(_worker_receiver):
        signal.connect(method)


def disconnect_worker_logging() -> None:
    """Undo ``connect_worker_logging`` (a process that stops acting as a worker: tests)."""
    global _worker_receiver
    if _worker_receiver is None:
        return
    for signal, method in _worker_signals(_worker_receiver):
        signal.disconnect(method)
    _worker_receiver = None
