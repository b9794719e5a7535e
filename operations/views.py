"""``/health/``: for load balancers and monitors, JSON by default, plain text when asked
(``?format=text`` or ``Accept: text/plain``); 200 when every part is up, 503 naming the part
that is down."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.decorators import method_decorator
from django.views import View
from health_check.views import HealthCheckView, MediaType

from operations.checks import CHECKS


def _wants_text(request: HttpRequest) -> bool:
    if request.GET.get("format") in ("text", "json"):
        return request.GET["format"] == "text"
    try:
        preferred = next(MediaType.parse_header(request.headers.get("Accept", "*/*")), None)
    except ValueError:
        return False
    return preferred is not None and preferred.mime_type in ("text/plain", "text/*")


class HealthView(HealthCheckView):
    checks = CHECKS

    # A plain (sync) view: the package's async one is wrapped by Django in async_to_sync under
    # WSGI, which refuses to run in a thread that already has an event loop (a test process
    # driving a browser has one). The checks still run side by side on their own loop.
    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = View.dispatch(self, request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        add_never_cache_headers(response)
        return response

    async def _gather(self) -> list[Any]:
        with self.get_executor() as executor:
            return list(
                await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
            )

    def _run_checks(self) -> list[Any]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._gather())
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._gather()).result()

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.results = self._run_checks()
        status = 503 if any(result.error for result in self.results) else 200
        if _wants_text(request):
            return self.render_to_response_text(status)
        return self.render_to_response_json(status)
