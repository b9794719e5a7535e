"""The staff dashboard's figures (selectors: reads only).

Every figure is one aggregate statement whatever the number of disputes: per-day counts are
``GROUP BY`` the day in the reader's time zone (``TruncDate`` with the active zone, so a
dispute opened at 23:30 in Novosibirsk counts on the reader's day, not UTC's), the outcomes
are ``GROUP BY reason, outcome_type``, the median time to resolution is PostgreSQL's
``percentile_cont`` (on SQLite, the ``make run`` default: a count, then the one or two
middle durations read with ``ORDER BY … LIMIT 2 OFFSET``), and the arbitration queue's age
is one pass over the escalated cases with a filtered ``COUNT`` per age band.

Indexes read: ``dispute_queue`` (state, escalated_at) for the queue; the opened/finished
windows read ``opened_at`` and ``finished_at``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Min,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import ngettext

from disputes.models import Dispute
from disputes.states import DisputeState, OutcomeType, Reason
from operations.gauges import Gauge, gauge_rows

# The windows a reader may pick (days, today included); the first page shows the default.
WINDOWS: tuple[int, ...] = (7, 30, 90)
DEFAULT_WINDOW = 30
# The queue's age bands start at these many days; the arbitration target and limit (from
# settings) are added as band edges, so "past the target" is always a band of its own.
QUEUE_BAND_STARTS: tuple[int, ...] = (0, 1, 3, 7)


# --- the window -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """The last ``days`` days in the reader's zone, today included: from local midnight of
    the first day to ``now``."""

    days: int
    first_day: date
    start: datetime
    now: datetime
    zone: tzinfo

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]


def dashboard_window(*, days: int, now: datetime, zone: tzinfo | None = None) -> Window:
    zone = zone or timezone.get_current_timezone()
    today = timezone.localtime(now, zone).date()
    first_day = today - timedelta(days=days - 1)
    start = datetime.combine(first_day, time.min).replace(tzinfo=zone)
    return Window(days=days, first_day=first_day, start=start, now=now, zone=zone)


# --- the figures ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DailyCounts:
    days: list[date]
    opened: list[int]
    ended: list[int]

    @property
    def total_opened(self) -> int:
        return sum(self.opened)

    @property
    def total_ended(self) -> int:
        return sum(self.ended)


@dataclass(frozen=True)
class OutcomeMatrix:
    """Disputes that ended in the window: per reason (rows), per outcome type (columns)."""

    reasons: list[tuple[str, Promise]]
    outcomes: list[tuple[str, Promise]]
    counts: dict[tuple[str, str], int]

    def count(self, reason: str, outcome: str) -> int:
        return self.counts.get((reason, outcome), 0)

    def row(self, reason: str) -> list[int]:
        return [self.count(reason, outcome) for outcome, _label in self.outcomes]

    def reason_total(self, reason: str) -> int:
        return sum(self.row(reason))

    def outcome_total(self, outcome: str) -> int:
        return sum(self.count(reason, outcome) for reason, _label in self.reasons)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Resolution:
    """How long the disputes that ended in the window took, opened to finished."""

    ended: int
    median_seconds: float | None

    @property
    def median_hours(self) -> float | None:
        return None if self.median_seconds is None else self.median_seconds / 3600


@dataclass(frozen=True)
class AgeBand:
    low_days: int
    high_days: int | None  # None: no upper end
    count: int

    @property
    def label(self) -> str:
        if self.high_days is None:
            return ngettext("%(low)d day or more", "%(low)d days or more", self.low_days) % {
                "low": self.low_days
            }
        return ngettext("%(low)d to %(high)d day", "%(low)d to %(high)d days", self.high_days) % {
            "low": self.low_days,
            "high": self.high_days,
        }


@dataclass(frozen=True)
class QueueAge:
    """The escalated cases open now, by how long they have waited since escalation."""

    bands: list[AgeBand]
    total: int
    oldest_escalated_at: datetime | None
    now: datetime

    @property
    def oldest_age_days(self) -> float | None:
        if self.oldest_escalated_at is None:
            return None
        return (self.now - self.oldest_escalated_at).total_seconds() / 86400


@dataclass(frozen=True)
class Dashboard:
    window: Window
    daily: DailyCounts
    outcomes: OutcomeMatrix
    resolution: Resolution
    queue: QueueAge
    gauges: list[tuple[Gauge, float]]


def _as_datetime(value: Any) -> datetime | None:
    """SQLite hands an aggregate's timestamp back as text."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def daily_counts(*, window: Window) -> DailyCounts:
    """Disputes opened per day and disputes that ended per day: two ``GROUP BY`` queries."""

    def per_day(field: str) -> dict[date, int]:
        rows = (
            Dispute.objects.filter(**{f"{field}__gte": window.start, f"{field}__lte": window.now})
            .order_by()
            .values(day=TruncDate(field, tzinfo=window.zone))
            .annotate(n=Count("*"))
            .values_list("day", "n")
        )
        return {_as_date(day): n for day, n in rows}

    opened = per_day("opened_at")
    ended = per_day("finished_at")
    days = window.day_list
    return DailyCounts(
        days=days,
        opened=[opened.get(day, 0) for day in days],
        ended=[ended.get(day, 0) for day in days],
    )


def _ended_in(window: Window) -> QuerySet[Dispute]:
    return Dispute.objects.filter(
        finished_at__gte=window.start, finished_at__lte=window.now
    ).order_by()


def outcomes_by_reason(*, window: Window) -> OutcomeMatrix:
    """Disputes that ended in the window, counted per reason and outcome type (one query)."""
    rows = (
        _ended_in(window)
        .values("reason", "outcome_type")
        .annotate(n=Count("*"))
        .values_list("reason", "outcome_type", "n")
    )
    return OutcomeMatrix(
        reasons=[(value, label) for value, label in Reason.choices],
        outcomes=[(value, label) for value, label in OutcomeType.choices],
        counts={(reason, outcome): n for reason, outcome, n in rows},
    )


class _Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5) WITHIN GROUP (ORDER BY …)``."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def _duration() -> ExpressionWrapper:
    return ExpressionWrapper(F("finished_at") - F("opened_at"), output_field=DurationField())


def resolution_time(*, window: Window) -> Resolution:
    """The median time from opening to finishing of the disputes that ended in the window."""
    ended = _ended_in(window)
    if connection.vendor == "postgresql":
        figures = ended.aggregate(n=Count("*"), median=_Median(_EpochSeconds(_duration())))
        median = figures["median"]
        return Resolution(
            ended=figures["n"], median_seconds=None if median is None else float(median)
        )
    # SQLite: how many, then only the one or two middle durations.
    count = ended.count()
    if count == 0:
        return Resolution(ended=0, median_seconds=None)
    offset = (count - 1) // 2
    middle = list(
        ended.annotate(took=_duration())
        .order_by("took")
        .values_list("took", flat=True)[offset : offset + 2 - count % 2]
    )
    seconds = [took.total_seconds() for took in middle]
    return Resolution(ended=count, median_seconds=sum(seconds) / len(seconds))


def _band_edges() -> list[int]:
    target = settings.PORTAL_ARBITRATION_TARGET.days
    limit = settings.PORTAL_ARBITRATION_LIMIT.days
    return sorted({*QUEUE_BAND_STARTS, target, limit})


def queue_age(*, now: datetime) -> QueueAge:
    """The escalated cases open now, per age band, and the oldest: one query on the
    ``dispute_queue`` index (state, escalated_at)."""
    edges = _band_edges()
    aggregates: dict[str, Any] = {"total": Count("pk"), "oldest": Min("escalated_at")}
    for index, low in enumerate(edges):
        high = edges[index + 1] if index + 1 < len(edges) else None
        band = Q(escalated_at__lte=now - timedelta(days=low))
        if high is not None:
            band &= Q(escalated_at__gt=now - timedelta(days=high))
        aggregates[f"band_{index}"] = Count("pk", filter=band)
    figures = (
        Dispute.objects.filter(state=DisputeState.ESCALATED).order_by().aggregate(**aggregates)
    )
    bands = [
        AgeBand(
            low_days=low,
            high_days=edges[index + 1] if index + 1 < len(edges) else None,
            count=figures[f"band_{index}"],
        )
        for index, low in enumerate(edges)
    ]
    return QueueAge(
        bands=bands,
        total=figures["total"],
        oldest_escalated_at=_as_datetime(figures["oldest"]),
        now=now,
    )


def staff_dashboard(*, days: int = DEFAULT_WINDOW, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard, for the last ``days`` days in the active time zone."""
    now = now or timezone.now()
    window = dashboard_window(days=days, now=now)
    return Dashboard(
        window=window,
        daily=daily_counts(window=window),
        outcomes=outcomes_by_reason(window=window),
        resolution=resolution_time(window=window),
        queue=queue_age(now=now),
        gauges=gauge_rows(now),
    )


# --- the CSV export ---------------------------------------------------------------------------
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "order_number",
    "store",
    "buyer_id",
    "reason",
    "state",
    "opened_at",
    "finished_at",
    "outcome_type",
    "outcome_amount",
    "currency",
    "escalated",
    "time_to_resolution_hours",
)
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK = 2000


def disputes_opened_between(
    *, first: date, last: date, zone: tzinfo | None = None
) -> QuerySet[Dispute]:
    """Disputes opened from local midnight of ``first`` to the end of ``last`` (inclusive)
    in the reader's zone, oldest first."""
    zone = zone or timezone.get_current_timezone()
    start = datetime.combine(first, time.min).replace(tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min).replace(tzinfo=zone)
    return Dispute.objects.filter(opened_at__gte=start, opened_at__lt=end).order_by(
        "opened_at", "id"
    )


def _text(value: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _utc(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours(opened: datetime, finished: datetime | None) -> str:
    if finished is None:
        return ""
    hours = Decimal((finished - opened).total_seconds()) / Decimal(3600)
    return str(hours.quantize(Decimal("0.01")))


class _Echo:
    """A file-like object whose ``write`` hands the line back (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def disputes_csv_lines(queryset: QuerySet[Dispute]) -> Iterator[str]:
    """The CSV, line by line: the header, then one line per dispute, read from the database
    in chunks (``iterator()``), never all at once."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = queryset.values_list(
        "pk",
        "order__number",
        "store__name",
        "buyer_id",
        "reason",
        "state",
        "opened_at",
        "finished_at",
        "outcome_type",
        "outcome_amount",
        "currency",
        "escalated_at",
    ).iterator(chunk_size=CSV_CHUNK)
    for (
        pk,
        number,
        store,
        buyer_id,
        reason,
        state,
        opened_at,
        finished_at,
        outcome_type,
        outcome_amount,
        currency,
        escalated_at,
    ) in rows:
        yield writer.writerow(
            [
                pk,
                _text(number),
                _text(store),
                buyer_id,
                _text(reason),
                _text(state),
                _utc(opened_at),
                _utc(finished_at),
                _text(outcome_type),
                "" if outcome_amount is None else str(outcome_amount),
                _text(currency),
                "yes" if escalated_at is not None else "no",
                _hours(opened_at, finished_at),
            ]
        )
