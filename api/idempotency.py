"""``Idempotency-Key`` on POST: the first answer is kept and replayed for 24 hours; the same
key with a different request is refused; a second request while the first still runs is
told to wait. Server errors are not kept (the client should retry them)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from api.models import IdempotentResponse
from api.problems import Problem, problem_response
from api.services import ApiRefusal

HEADER = "HTTP_IDEMPOTENCY_KEY"
# A first request still without an answer after this long has died; its key may be reused.
STALE_CLAIM = timedelta(minutes=2)


def _request_digest(request: HttpRequest) -> str:
    material = b"\n".join([request.method.encode(), request.path.encode(), request.body])
    return hashlib.sha256(material).hexdigest()


def _claim(integration, key: str, digest: str) -> IdempotentResponse | None:
    """The stored answer to replay, or None if this request is the first (now claimed)."""
    fresh_after = timezone.now() - settings.PORTAL_IDEMPOTENCY_TTL
    IdempotentResponse.objects.filter(
        integration=integration, key=key, created_at__lt=fresh_after
    ).delete()
    try:
        with transaction.atomic():
            IdempotentResponse.objects.create(
                integration=integration, key=key, request_digest=digest
            )
        return None
    except IntegrityError:
        stored = IdempotentResponse.objects.filter(integration=integration, key=key).first()
        if stored is None:  # the first request's claim went away meanwhile: claim it now
            return _claim(integration, key, digest)
    if stored.status is None and timezone.now() - stored.created_at > STALE_CLAIM:
        # The first request died without an answer (a killed worker): let this one run.
        IdempotentResponse.objects.filter(pk=stored.pk, status__isnull=True).delete()
        return _claim(integration, key, digest)
    if stored.request_digest != digest:
        raise Problem(
            "idempotency-mismatch",
            "This Idempotency-Key was first used with a different request; use a new key.",
        )
    if stored.status is None:
        raise Problem(
            "idempotency-in-progress",
            "The first request with this key is still running; retry in a moment.",
            headers={"Retry-After": "1"},
        )
    return stored


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a POST operation that returns an ``HttpResponse`` (and raises ``Problem``)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = request.META.get(HEADER, "").strip()
        if not key:
            try:
                return view(request, *args, **kwargs)
            except Problem as problem:
                return problem_response(request, problem)
            except ApiRefusal as refusal:
                return problem_response(request, Problem(refusal.kind, refusal.detail))
        if len(key) > 255:
            return problem_response(
                request, Problem("validation", "Idempotency-Key is longer than 255 characters.")
            )
        integration = request.auth.integration
        try:
            stored = _claim(integration, key, _request_digest(request))
        except Problem as problem:
            return problem_response(request, problem)
        if stored is not None:
            response = HttpResponse(
                bytes(stored.body), status=stored.status, content_type=stored.content_type
            )
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view(request, *args, **kwargs)
        except Problem as problem:
            response = problem_response(request, problem)
        except ApiRefusal as refusal:  # a refusal is an answer, kept like any other
            response = problem_response(request, Problem(refusal.kind, refusal.detail))
        except BaseException:
            IdempotentResponse.objects.filter(integration=integration, key=key).delete()
            raise
        if response.status_code >= 500 or response.status_code == 429:
            IdempotentResponse.objects.filter(integration=integration, key=key).delete()
        else:
            IdempotentResponse.objects.filter(integration=integration, key=key).update(
                status=response.status_code,
                body=response.content,
                content_type=response.get("Content-Type", "application/json"),
            )
        return response

    return wrapper


def idempotent_responses_purge() -> int:
    cutoff = timezone.now() - settings.PORTAL_IDEMPOTENCY_TTL
    return IdempotentResponse.objects.filter(created_at__lt=cutoff).delete()[0]
