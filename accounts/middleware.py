"""Pages served to a logged-in person are theirs alone."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PRIVATE_PAGE_CACHE_CONTROL = "private, no-store"


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on every answer to a logged-in person.

    Neither a shared cache nor the browser keeps a copy of a page with someone's orders,
    disputes or money (the back button after logging out on a shared computer shows nothing).
    A response that already says how to cache it (evidence files, ``never_cache`` views) is
    left as it is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE_PAGE_CACHE_CONTROL
        return response
