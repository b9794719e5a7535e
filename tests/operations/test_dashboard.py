"""The staff dashboard (/admin/dashboard/): its figures on crafted data, its charts, who may
see it, its fixed number of queries, and the CSV export of disputes."""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from disputes.states import OutcomeType, Reason
from operations.charts import PALETTE, Series, bar_chart, line_chart, nice_scale
from operations.dashboard import (
    CSV_COLUMNS,
    daily_counts,
    dashboard_window,
    outcomes_by_reason,
    queue_age,
    resolution_time,
    staff_dashboard,
)
from tests.factories import StoreFactory, UserFactory
from tests.operations.dashboard_data import busy_marketplace, dispute_row, lines_for, write

NSK = zoneinfo.ZoneInfo("Asia/Novosibirsk")  # UTC+7 all year
DAY = timedelta(days=1)
URL = "/admin/dashboard/"
CSV_URL = "/admin/dashboard/disputes.csv"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def crafted(alice, bobs_store, now):
    """Six disputes around a day boundary. ``now`` is 2026-11-23 12:00 UTC (19:00 in
    Novosibirsk)."""
    lines = lines_for(buyer=alice, store=bobs_store, count=6, shipped_at=now - 30 * DAY)
    rows = [
        # a: 20:00 UTC on the 22nd is 03:00 on the 23rd in Novosibirsk.
        dispute_row(lines[0], opened_at=utc(2026, 11, 22, 20), reason=Reason.NOT_RECEIVED),
        # b: the 22nd everywhere.
        dispute_row(lines[1], opened_at=utc(2026, 11, 22, 10), reason=Reason.NOT_RECEIVED),
        # c: 18:00 UTC on the 16th is the 17th in Novosibirsk: inside its 7 days, not UTC's.
        dispute_row(lines[2], opened_at=utc(2026, 11, 16, 18), reason=Reason.OTHER),
        # d: opened before the window, ended on the 21st (264 hours).
        dispute_row(
            lines[3],
            opened_at=utc(2026, 11, 10, 8),
            finished_at=utc(2026, 11, 21, 8),
            outcome=OutcomeType.FULL_REFUND,
        ),
        # e: ended at 17:30 UTC on the 20th, 00:30 on the 21st in Novosibirsk (17.5 hours).
        dispute_row(
            lines[4],
            opened_at=utc(2026, 11, 20, 0),
            finished_at=utc(2026, 11, 20, 17, 30),
            outcome=OutcomeType.WITHDRAWN,
        ),
        # f: 72 hours.
        dispute_row(
            lines[5],
            opened_at=utc(2026, 11, 19, 12),
            finished_at=utc(2026, 11, 22, 12),
            outcome=OutcomeType.PARTIAL_REFUND,
        ),
    ]
    return write(rows)


# --- the figures ------------------------------------------------------------------------------
def test_per_day_counts_follow_the_readers_time_zone(crafted, now):
    nsk = daily_counts(window=dashboard_window(days=7, now=now, zone=NSK))
    assert nsk.days == [date(2026, 11, d) for d in range(17, 24)]
    assert nsk.opened == [1, 0, 1, 1, 0, 1, 1]  # c, -, f, e, -, b, a
    assert nsk.ended == [0, 0, 0, 0, 2, 1, 0]  # d and e on the 21st, f on the 22nd

    in_utc = daily_counts(window=dashboard_window(days=7, now=now, zone=UTC))
    assert in_utc.opened == [0, 0, 1, 1, 0, 2, 0]  # c is before the 17th; a and b on the 22nd
    assert in_utc.ended == [0, 0, 0, 1, 1, 1, 0]


def test_the_window_starts_at_the_readers_midnight(now):
    window = dashboard_window(days=30, now=now, zone=NSK)
    assert window.first_day == date(2026, 10, 25)
    assert window.start == utc(2026, 10, 24, 17)  # midnight in Novosibirsk
    assert len(window.day_list) == 30 and window.day_list[-1] == date(2026, 11, 23)


def test_outcomes_by_reason_count_the_disputes_that_ended(crafted, now):
    matrix = outcomes_by_reason(window=dashboard_window(days=7, now=now, zone=NSK))
    assert matrix.total == 3
    assert matrix.count(Reason.DAMAGED, OutcomeType.FULL_REFUND) == 1
    assert matrix.count(Reason.DAMAGED, OutcomeType.WITHDRAWN) == 1
    assert matrix.count(Reason.DAMAGED, OutcomeType.PARTIAL_REFUND) == 1
    assert matrix.reason_total(Reason.DAMAGED) == 3
    assert matrix.reason_total(Reason.NOT_RECEIVED) == 0  # still open
    assert matrix.outcome_total(OutcomeType.REJECTED) == 0


def test_median_time_to_resolution_odd_count(crafted, now):
    resolution = resolution_time(window=dashboard_window(days=7, now=now, zone=NSK))
    # 17.5, 72 and 264 hours.
    assert resolution.ended == 3
    assert resolution.median_hours == pytest.approx(72)


def test_median_time_to_resolution_even_count_is_the_mean_of_the_middle_two(alice, bobs_store, now):
    lines = lines_for(buyer=alice, store=bobs_store, count=4, shipped_at=now - 30 * DAY)
    hours = [10, 100, 20, 30]
    write(
        [
            dispute_row(
                line,
                opened_at=now - DAY - timedelta(hours=h),
                finished_at=now - DAY,
                outcome=OutcomeType.REJECTED,
            )
            for line, h in zip(lines, hours, strict=True)
        ]
    )
    resolution = resolution_time(window=dashboard_window(days=7, now=now, zone=UTC))
    assert resolution.ended == 4
    assert resolution.median_hours == pytest.approx(25)


@pytest.mark.django_db
def test_no_dispute_ended_means_no_median(now):
    resolution = resolution_time(window=dashboard_window(days=7, now=now, zone=UTC))
    assert resolution.ended == 0 and resolution.median_seconds is None


def test_queue_age_bands_and_the_oldest(alice, bobs_store, now, settings):
    settings.PORTAL_ARBITRATION_TARGET = timedelta(days=15)
    settings.PORTAL_ARBITRATION_LIMIT = timedelta(days=60)
    ages = [0.5, 1, 2, 2.5, 7, 8, 20, 70]  # days since escalation
    lines = lines_for(buyer=alice, store=bobs_store, count=len(ages) + 1, shipped_at=now - 90 * DAY)
    rows = [
        dispute_row(line, opened_at=now - (a + 9) * DAY, escalated_at=now - a * DAY)
        for line, a in zip(lines, ages, strict=False)
    ]
    # A finished case that was escalated once is not in the queue.
    rows.append(
        dispute_row(
            lines[-1],
            opened_at=now - 40 * DAY,
            escalated_at=now - 30 * DAY,
            finished_at=now - 2 * DAY,
            outcome=OutcomeType.REJECTED,
        )
    )
    write(rows)
    queue = queue_age(now=now)
    assert [(b.low_days, b.high_days, b.count) for b in queue.bands] == [
        (0, 1, 1),
        (1, 3, 3),  # exactly one day old counts from 1
        (3, 7, 0),
        (7, 15, 2),
        (15, 60, 1),
        (60, None, 1),
    ]
    assert queue.total == 8
    assert queue.oldest_escalated_at == now - 70 * DAY
    assert queue.oldest_age_days == pytest.approx(70)
    assert queue.bands[-1].label == "60 days or more"
    assert queue.bands[0].label == "0 to 1 day"


def test_the_bands_follow_the_arbitration_settings(alice, bobs_store, now, settings):
    settings.PORTAL_ARBITRATION_TARGET = timedelta(days=10)
    settings.PORTAL_ARBITRATION_LIMIT = timedelta(days=30)
    assert [(b.low_days, b.high_days) for b in queue_age(now=now).bands] == [
        (0, 1),
        (1, 3),
        (3, 7),
        (7, 10),
        (10, 30),
        (30, None),
    ]


def test_the_dashboard_costs_the_same_queries_whatever_the_data(alice, bobs_store, now):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            staff_dashboard(days=90, now=now)
        return len(captured)

    busy_marketplace(buyer=alice, store=bobs_store, now=now, count=10, seed=1)
    small = queries()
    busy_marketplace(buyer=alice, store=bobs_store, now=now, count=150, seed=2)
    assert queries() == small
    # per day twice, outcomes, median, queue, gauges (SQLite's median takes one more).
    assert small == (6 if connection.vendor == "postgresql" else 7)


def test_busy_figures_add_up(alice, bobs_store, now):
    disputes = busy_marketplace(buyer=alice, store=bobs_store, now=now, count=200)
    with timezone.override(UTC):
        figures = staff_dashboard(days=90, now=now)
    window_start = figures.window.start
    opened = [d for d in disputes if d.opened_at >= window_start]
    ended = [d for d in disputes if d.finished_at and d.finished_at >= window_start]
    assert figures.daily.total_opened == len(opened)
    assert figures.daily.total_ended == len(ended) == figures.outcomes.total
    took = sorted((d.finished_at - d.opened_at).total_seconds() for d in ended)
    middle = len(took) // 2
    expected = took[middle] if len(took) % 2 else (took[middle - 1] + took[middle]) / 2
    assert figures.resolution.median_seconds == pytest.approx(expected, abs=1e-3)
    assert figures.queue.total == sum(1 for d in disputes if d.state == "escalated")


# --- the charts -------------------------------------------------------------------------------
def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("colour", PALETTE)
def test_every_series_colour_contrasts_with_the_light_and_the_dark_theme(colour):
    assert (1.05) / (_luminance(colour) + 0.05) >= 4.5  # white
    assert (_luminance(colour) + 0.05) / (_luminance("#121212") + 0.05) >= 4  # dark theme


def test_nice_scale():
    assert nice_scale(0) == (1, 0.25) or nice_scale(0)[0] >= 1
    assert nice_scale(7) == (8, 2)
    assert nice_scale(93) == (100, 25) or nice_scale(93) == (100, 50)
    top, step = nice_scale(1234)
    assert top >= 1234 and step in (200, 500, 250)


def test_charts_escape_text_and_use_no_inline_style():
    svg = bar_chart(
        title="<b>Title</b> & co",
        summary='"quoted"',
        categories=["<script>alert(1)</script>", "Plain"],
        series=[Series("A<", [3, 0], PALETTE[0]), Series("B", [1, 2], PALETTE[1])],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg and "&lt;b&gt;Title&lt;/b&gt; &amp; co" in svg
    assert 'role="img"' in svg and 'aria-label="&lt;b&gt;Title' in svg
    assert "style" not in svg
    # One bar per non-zero value, each with its figure on hover.
    assert svg.count("<rect") == 2 + 3  # two legend keys, three bars
    assert "<title>Plain: B: 2</title>" in svg
    line = line_chart(
        title="Per day",
        summary="",
        x_labels=["1", "2", "3"],
        series=[Series("Opened", [0, 5, 2], PALETTE[0]), Series("Ended", [1, 1, 0], PALETTE[1])],
    )
    assert line.count("<polyline") == 2
    assert "<title>2: Opened: 5</title>" in line
    assert "style" not in line


# --- the page ---------------------------------------------------------------------------------
def test_arbitrator_sees_the_charts_and_the_numbers(client, sam, crafted, now):
    sam.time_zone = "Asia/Novosibirsk"
    sam.save(update_fields=["time_zone"])
    client.force_login(sam)
    with time_machine.travel(now, tick=False):
        response = client.get(URL, {"days": 7})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') == 5
    assert 'id="figure-opened">5<' in html  # a, b, c, e, f in Novosibirsk's 7 days
    assert 'id="figure-ended">3<' in html
    assert 'id="figure-median">3 days<' in html  # 72 hours
    assert 'id="figure-queue">0<' in html
    # The per-day table, in the reader's zone: two ended on Saturday the 21st.
    assert re.search(r"Sat 21 Nov 2026</th><td class=\"num\">0</td><td class=\"num\">2<", html)
    assert "Asia/Novosibirsk" in html
    assert 'href="/admin/"' in html  # breadcrumbs
    assert "style=" not in html.split('id="content-main"')[1]


def test_the_window_is_chosen_by_a_query_parameter(client, sam, crafted, now):
    client.force_login(sam)
    with time_machine.travel(now, tick=False):
        for days in (7, 30, 90):
            response = client.get(URL, {"days": days})
            assert response.context["figures"].window.days == days
        # Anything else: the default 30 days.
        assert client.get(URL, {"days": "9999"}).context["figures"].window.days == 30


def test_the_page_in_russian(client, sam, crafted, now):
    sam.language = "ru"
    sam.save(update_fields=["language"])
    client.force_login(sam)
    with time_machine.travel(now, tick=False):
        html = client.get(URL).content.decode()
    with translation.override("ru"):
        from django.utils.translation import gettext

        assert gettext("Staff dashboard") in html


def test_admin_index_links_to_the_dashboard_for_arbitrators(client, sam):
    client.force_login(sam)
    assert f'href="{URL}"' in client.get("/admin/").content.decode()
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert f'href="{URL}"' not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("url", [URL, CSV_URL + "?date_from=2026-11-01&date_to=2026-11-30"])
def test_staff_without_the_arbitrator_permission_get_403(client, db, url):
    client.force_login(UserFactory(username="clerk", is_staff=True))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_signed_out_visitors_go_to_the_admin_log_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_buyers_go_to_the_admin_log_in(client, alice, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 302


def test_the_page_costs_the_same_queries_whatever_the_data(
    client, sam, alice, bobs_store, now, django_assert_max_num_queries
):
    client.force_login(sam)
    busy_marketplace(buyer=alice, store=bobs_store, now=now, count=5, seed=3)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, {"days": 90}).status_code == 200
    busy_marketplace(buyer=alice, store=bobs_store, now=now, count=150, seed=4)
    with django_assert_max_num_queries(len(small)):
        assert client.get(URL, {"days": 90}).status_code == 200


# --- the CSV ----------------------------------------------------------------------------------
def _csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_of_the_disputes_opened_in_a_range(client, sam, crafted, now):
    client.force_login(sam)
    response = client.get(CSV_URL, {"date_from": "2026-11-19", "date_to": "2026-11-22"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="disputes-2026-11-19-to-2026-11-22.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == list(CSV_COLUMNS)
    by_id = {int(row[0]): dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    a, b, _c, _d, e, f = crafted
    # UTC reader: f (19th), e (20th), b and a (22nd), oldest first.
    assert list(by_id) == [f.pk, e.pk, b.pk, a.pk]
    row_f = by_id[f.pk]
    assert row_f == {
        "id": str(f.pk),
        "order_number": f.order.number,
        "store": "Bob's Boutique",
        "buyer_id": str(f.buyer_id),
        "reason": "damaged",
        "state": "resolved",
        "opened_at": "2026-11-19T12:00:00Z",
        "finished_at": "2026-11-22T12:00:00Z",
        "outcome_type": "partial_refund",
        "outcome_amount": "15.50",
        "currency": f.currency,
        "escalated": "no",
        "time_to_resolution_hours": "72.00",
    }
    assert by_id[e.pk]["time_to_resolution_hours"] == "17.50"
    assert by_id[e.pk]["outcome_amount"] == ""
    assert by_id[a.pk]["finished_at"] == "" and by_id[a.pk]["time_to_resolution_hours"] == ""


def test_csv_days_are_the_readers_days(client, sam, crafted):
    sam.time_zone = "Asia/Novosibirsk"
    sam.save(update_fields=["time_zone"])
    client.force_login(sam)
    rows = _csv(client.get(CSV_URL, {"date_from": "2026-11-23", "date_to": "2026-11-23"}))
    a = crafted[0]
    assert [int(row[0]) for row in rows[1:]] == [a.pk]  # 03:00 on the 23rd in Novosibirsk
    assert rows[1][6] == "2026-11-22T20:00:00Z"  # the file stays in UTC


def test_csv_marks_escalated_cases(client, sam, alice, bobs_store, now):
    line = lines_for(buyer=alice, store=bobs_store, count=1, shipped_at=now - 30 * DAY)[0]
    write([dispute_row(line, opened_at=now - 5 * DAY, escalated_at=now - DAY)])
    client.force_login(sam)
    day = (now - 5 * DAY).date().isoformat()
    rows = _csv(client.get(CSV_URL, {"date_from": day, "date_to": day}))
    assert rows[1][CSV_COLUMNS.index("escalated")] == "yes"
    assert rows[1][CSV_COLUMNS.index("state")] == "escalated"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tx"])
def test_csv_cells_never_start_a_formula(client, sam, alice, now, name):
    store = StoreFactory(name=name)
    line = lines_for(buyer=alice, store=store, count=1, shipped_at=now - 30 * DAY)[0]
    write([dispute_row(line, opened_at=now - 2 * DAY)])
    client.force_login(sam)
    day = (now - 2 * DAY).date().isoformat()
    rows = _csv(client.get(CSV_URL, {"date_from": day, "date_to": day}))
    assert rows[1][CSV_COLUMNS.index("store")] == "'" + name


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"date_from": "2026-11-30", "date_to": "2026-11-01"}, "date_to", "comes before"),
        ({"date_from": "", "date_to": "2026-11-01"}, "date_from", "Give the first day"),
        ({"date_from": "2026-11-01"}, "date_to", "Give the last day"),
        ({"date_from": "yesterday", "date_to": "2026-11-01"}, "date_from", "such as"),
        ({"date_from": "2020-01-01", "date_to": "2026-11-01"}, "date_to", "at most 366 days"),
    ],
)
def test_csv_range_is_checked_and_the_form_kept(client, sam, params, field, message):
    client.force_login(sam)
    response = client.get(CSV_URL, params)
    assert response.status_code == 400
    form = response.context["export_form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert message in html
    for value in params.values():
        if value:
            assert f'value="{value}"' in html  # what was typed stays in the form


def test_csv_streams_in_chunks_whatever_the_size(client, sam, alice, bobs_store, now, monkeypatch):
    """The rows come through ``iterator()`` (chunks of CSV_CHUNK), never as one list: with a
    chunk of 7, 60 disputes take one query, and the response is a stream of lines."""
    import operations.dashboard as dashboard

    monkeypatch.setattr(dashboard, "CSV_CHUNK", 7)
    busy_marketplace(buyer=alice, store=bobs_store, now=now, count=60)
    client.force_login(sam)
    response = client.get(
        CSV_URL,
        {"date_from": (now - 120 * DAY).date().isoformat(), "date_to": now.date().isoformat()},
    )
    assert response.streaming
    chunks = iter(response.streaming_content)
    assert next(chunks).decode().startswith("id,order_number,")
    with CaptureQueriesContext(connection) as captured:
        rest = list(chunks)
    assert len(rest) == 60
    assert len(captured) == 1
    total = sum(
        Decimal(row[9]) for row in csv.reader(io.StringIO(b"".join(rest).decode())) if row[9]
    )
    assert total > 0
