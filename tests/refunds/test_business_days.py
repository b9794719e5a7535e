"""The refund arrival window in business days, across weekends and month ends (pure)."""

from datetime import date

import pytest

from orders.payment import PaymentMethod
from refunds.business_days import add_business_days, expected_arrival, is_overdue

FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (MONDAY, 0, MONDAY),
        (MONDAY, 1, date(2026, 12, 1)),
        (FRIDAY, 1, MONDAY),  # the weekend does not count
        (date(2026, 11, 28), 1, MONDAY),  # sent on a Saturday
        (FRIDAY, 5, date(2026, 12, 4)),
        (date(2026, 1, 30), 3, date(2026, 2, 4)),  # across a month end and a weekend
        (date(2026, 12, 30), 3, date(2027, 1, 4)),  # across the year end
        (date(2028, 2, 28), 2, date(2028, 3, 1)),  # a leap day counts as a weekday
    ],
)
def test_business_days_skip_weekends(start, days, expected):
    assert add_business_days(start, days) == expected


def test_holidays_do_not_count():
    christmas = {date(2026, 12, 25)}
    assert add_business_days(date(2026, 12, 24), 1, christmas) == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("method", "earliest", "latest"),
    [
        (PaymentMethod.CARD, date(2026, 12, 2), date(2026, 12, 18)),
        (PaymentMethod.MAESTRO, date(2026, 12, 2), date(2026, 12, 18)),
        (PaymentMethod.WEBMONEY, date(2026, 12, 8), date(2026, 12, 11)),
        (PaymentMethod.BANK_TRANSFER, date(2026, 12, 8), date(2026, 12, 11)),
        (PaymentMethod.WESTERN_UNION, date(2026, 12, 8), date(2026, 12, 11)),
        (PaymentMethod.QIWI, date(2026, 12, 8), date(2026, 12, 11)),
        (PaymentMethod.ACCOUNT_BALANCE, FRIDAY, FRIDAY),  # the same day
    ],
)
def test_arrival_window_by_payment_method(method, earliest, latest):
    assert expected_arrival(method=method, sent_on=FRIDAY) == (earliest, latest)


def test_a_refund_is_overdue_the_day_after_its_latest_date():
    latest = expected_arrival(method=PaymentMethod.WEBMONEY, sent_on=FRIDAY).latest
    assert not is_overdue(method=PaymentMethod.WEBMONEY, sent_on=FRIDAY, today=latest)
    assert is_overdue(method=PaymentMethod.WEBMONEY, sent_on=FRIDAY, today=date(2026, 12, 12))
