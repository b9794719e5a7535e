"""When a refund should reach the buyer: business days by payment method (SPEC.md).

Pure: weekdays are counted from the day after the refund is sent; Saturdays and Sundays
do not count. A market with public holidays passes them in (the ``holidays`` package can
supply them).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import NamedTuple

from orders.payment import refund_window


class ArrivalWindow(NamedTuple):
    earliest: date
    latest: date


def add_business_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date ``days`` business days after ``start`` (``start`` itself when 0)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            left -= 1
    return current


def expected_arrival(
    *, method: str, sent_on: date, holidays: Collection[date] = ()
) -> ArrivalWindow:
    """The dates between which a refund sent on ``sent_on`` by ``method`` should arrive."""
    window = refund_window(method)
    return ArrivalWindow(
        add_business_days(sent_on, window.min_days, holidays),
        add_business_days(sent_on, window.max_days, holidays),
    )


def is_overdue(*, method: str, sent_on: date, today: date, holidays: Collection[date] = ()) -> bool:
    """True once the latest arrival date has passed without the refund arriving."""
    return today > expected_arrival(method=method, sent_on=sent_on, holidays=holidays).latest
