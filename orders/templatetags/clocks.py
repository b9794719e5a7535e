"""Running clocks on pages: a live countdown next to the absolute date and time."""

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
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


def countdown_html(
    until: datetime | None, now: datetime | None = None, label: str = "", ended: str = ""
) -> str:
    """A live countdown (``static/js/countdown.js`` keeps it running) beside the absolute
    date and time. ``ended`` is what the clock says once it has run out ("late", "overdue");
    by default "time is up". Built in Python, not with a template: list pages show one per
    row, and an included template per row cost more than the rest of the row."""
    if not until:
        return ""
    now = now or timezone.now()
    past = until <= now
    iso = until.isoformat()
    return format_html(
        '<span class="clock{}"><time class="countdown" role="timer" aria-live="off"'
        ' datetime="{}" data-countdown="{}" data-ended="{}">{}</time>'
        ' <small class="abs">{}({})</small></span>',
        " clock-past" if past else "",
        iso,
        iso,
        ended or _("time is up"),
        ended if past and ended else remaining_text(until, now),
        f"{label} " if label else "",
        _("until %(absolute)s") % {"absolute": absolute(until)},
    )


@register.simple_tag
def countdown(
    until: datetime | None, now: datetime | None = None, label: str = "", ended: str = ""
) -> str:
    """``{% countdown until now label=... ended=... %}``: see ``countdown_html``."""
    return countdown_html(until, now, label, ended)
