"""The portal's operational gauges: what an operator watches to know the clocks, the mail,
the webhooks and the money are moving.

Each gauge is one small aggregate that runs on an index (a partial index where the set
watched is small: running clocks, unsent mail, pending webhooks), and all of them go to the
database together as one statement of scalar subqueries, so a scrape, the health page or
the staff dashboard costs one round trip whatever the size of the marketplace.

Keys are stable (Prometheus names derive from them: ``portal_<key>``); labels are for
people and translated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.db.models import F, Func, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from api.models import WebhookDelivery
from disputes.models import Dispute, Notification
from disputes.states import DisputeState
from orders.models import Order
from orders.states import OrderState
from refunds.models import Refund, RefundState
from refunds.selectors import overdue as refund_overdue


class Unit:
    COUNT = "count"
    SECONDS = "seconds"


@dataclass(frozen=True)
class Gauge:
    """One figure: its stable key, what it is called, and how it is measured."""

    key: str
    label: Promise
    help: Promise
    unit: str
    # The aggregate, as a one-value queryset, given ``now``.
    query: Callable[[datetime, date], QuerySet[Any]]

    @property
    def is_age(self) -> bool:
        return self.unit == Unit.SECONDS


def _count(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """``SELECT COUNT(id) FROM … WHERE …`` as a one-row, one-column queryset (a plain
    function, not Django's aggregate, so no GROUP BY is added)."""
    return queryset.order_by().values(value=Func(F("pk"), function="COUNT"))


def _oldest(queryset: QuerySet[Any], field: str) -> QuerySet[Any]:
    """``SELECT MIN(field) FROM … WHERE …``, one row (NULL when nothing matches)."""
    return queryset.order_by().values(value=Func(F(field), function="MIN"))


def dispute_clocks_overdue_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index dispute_deadline_due (partial: running clocks only). The sweep's own rule
    # (disputes.services.clocks.disputes_due), pushed-aside rows included: they are overdue.
    return _count(Dispute.objects.filter(next_deadline_at__lte=now))


def order_clocks_overdue_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index order_protection_due (partial: shipped orders only).
    return _count(Order.objects.filter(state=OrderState.SHIPPED, protection_ends_at__lte=now))


def oldest_unsent_mail_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index notification_unsent (partial: unsent rows, on created_at).
    return _oldest(Notification.objects.filter(sent_at__isnull=True), "created_at")


def oldest_pending_webhook_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index webhook_due (partial: neither delivered nor given up).
    return _oldest(
        WebhookDelivery.objects.filter(delivered_at__isnull=True, abandoned_at__isnull=True),
        "created_at",
    )


def refunds_needing_staff_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index refund_state_time (state = failed): the gateway kept refusing it, or the payment
    # provider reported it bounced; retries stopped until staff act (refunds.admin).
    return _count(Refund.objects.filter(state=RefundState.FAILED, flagged=True))


def refunds_arrival_overdue_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index refund_awaiting_arrival (partial: sent refunds, on expected_by).
    return _count(Refund.objects.filter(refund_overdue(today=today)))


def escalated_past_target_query(now: datetime, today: date) -> QuerySet[Any]:
    # Index dispute_queue (state, escalated_at): only the escalated cases are read.
    return _count(
        Dispute.objects.filter(state=DisputeState.ESCALATED, arbitration_target_at__lt=now)
    )


GAUGES: tuple[Gauge, ...] = (
    Gauge(
        key="dispute_clocks_overdue",
        label=_("Dispute clocks overdue, not yet applied"),
        help=_("Disputes whose running deadline has passed and that no sweep has moved yet."),
        unit=Unit.COUNT,
        query=dispute_clocks_overdue_query,
    ),
    Gauge(
        key="order_clocks_overdue",
        label=_("Order protection clocks overdue, not yet applied"),
        help=_("Shipped orders whose protection has ended and that no sweep has completed yet."),
        unit=Unit.COUNT,
        query=order_clocks_overdue_query,
    ),
    Gauge(
        key="oldest_unsent_mail_age_seconds",
        label=_("Age of the oldest unsent mail"),
        help=_("How long the oldest notification in the outbox has waited to be mailed."),
        unit=Unit.SECONDS,
        query=oldest_unsent_mail_query,
    ),
    Gauge(
        key="oldest_pending_webhook_age_seconds",
        label=_("Age of the oldest pending webhook"),
        help=_("How long the oldest webhook message neither delivered nor given up has waited."),
        unit=Unit.SECONDS,
        query=oldest_pending_webhook_query,
    ),
    Gauge(
        key="refunds_needing_staff",
        label=_("Refunds needing staff"),
        help=_("Failed or bounced refunds flagged for staff: no retry until someone acts."),
        unit=Unit.COUNT,
        query=refunds_needing_staff_query,
    ),
    Gauge(
        key="refunds_arrival_overdue",
        label=_("Refunds sent but overdue to arrive"),
        help=_("Sent refunds whose latest expected arrival date has passed."),
        unit=Unit.COUNT,
        query=refunds_arrival_overdue_query,
    ),
    Gauge(
        key="escalated_past_target",
        label=_("Escalated cases past their arbitration target"),
        help=_("Cases with an arbitrator whose target date for a ruling has passed."),
        unit=Unit.COUNT,
        query=escalated_past_target_query,
    ),
)
GAUGES_BY_KEY: dict[str, Gauge] = {gauge.key: gauge for gauge in GAUGES}


def _age_seconds(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    return max(0.0, (now - oldest).total_seconds())


def _as_datetime(value: Any) -> datetime | None:
    """A raw cursor returns SQLite's timestamps as text; PostgreSQL's as datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def operational_gauges(now: datetime | None = None) -> dict[str, float]:
    """Every gauge, by key, as of ``now``: counts, and ages in seconds (0 when nothing
    waits). One statement: ``SELECT (subquery), (subquery), …``."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    parts: list[str] = []
    params: list[Any] = []
    for gauge in GAUGES:
        sql, gauge_params = gauge.query(now, today).query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(gauge_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    values: dict[str, float] = {}
    for gauge, raw in zip(GAUGES, row, strict=True):
        if gauge.is_age:
            values[gauge.key] = _age_seconds(_as_datetime(raw), now)
        else:
            values[gauge.key] = float(raw or 0)
    return values


def gauge_rows(now: datetime | None = None) -> list[tuple[Gauge, float]]:
    """The gauges with their values, in display order (for pages and the dashboard)."""
    values = operational_gauges(now)
    return [(gauge, values[gauge.key]) for gauge in GAUGES]
