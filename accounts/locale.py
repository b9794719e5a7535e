"""Each person's language and time zone: the pages they read and the mail they get.

The language is the person's saved choice, then the browser's (``Accept-Language``, by
Django's LocaleMiddleware), remembered for them on their first visit signed in (their mail
needs one); the time zone is the person's saved one, else the one the
browser reported on the first visit (the ``tz`` cookie, set by static/js/timezone.js),
else UTC. Deadlines stay stored and computed in UTC: only what is shown changes."""

from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

TZ_COOKIE = "tz"


@cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_zone(name: str | None) -> str | None:
    return name if name and name in zone_names() else None


def language_of(person: Any) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    chosen = getattr(person, "language", "") or ""
    return chosen if chosen in codes else settings.LANGUAGE_CODE


def zone_of(person: Any) -> zoneinfo.ZoneInfo:
    name = valid_zone(getattr(person, "time_zone", "") or "") or settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)


@contextlib.contextmanager
def as_reader(person: Any) -> Iterator[None]:
    """Render for this person (a mail): their language and their time zone."""
    with translation.override(language_of(person)), timezone.override(zone_of(person)):
        yield


def browser_language(request: HttpRequest) -> str:
    """The language LocaleMiddleware took from the browser (its ``Accept-Language`` or the
    language cookie), or "" when the browser asked for none."""
    asked = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or request.META.get(
        "HTTP_ACCEPT_LANGUAGE"
    )
    code = getattr(request, "LANGUAGE_CODE", "")
    return code if asked and code in dict(settings.LANGUAGES) else ""


class PersonalLocaleMiddleware:
    """After authentication: the person's saved language and time zone win; a first visit's
    browser language and zone are remembered for them (their mail is written in them)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        # timezone.js writes the zone URL-encoded ("Asia%2FNovosibirsk"): read it decoded.
        guessed = valid_zone(unquote(request.COOKIES.get(TZ_COOKIE, "")))
        if user is not None and user.is_authenticated:
            if user.language and user.language in dict(settings.LANGUAGES):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            elif browser_language(request):
                # Never chosen: the language the browser asked for (LocaleMiddleware's pick)
                # is remembered like the zone, so the person's mail is in it too.
                code = browser_language(request)
                get_user_model().objects.filter(pk=user.pk, language="").update(language=code)
                user.language = code
            if not user.time_zone and guessed:
                get_user_model().objects.filter(pk=user.pk, time_zone="").update(time_zone=guessed)
                user.time_zone = guessed
            zone = valid_zone(user.time_zone) or guessed
        else:
            zone = guessed
        if zone:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        request.time_zone = zone or settings.TIME_ZONE
        return self.get_response(request)
