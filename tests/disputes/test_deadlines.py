"""The deadline policy, pure: no database, time passed in."""

from datetime import UTC, datetime, timedelta

import pytest

from disputes import deadlines
from disputes.deadlines import WindowStatus, dispute_window
from orders.states import OrderState

SHIPPED = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_protection_runs_the_orders_own_number_of_days_from_shipment():
    assert deadlines.protection_ends_at(shipped_at=SHIPPED, protection_days=60) == datetime(
        2026, 10, 31, 10, 0, tzinfo=UTC
    )
    assert deadlines.protection_ends_at(shipped_at=SHIPPED, protection_days=90) == datetime(
        2026, 11, 30, 10, 0, tzinfo=UTC
    )


def test_post_close_window_is_fifteen_days_from_completion():
    completed = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert deadlines.post_close_ends_at(completed_at=completed) == datetime(
        2026, 11, 16, 8, 30, tzinfo=UTC
    )


def test_post_close_window_follows_the_setting(settings):
    settings.PORTAL_POST_CLOSE_WINDOW = timedelta(days=3)
    completed = datetime(2026, 11, 1, tzinfo=UTC)
    assert deadlines.post_close_ends_at(completed_at=completed) == completed + timedelta(days=3)


def test_seller_response_and_negotiation_windows():
    opened = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert deadlines.seller_response_due_at(opened_at=opened) == datetime(
        2026, 11, 28, 14, 0, tzinfo=UTC
    )
    assert deadlines.negotiation_ends_at(first_answer_at=opened) == datetime(
        2026, 11, 30, 14, 0, tzinfo=UTC
    )


def _window(state, now, *, protection_ends=None, completed=None, disputed=False):
    return dispute_window(
        order_state=state,
        protection_ends_at=protection_ends,
        completed_at=completed,
        now=now,
        already_disputed=disputed,
    )


def test_paid_order_cannot_be_disputed_before_shipment():
    window = _window(OrderState.PAID, SHIPPED)
    assert not window.is_open
    assert window.status == WindowStatus.NOT_SHIPPED
    assert "shipped" in window.explanation


def test_cancelled_order_cannot_be_disputed():
    assert _window(OrderState.CANCELLED, SHIPPED).status == WindowStatus.CANCELLED


def test_shipped_order_is_open_until_protection_end_plus_post_close():
    ends = SHIPPED + timedelta(days=60)
    window = _window(OrderState.SHIPPED, ends - SECOND, protection_ends=ends)
    assert window.status == WindowStatus.OPEN
    assert window.until == ends + timedelta(days=15)
    assert "You can open a dispute until 15 Nov 2026, 10:00 UTC" in window.explanation


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (-SECOND, WindowStatus.OPEN),
        (timedelta(0), WindowStatus.OPEN_AFTER_CLOSE),
        (timedelta(days=15) - SECOND, WindowStatus.OPEN_AFTER_CLOSE),
        (timedelta(days=15), WindowStatus.CLOSED),
    ],
)
def test_shipped_order_whose_protection_ran_out_before_the_sweep(offset, status):
    ends = SHIPPED + timedelta(days=60)
    assert _window(OrderState.SHIPPED, ends + offset, protection_ends=ends).status == status


@pytest.mark.parametrize(
    ("offset", "is_open"),
    [
        (timedelta(0), True),
        (timedelta(days=15) - SECOND, True),
        (timedelta(days=15), False),
        (timedelta(days=20), False),
    ],
)
def test_completed_order_window_closes_fifteen_days_after_completion(offset, is_open):
    completed = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    window = _window(
        OrderState.COMPLETED,
        completed + offset,
        protection_ends=completed + timedelta(days=30),
        completed=completed,
    )
    assert window.is_open is is_open
    assert window.until == completed + timedelta(days=15)
    if not is_open:
        assert window.status == WindowStatus.CLOSED
        assert "complain about the seller" in window.explanation


def test_confirming_early_brings_the_window_forward():
    ends = SHIPPED + timedelta(days=60)
    confirmed = SHIPPED + timedelta(days=5)
    before = _window(OrderState.SHIPPED, confirmed, protection_ends=ends)
    after = _window(OrderState.COMPLETED, confirmed, protection_ends=ends, completed=confirmed)
    assert after.until == confirmed + timedelta(days=15) < before.until


def test_a_line_already_disputed_can_never_be_disputed_again():
    ends = SHIPPED + timedelta(days=60)
    window = _window(OrderState.SHIPPED, SHIPPED, protection_ends=ends, disputed=True)
    assert window.status == WindowStatus.ALREADY_DISPUTED
    assert not window.is_open
