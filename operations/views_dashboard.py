"""The staff dashboard in the admin (``/admin/dashboard/``) and its CSV export of disputes.

For arbitrators (``accounts.roles.is_arbitrator``); portal/urls.py wraps both views in
``admin.site.admin_view``, so a visitor who is not signed in as staff goes to the admin's
log-in page and other staff get the portal's 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from accounts.roles import is_arbitrator
from operations.charts import PALETTE, Series, bar_chart, line_chart
from operations.dashboard import (
    WINDOWS,
    Dashboard,
    disputes_csv_lines,
    disputes_opened_between,
    staff_dashboard,
)
from operations.forms_dashboard import ExportForm, WindowForm
from operations.gauges import Gauge

# A day on the chart's axis ("28 Nov", "28 ноя"), and in full in the table and on hover.
SHORT_DAY = {"ru": "j b"}
LONG_DAY = {"ru": "D, j b Y"}


def _short_day(value: date) -> str:
    return date_format(value, SHORT_DAY.get(get_language() or "", "j M"))


def _long_day(value: date) -> str:
    return date_format(value, LONG_DAY.get(get_language() or "", "D j M Y"))


def duration_text(seconds: float) -> str:
    """'3 days 4 hours', '5 hours 12 minutes', '7 minutes', '0 minutes'."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        parts = [ngettext("%d day", "%d days", days) % days]
        if hours:
            parts.append(ngettext("%d hour", "%d hours", hours) % hours)
        return " ".join(parts)
    if hours:
        parts = [ngettext("%d hour", "%d hours", hours) % hours]
        if minutes:
            parts.append(ngettext("%d minute", "%d minutes", minutes) % minutes)
        return " ".join(parts)
    return ngettext("%d minute", "%d minutes", minutes) % minutes


def _age_unit(highest: float) -> tuple[float, str]:
    """Seconds per unit, and the unit's name, for ages up to ``highest`` seconds."""
    if highest >= 2 * 86400:
        return 86400.0, _("days")
    if highest >= 2 * 3600:
        return 3600.0, _("hours")
    return 60.0, _("minutes")


def _daily_chart(figures: Dashboard) -> dict[str, Any]:
    daily = figures.daily
    opened, ended = _("Disputes opened"), _("Disputes ended")
    title = ngettext(
        "Disputes opened and ended per day, last %(days)d day",
        "Disputes opened and ended per day, last %(days)d days",
        figures.window.days,
    ) % {"days": figures.window.days}
    summary = _("%(opened)d opened, %(ended)d ended") % {
        "opened": daily.total_opened,
        "ended": daily.total_ended,
    }
    svg = line_chart(
        title=title,
        summary=summary,
        x_labels=[_short_day(day) for day in daily.days],
        point_labels=[_long_day(day) for day in daily.days],
        series=[
            Series(opened, daily.opened, PALETTE[0]),
            Series(ended, daily.ended, PALETTE[1]),
        ],
    )
    rows = [
        (_long_day(day), o, e)
        for day, o, e in zip(daily.days, daily.opened, daily.ended, strict=True)
    ]
    return {"title": title, "svg": svg, "rows": list(reversed(rows)), "summary": summary}


def _outcome_chart(figures: Dashboard) -> dict[str, Any]:
    matrix = figures.outcomes
    title = _("Outcomes by reason, disputes that ended in the window")
    used = [(value, label) for value, label in matrix.outcomes if matrix.outcome_total(value)]
    shown = used or matrix.outcomes[:1]
    series = [
        Series(str(label), [matrix.count(reason, value) for reason, _r in matrix.reasons], colour)
        for (value, label), colour in zip(shown, PALETTE, strict=False)
    ]
    summary = ngettext("%(count)d dispute ended", "%(count)d disputes ended", matrix.total) % {
        "count": matrix.total
    }
    svg = bar_chart(
        title=title,
        summary=summary,
        categories=[str(label) for _value, label in matrix.reasons],
        series=series,
    )
    return {
        "title": title,
        "svg": svg,
        "summary": summary,
        "outcomes": [label for _value, label in matrix.outcomes],
        "rows": [
            (label, matrix.row(reason), matrix.reason_total(reason))
            for reason, label in matrix.reasons
        ],
        "totals": [matrix.outcome_total(value) for value, _label in matrix.outcomes],
        "total": matrix.total,
    }


def _queue_chart(figures: Dashboard) -> dict[str, Any]:
    queue = figures.queue
    title = _("The arbitration queue by age since escalation")
    summary = ngettext(
        "%(count)d escalated case open", "%(count)d escalated cases open", queue.total
    ) % {"count": queue.total}
    svg = bar_chart(
        title=title,
        summary=summary,
        categories=[band.label for band in queue.bands],
        series=[Series(_("Cases"), [band.count for band in queue.bands], PALETTE[0])],
        label_width=140,
    )
    oldest = None
    if queue.oldest_escalated_at is not None:
        oldest = duration_text((queue.now - queue.oldest_escalated_at).total_seconds())
    return {
        "title": title,
        "svg": svg,
        "summary": summary,
        "rows": [(band.label, band.count) for band in queue.bands],
        "total": queue.total,
        "oldest_age": oldest,
        "oldest_at": queue.oldest_escalated_at,
    }


def _gauge_charts(gauges: Sequence[tuple[Gauge, float]]) -> list[dict[str, Any]]:
    counts = [(gauge, value) for gauge, value in gauges if not gauge.is_age]
    ages = [(gauge, value) for gauge, value in gauges if gauge.is_age]
    charts = []
    if counts:
        title = _("Operational gauges: work waiting")
        charts.append(
            {
                "title": title,
                "svg": bar_chart(
                    title=title,
                    summary="; ".join(f"{gauge.label}: {value:.0f}" for gauge, value in counts),
                    categories=[str(gauge.label) for gauge, _value in counts],
                    series=[Series(_("Count"), [value for _g, value in counts], PALETTE[5])],
                    label_width=300,
                ),
                "rows": [(gauge, f"{value:.0f}") for gauge, value in counts],
            }
        )
    if ages:
        per_unit, unit = _age_unit(max(value for _g, value in ages))
        title = _("Operational gauges: how long the oldest has waited (%(unit)s)") % {"unit": unit}
        charts.append(
            {
                "title": title,
                "svg": bar_chart(
                    title=title,
                    summary="; ".join(
                        f"{gauge.label}: {duration_text(value)}" for gauge, value in ages
                    ),
                    categories=[str(gauge.label) for gauge, _value in ages],
                    series=[
                        Series(
                            unit,
                            [round(value / per_unit, 1) for _g, value in ages],
                            PALETTE[3],
                        )
                    ],
                    label_width=300,
                ),
                "rows": [(gauge, duration_text(value)) for gauge, value in ages],
            }
        )
    return charts


def _require_arbitrator(request: HttpRequest) -> None:
    if not is_arbitrator(request.user):
        raise PermissionDenied


def staff_dashboard_view(
    request: HttpRequest, *, export_form: ExportForm | None = None, status: int = 200
) -> HttpResponse:
    _require_arbitrator(request)
    days = WindowForm(request.GET).window()
    figures = staff_dashboard(days=days)
    resolution = figures.resolution
    today = timezone.localdate()
    context = {
        **admin.site.each_context(request),
        "title": _("Staff dashboard"),
        "figures": figures,
        "windows": WINDOWS,
        "days": days,
        "zone": timezone.get_current_timezone_name(),
        "daily": _daily_chart(figures),
        "outcomes": _outcome_chart(figures),
        "queue": _queue_chart(figures),
        "gauge_charts": _gauge_charts(figures.gauges),
        "median": (
            None if resolution.median_seconds is None else duration_text(resolution.median_seconds)
        ),
        "median_hours": resolution.median_hours,
        "ended": resolution.ended,
        "export_form": export_form
        or ExportForm(initial={"date_from": figures.window.first_day, "date_to": today}),
    }
    return TemplateResponse(request, "admin/operations/dashboard.html", context, status=status)


def disputes_csv_view(request: HttpRequest) -> HttpResponse:
    """The disputes opened in a range of days, as CSV, streamed row by row. A range that
    does not hold is shown on the dashboard again with what was typed and why (400)."""
    _require_arbitrator(request)
    form = ExportForm(request.GET)
    if not form.is_valid():
        return staff_dashboard_view(request, export_form=form, status=400)
    first, last = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    lines = disputes_csv_lines(disputes_opened_between(first=first, last=last))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="disputes-{first.isoformat()}-to-{last.isoformat()}.csv"'
    )
    return response
