"""Errors as RFC 9457 problem details (``application/problem+json``), each with a stable
``type`` a client can switch on."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

PROBLEM_BASE = "https://dispute-portal.example/problems/"
CONTENT_TYPE = "application/problem+json"

# type -> (status, title)
PROBLEMS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "A valid API key is required"),
    "not-found": (404, "No such resource for this integration"),
    "validation": (422, "The request is not valid"),
    "bad-request": (400, "The request could not be read"),
    "conflict": (409, "The request conflicts with the current state"),
    "order-locked": (409, "The order's money or lines cannot change after shipment"),
    "idempotency-mismatch": (422, "This Idempotency-Key was used with a different request"),
    "idempotency-in-progress": (409, "A request with this Idempotency-Key is still running"),
    "rate-limited": (429, "Too many requests for this key"),
    "refused": (409, "The portal refused this action"),
    "server-error": (500, "The portal failed to answer"),
}


class Problem(Exception):
    def __init__(
        self,
        kind: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return PROBLEMS[self.kind][0]


def problem_response(request: HttpRequest, problem: Problem) -> JsonResponse:
    status, title = PROBLEMS[problem.kind]
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.kind,
        "title": title,
        "status": status,
        "instance": request.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE)
    for name, value in problem.headers.items():
        response[name] = value
    return response
