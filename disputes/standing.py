"""The seller's standing: each store's dispute figures and its rating (reads only).

The figures, for one store, over its whole history:

- **orders**: the store's orders that were not cancelled (paid, shipped or completed).
- **disputes**: the disputes opened against the store, whatever their state.
- **disputes per 100 orders** (``per_100_orders``): disputes / orders x 100, one decimal;
  ``None`` when the store has no orders.
- **share lost** (``share_lost``, per cent, one decimal): of the finished disputes, leaving
  out those the buyer withdrew, the share the seller lost, i.e. that ended with the buyer
  compensated: refunded, returned then refunded, replaced, or a coupon. A rejected claim
  and a lapsed return are not lost. ``None`` when no dispute has finished (withdrawn ones
  aside).
- **share lost by silence** (``share_lost_by_silence``, per cent, one decimal, over the same
  finished disputes): those lost because the seller never answered, i.e. decided by the
  deadline (``decided_by`` is "deadline") with no first answer from the seller at all
  (``first_answer_at`` is empty), and ending in the buyer's favour as above.
- **median first response** (``median_first_response``): the median, over the disputes the
  seller answered, of the time from opening to the seller's first answer (a proposal or an
  acceptance), to the second; the mean of the two middle values when their number is even;
  ``None`` when the seller never answered any dispute. Open disputes count once answered.
- **rating** (``rating``, 1.0 to 5.0, one decimal): 5 - 4 x min(1, lost / orders x 100 / 10),
  from the disputes lost per 100 orders: none lost gives 5.0, 10 or more lost per 100
  orders gives 1.0, 2.5 per 100 gives 4.0. ``None`` ("New store") while the store has fewer
  than 5 orders, too few to judge.

Every figure is rounded half up to one decimal, as a ``Decimal``, once, from exact integer
counts. ``store_standing`` reads any number of stores in two grouped aggregate queries,
whatever the number of stores, orders or disputes, and brings back one row per store: the
orders' count (an index-only scan of the (store, state) index), and the disputes' counts with
the median response, which PostgreSQL takes itself (``PERCENTILE_CONT``) instead of sending
every answered dispute's timestamps to Python (on SQLite, the embedded default, the median
is taken in Python from one more query).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, F, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from disputes.models import Dispute
from disputes.states import Closing, Party
from orders.models import Order
from orders.states import OrderState

# The buyer was compensated: the seller lost the dispute.
LOST_CLOSINGS = (Closing.REFUNDED, Closing.RETURNED_REFUNDED, Closing.REPLACED, Closing.COUPON)
# Below this many orders a store is "new": its rating would mean little.
RATING_MIN_ORDERS = 5
# Disputes lost per 100 orders at which the rating reaches its floor of 1.0.
RATING_FLOOR_LOST_PER_100 = Decimal(10)

ONE_DECIMAL = Decimal("0.1")


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    """6.0 reads "6", 6.5 reads "6.5"."""
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value)


def per_cent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return _one_decimal(Decimal(part) * 100 / Decimal(whole))


def rating_of(*, orders: int, lost: int) -> Decimal | None:
    if orders < RATING_MIN_ORDERS:
        return None
    lost_per_100 = Decimal(lost) * 100 / Decimal(orders)
    penalty = min(Decimal(1), lost_per_100 / RATING_FLOOR_LOST_PER_100)
    return _one_decimal(Decimal(5) - 4 * penalty)


@dataclass(frozen=True)
class StoreStanding:
    """One store's figures (see the module docstring for each definition)."""

    store_id: int
    orders: int
    disputes: int
    finished: int  # finished disputes, withdrawn ones left out: the shares' denominator
    lost: int
    lost_by_silence: int
    per_100_orders: Decimal | None
    share_lost: Decimal | None
    share_lost_by_silence: Decimal | None
    median_first_response: timedelta | None
    rating: Decimal | None

    @property
    def is_new(self) -> bool:
        return self.rating is None

    @property
    def median_first_response_text(self) -> str:
        """The median first response in words: minutes, hours or days."""
        median = self.median_first_response
        if median is None:
            return ""
        minutes = int(median.total_seconds() // 60)
        if minutes < 60:
            return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
        hours = _one_decimal(Decimal(median.total_seconds()) / 3600)
        if hours < 48:
            return _("%(n)s hours") % {"n": _plain(hours)}
        days = _one_decimal(Decimal(median.total_seconds()) / 86400)
        return _("%(n)s days") % {"n": _plain(days)}


class MedianDuration(Aggregate):
    """PostgreSQL's median of an interval: the mean of the two middle values when their
    number is even, as ``statistics.median``; NULL inputs are left out."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()
    allow_distinct = False


def _to_second(value: timedelta | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=round(value.total_seconds()))


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return _to_second(statistics.median(sorted(values)))


def store_standing(
    *, store_ids: Iterable[int], with_median: bool = True
) -> dict[int, StoreStanding]:
    """The figures of each store in ``store_ids`` (stores that exist), keyed by store id, in
    two queries on PostgreSQL.

    Pages that show only the rating and the disputes per 100 orders (a buyer's orders) pass
    ``with_median=False``: ``median_first_response`` is then left ``None``.
    """
    ids = sorted(set(store_ids))
    if not ids:
        return {}
    orders = dict(
        Order.objects.filter(store_id__in=ids)
        .exclude(state=OrderState.CANCELLED)
        .order_by()
        .values("store_id")
        .annotate(n=Count("*"))
        .values_list("store_id", "n")
    )
    finished = ~Q(closing="") & ~Q(closing=Closing.WITHDRAWN)
    lost = Q(closing__in=LOST_CLOSINGS)
    silent = lost & Q(decided_by=Party.DEADLINE, first_answer_at__isnull=True)
    in_db_median = with_median and connection.vendor == "postgresql"
    figures: dict = {
        "n_disputes": Count("pk"),
        "n_finished": Count("pk", filter=finished),
        "n_lost": Count("pk", filter=lost),
        "n_silent": Count("pk", filter=silent),
    }
    if in_db_median:
        # An unanswered dispute's difference is NULL: the median leaves it out.
        figures["median"] = MedianDuration(F("first_answer_at") - F("opened_at"))
    disputes = {
        row["store_id"]: row
        for row in Dispute.objects.filter(store_id__in=ids)
        .order_by()
        .values("store_id")
        .annotate(**figures)
    }
    medians: dict[int, timedelta | None] = {}
    if in_db_median:
        medians = {store_id: _to_second(row["median"]) for store_id, row in disputes.items()}
    elif with_median:
        response_times: dict[int, list[timedelta]] = defaultdict(list)
        answered = (
            Dispute.objects.filter(store_id__in=ids, first_answer_at__isnull=False)
            .order_by()
            .values_list("store_id", "opened_at", "first_answer_at")
        )
        for store_id, opened_at, first_answer_at in answered:
            response_times[store_id].append(first_answer_at - opened_at)
        medians = {store_id: _median(times) for store_id, times in response_times.items()}

    standings = {}
    no_disputes = {"n_disputes": 0, "n_finished": 0, "n_lost": 0, "n_silent": 0}
    for store_id in ids:
        n_orders = orders.get(store_id, 0)
        row = disputes.get(store_id, no_disputes)
        n_disputes, n_finished = row["n_disputes"], row["n_finished"]
        n_lost, n_silent = row["n_lost"], row["n_silent"]
        standings[store_id] = StoreStanding(
            store_id=store_id,
            orders=n_orders,
            disputes=n_disputes,
            finished=n_finished,
            lost=n_lost,
            lost_by_silence=n_silent,
            per_100_orders=per_cent(n_disputes, n_orders),
            share_lost=per_cent(n_lost, n_finished),
            share_lost_by_silence=per_cent(n_silent, n_finished),
            median_first_response=medians.get(store_id),
            rating=rating_of(orders=n_orders, lost=n_lost),
        )
    return standings
