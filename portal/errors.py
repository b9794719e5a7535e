"""The portal's own error pages (404, 403, 400, 500 and a refused form), whatever DEBUG says.

Django shows the pages of the handlers named in ``portal/urls.py`` (``handler404``...) only
while DEBUG is off. With DEBUG on (``make run``) it answers with its technical pages instead
(``django/core/handlers/exception.py`` reads ``settings.DEBUG``): a wrong address lists every URL
pattern of the portal, a bad request or a crash shows the traceback, the request and the
settings. No setting of Django turns those off with DEBUG on, so unless
``PORTAL_TECHNICAL_ERROR_PAGES`` asks for them (a developer's ``TECHNICAL_ERROR_PAGES=1`` with
``DEBUG=1``):

- ``PageReporter`` (``DEFAULT_EXCEPTION_REPORTER``, Django's hook for its technical 400 and 500
  page) renders the portal's 400 or 500 page instead; the traceback still goes to the log
  (the console of ``make run``), and a report mailed to admins keeps it in full;
- ``ErrorPagesMiddleware`` answers a 404 (no URL pattern matched, or a view raised
  ``Http404``) with the portal's page: Django's technical 404 has no hook.

A 403 (``PermissionDenied``) and a refused form (``CSRF_FAILURE_VIEW``) always use the portal's
views, DEBUG or not.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseServerError,
)
from django.shortcuts import render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.debug import ExceptionReporter
from django.views.decorators.csrf import requires_csrf_token


# --- the handlers (portal/urls.py) -----------------------------------------------------------
# Like Django's own (django/views/defaults.py) they may be called before CsrfViewMiddleware
# has run: requires_csrf_token gives the navigation's log-out form its token.
@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the same page for an address that never existed and for something this person
    may not see (a stranger learns nothing from it)."""
    return render(request, "404.html", status=404)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest | None = None) -> HttpResponse:
    """500: a page that needs nothing (no database, no request context) to be drawn."""
    return HttpResponseServerError(loader.render_to_string("500.html"))


@requires_csrf_token
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by the CSRF check (``CSRF_FAILURE_VIEW``): nearly always a page left open
    past a log-in, a log-out or an expired session. Nothing was done; the person goes back to
    the page (on this site only), reloads it and sends again."""
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    return render(request, "403_csrf.html", {"back": back}, status=403)


# --- with DEBUG on -----------------------------------------------------------------------------
def technical_pages_replaced() -> bool:
    """Whether the portal's pages stand in for Django's technical ones (only DEBUG has them)."""
    return settings.DEBUG and not settings.PORTAL_TECHNICAL_ERROR_PAGES


class PageReporter(ExceptionReporter):
    """Django's technical 400 and 500 page (DEBUG on) as the portal's 400 or 500 page.

    Only the page changes: the log keeps the traceback, and a report mailed to admins
    (``is_email``) is Django's full one.
    """

    def _as_page(self) -> bool:
        return not self.is_email and technical_pages_replaced()

    def _bad_request(self) -> bool:
        return self.exc_type is not None and issubclass(
            self.exc_type, (BadRequest, SuspiciousOperation)
        )

    def get_traceback_html(self) -> str:
        if not self._as_page():
            return super().get_traceback_html()
        if self._bad_request() and self.request is not None:
            return bad_request(self.request, self.exc_value).content.decode()
        return server_error(self.request).content.decode()

    def get_traceback_text(self) -> str:
        if not self._as_page():
            return super().get_traceback_text()
        if self._bad_request():
            return _("Bad request: the portal could not read what was sent.") + "\n"
        return _("Something went wrong on our side. Nothing was changed. Try again later.") + "\n"


class ErrorPagesMiddleware:
    """With DEBUG on, a 404 is the portal's page, not Django's list of URL patterns.

    Sits inside the middleware that add headers (Content-Security-Policy, X-Frame-Options,
    Cache-Control) and after the session and authentication, so the page it draws gets them
    and shows the person's menu.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.resolver_match is None
            and technical_pages_replaced()
        ):
            # No URL pattern matched (a view's 404 goes through process_exception).
            response = page_not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and technical_pages_replaced():
            return page_not_found(request, exception)
        return None
