"""Running clocks on pages: a live countdown next to the absolute date and time."""

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

register = template.Library()


def remaining_text(until: datetime, now: datetime) -> str:
    """'4 days 3 hours', '3 hours 12 minutes', '5 minutes' (what the JS keeps updating)."""
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return _("time is up")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return " ".join(
            [ngettext("%d day", "%d days", days) % days]
            + ([ngettext("%d hour", "%d hours", hours) % hours] if hours else [])
        )
    if hours:
        return " ".join(
            [ngettext("%d hour", "%d hours", hours) % hours]
            + ([ngettext("%d minute", "%d minutes", minutes) % minutes] if minutes else [])
        )
    minutes = max(minutes, 1)
    return ngettext("%d minute", "%d minutes", minutes) % minutes


# How each language writes a date and time with its zone ("28 Nov 2026, 14:00 UTC",
# "28 ноя 2026, 21:00 +07"); other languages take the English pattern.
ABSOLUTE_FORMATS = {"ru": "j b Y, H:i T"}


@register.filter
def absolute(value: datetime | None) -> str:
    """28 Nov 2026, 14:00 UTC, in the reader's language and time zone."""
    if value is None:
        return ""
    pattern = ABSOLUTE_FORMATS.get(get_language() or "", "j M Y, H:i T")
    return date_format(timezone.localtime(value), pattern)


# A day alone ("28 Nov 2026", "28 ноя 2026": a Russian month is not capitalised).
DAY_FORMATS = {"ru": "j b Y"}


@register.filter(expects_localtime=True)
def day(value: date | datetime | None) -> str:
    """28 Nov 2026, in the reader's language (a moment: its day in the reader's zone)."""
    if value is None or value == "":
        return ""
    return date_format(value, DAY_FORMATS.get(get_language() or "", "j M Y"))


@register.filter
def timeleft(value: datetime | None) -> str:
    """'4 days 3 hours' from now."""
    return remaining_text(value, timezone.now()) if value else ""


@register.inclusion_tag("includes/countdown.html")
def countdown(
    until: datetime | None, now: datetime | None = None, label: str = "", ended: str = ""
) -> dict:
    """``ended`` is what the clock says once it has run out ("late", "overdue"); by default
    "time is up"."""
    now = now or timezone.now()
    past = bool(until and until <= now)
    return {
        "until": until,
        "iso": until.isoformat() if until else "",
        "text": (ended if past and ended else remaining_text(until, now)) if until else "",
        "absolute": absolute(until),
        "past": past,
        "label": label,
        "ended": ended,
    }
