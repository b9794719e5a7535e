"""The operational gauges on crafted data: each counts what it says, at ``now``, in one
query whatever the size of the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from operations.gauges import GAUGES, operational_gauges
from tests.operations.data import small_marketplace


@pytest.fixture
def expected(now, alice, carol, bobs_store):
    return small_marketplace(now=now, alice=alice, carol=carol, bobs_store=bobs_store)


def test_every_gauge_counts_what_it_says(expected, now):
    assert operational_gauges(now) == pytest.approx(expected)


def test_gauges_have_stable_keys_and_labels():
    keys = [gauge.key for gauge in GAUGES]
    assert len(set(keys)) == len(keys)
    assert all(key.isidentifier() and key.islower() for key in keys)
    assert all(str(gauge.label) and str(gauge.help) for gauge in GAUGES)


@pytest.mark.django_db
def test_nothing_waiting_reads_zero_everywhere(now):
    assert operational_gauges(now) == dict.fromkeys((g.key for g in GAUGES), 0.0)


def test_one_query_for_all_gauges(expected, now):
    with CaptureQueriesContext(connection) as queries:
        operational_gauges(now)
    assert len(queries) == 1


def test_a_later_now_moves_the_clocks(expected, now):
    """Thirty days on: the second dispute's answer is overdue too, the recent order's
    protection has ended and so has that of the order escalated 20 days ago (shipped 40
    days ago, 60 days of protection), the other case passed its target, and the mail has
    waited thirty days longer."""
    later = operational_gauges(now + timedelta(days=30))
    assert later["dispute_clocks_overdue"] == 2
    assert later["order_clocks_overdue"] == 3
    assert later["escalated_past_target"] == 2
    assert later["oldest_unsent_mail_age_seconds"] == pytest.approx(
        expected["oldest_unsent_mail_age_seconds"] + 30 * 86400
    )
