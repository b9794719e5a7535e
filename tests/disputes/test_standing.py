"""The seller's standing: each store's figures against values computed by hand on a known
set of disputes, the rating's scale, and the pages that show them at a fixed query count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.models import Dispute
from disputes.services import DisputeRequest, disputes_sweep_due
from disputes.standing import per_cent, rating_of, store_standing
from disputes.states import Closing, DisputeState, OutcomeType, Party, Reason, RequestedOutcome
from orders.services import order_cancel
from tests.factories import StoreFactory, UserFactory, make_order, open_dispute

H = timedelta(hours=1)


def claim() -> DisputeRequest:
    """The whole canvas bag (2 x 10.00), refund only."""
    return DisputeRequest(
        received=True,
        reason=Reason.NOT_AS_DESCRIBED,
        description="The bag is torn along the seam and the strap is missing.",
        quantity=2,
        requested_outcome=RequestedOutcome.REFUND_ONLY,
        requested_amount=Decimal("20.00"),
    )


def shipped_orders(*, buyer, store, n: int, shipped_at):
    return [make_order(buyer=buyer, store=store, shipped_at=shipped_at) for _ in range(n)]


def open_on(order, *, at) -> Dispute:
    return open_dispute(line=order.lines.get(), buyer=order.buyer, request=claim(), now=at)


def propose(dispute: Dispute, *, outcome: str, at, amount=None, note: str = "") -> Dispute:
    return services.dispute_propose(
        dispute_id=dispute.pk,
        user=dispute.store.owner,
        outcome=outcome,
        amount=amount,
        note=note,
        now=at,
    )


# --- the rules alone, no database ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (6, 19, Decimal("31.6")),  # 31.578…
        (1, 16, Decimal("6.3")),  # 6.25 rounds half up, not to even
        (2, 3, Decimal("66.7")),
        (0, 4, Decimal("0.0")),
        (3, 3, Decimal("100.0")),
        (1, 0, None),
    ],
)
def test_per_cent_is_rounded_half_up_to_one_decimal(part, whole, expected):
    assert per_cent(part, whole) == expected


@pytest.mark.parametrize(
    ("orders", "lost", "expected"),
    [
        (4, 0, None),  # fewer than 5 orders: a new store
        (5, 0, Decimal("5.0")),
        (100, 1, Decimal("4.6")),  # 1 lost per 100: 5 - 4 x 0.1
        (40, 1, Decimal("4.0")),  # 2.5 per 100: 5 - 4 x 0.25
        (30, 1, Decimal("3.7")),  # 3.33… per 100: 5 - 1.333… = 3.666…
        (100, 10, Decimal("1.0")),  # 10 per 100: the floor
        (19, 3, Decimal("1.0")),  # 15.8 per 100: still the floor
    ],
)
def test_rating_scale(orders, lost, expected):
    assert rating_of(orders=orders, lost=lost) == expected


# --- a known set of disputes ------------------------------------------------------------------
@pytest.fixture
def t0():
    """When the disputes were opened: three weeks ago, the orders shipped the day before."""
    return timezone.now().replace(microsecond=0) - timedelta(days=21)


@pytest.fixture
def store_a(alice, bobs_store, t0):
    """Bob's store: 20 orders, one cancelled, and six disputes.

    - two refunded because Bob never answered (the 5-day clock ran out);
    - one refunded after Bob answered 6 h after opening (a partial refund Alice accepted);
    - one rejected, Bob answering 30 h after opening (Alice accepted the rejection);
    - one withdrawn by Alice before any answer;
    - one still open, Bob having answered 2 h after opening.
    """
    orders = shipped_orders(buyer=alice, store=bobs_store, n=6, shipped_at=t0 - timedelta(days=1))
    for _ in range(13):
        make_order(buyer=alice, store=bobs_store)  # paid, not shipped: still an order
    order_cancel(order=make_order(buyer=alice, store=bobs_store), by=alice)

    _silent_1, _silent_2, refunded, rejected, withdrawn, running = (
        open_on(order, at=t0) for order in orders
    )
    propose(refunded, outcome=OutcomeType.PARTIAL_REFUND, amount=Decimal("12.00"), at=t0 + 6 * H)
    services.dispute_accept(dispute_id=refunded.pk, user=alice, now=t0 + 7 * H)
    propose(rejected, outcome=OutcomeType.REJECTED, note="Sent as described.", at=t0 + 30 * H)
    services.dispute_accept(dispute_id=rejected.pk, user=alice, now=t0 + 31 * H)
    services.dispute_withdraw(dispute_id=withdrawn.pk, user=alice, now=t0 + 1 * H)
    propose(running, outcome=OutcomeType.COUPON, amount=Decimal("5.00"), at=t0 + 2 * H)
    # Five days and a minute later the two unanswered claims are granted by the clock (the
    # running one has its 7-day negotiation clock, not due yet).
    disputes_sweep_due(now=t0 + timedelta(days=5, minutes=1))
    return bobs_store


@pytest.fixture
def store_b(carol):
    """Four orders, no dispute: too few orders for a rating."""
    store = StoreFactory(name="Quiet Corner")
    for _ in range(4):
        make_order(buyer=carol, store=store, shipped_at=timezone.now() - timedelta(days=3))
    return store


@pytest.fixture
def store_c(carol, t0):
    """40 orders, two disputes: one accepted by the seller after 1 h (lost), one rejected
    after 3 h and the rejection accepted (not lost)."""
    store = StoreFactory(name="Steady Shop")
    orders = shipped_orders(buyer=carol, store=store, n=2, shipped_at=t0 - timedelta(days=1))
    for _ in range(38):
        make_order(buyer=carol, store=store)
    accepted, rejected = (open_on(order, at=t0) for order in orders)
    services.dispute_accept(dispute_id=accepted.pk, user=store.owner, now=t0 + 1 * H)
    propose(rejected, outcome=OutcomeType.REJECTED, note="Not our parcel.", at=t0 + 3 * H)
    services.dispute_accept(dispute_id=rejected.pk, user=carol, now=t0 + 4 * H)
    return store


@pytest.mark.django_db
def test_the_known_set_ended_as_described(store_a):
    disputes = Dispute.objects.filter(store=store_a)
    assert sorted(disputes.values_list("closing", flat=True)) == sorted(
        [Closing.REFUNDED] * 3 + [Closing.REJECTED, Closing.WITHDRAWN, ""]
    )
    silent = disputes.filter(decided_by=Party.DEADLINE)
    assert silent.count() == 2
    assert not silent.filter(first_answer_at__isnull=False).exists()
    assert disputes.get(closing="").state == DisputeState.SELLER_RESPONDED


@pytest.mark.django_db
def test_store_figures_match_hand_computed_values(store_a, store_b, store_c):
    figures = store_standing(store_ids=[store_a.pk, store_b.pk, store_c.pk])

    a = figures[store_a.pk]
    assert (a.orders, a.disputes) == (19, 6)  # 20 orders, 1 cancelled
    assert a.per_100_orders == Decimal("31.6")  # 6 / 19 x 100 = 31.578…
    # Finished, withdrawn aside: 2 silent refunds, 1 refund, 1 rejection = 4; lost: 3.
    assert (a.finished, a.lost, a.lost_by_silence) == (4, 3, 2)
    assert a.share_lost == Decimal("75.0")  # 3 / 4
    assert a.share_lost_by_silence == Decimal("50.0")  # 2 / 4
    # Answered: 6 h, 30 h and 2 h (the silent and the withdrawn ones never were): median 6 h.
    assert a.median_first_response == timedelta(hours=6)
    assert a.median_first_response_text == "6 hours"
    # 3 lost / 19 orders = 15.8 per 100, past the floor of 10: 1.0.
    assert a.rating == Decimal("1.0")

    b = figures[store_b.pk]
    assert (b.orders, b.disputes, b.per_100_orders) == (4, 0, Decimal("0.0"))
    assert b.share_lost is None and b.share_lost_by_silence is None
    assert b.median_first_response is None
    assert b.rating is None and b.is_new  # 4 orders: "New store"

    c = figures[store_c.pk]
    assert (c.orders, c.disputes, c.finished, c.lost, c.lost_by_silence) == (40, 2, 2, 1, 0)
    assert c.per_100_orders == Decimal("5.0")  # 2 / 40 x 100
    assert c.share_lost == Decimal("50.0")  # 1 / 2
    assert c.share_lost_by_silence == Decimal("0.0")
    # Answered after 1 h and 3 h: an even number, the mean of the two middle values.
    assert c.median_first_response == timedelta(hours=2)
    # 1 lost / 40 orders = 2.5 per 100: 5 - 4 x 0.25 = 4.0.
    assert c.rating == Decimal("4.0")


@pytest.mark.django_db
def test_a_store_without_orders_has_no_figures(bobs_store):
    s = store_standing(store_ids=[bobs_store.pk])[bobs_store.pk]
    assert (s.orders, s.disputes) == (0, 0)
    assert s.per_100_orders is None and s.share_lost is None and s.rating is None


@pytest.mark.django_db
def test_store_standing_reads_any_number_of_stores_in_two_grouped_queries(
    store_a, store_b, store_c, django_assert_num_queries
):
    """One grouped count of the orders, one of the disputes (with the median, on
    PostgreSQL); SQLite, which has no PERCENTILE_CONT, reads the response times once more."""
    with_median = 2 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(with_median):
        store_standing(store_ids=[store_b.pk])
    with django_assert_num_queries(with_median):
        store_standing(store_ids=[store_a.pk, store_b.pk, store_c.pk])
    with django_assert_num_queries(2):
        store_standing(store_ids=[store_a.pk, store_c.pk], with_median=False)
    with django_assert_num_queries(0):
        assert store_standing(store_ids=[]) == {}


@pytest.mark.django_db
def test_the_databases_median_is_the_one_taken_in_python(store_a, store_c, monkeypatch):
    """PostgreSQL's PERCENTILE_CONT and ``statistics.median`` agree to the second, with an
    odd number of answers (store A: 3) and an even one (store C: 2, their mean)."""
    ids = [store_a.pk, store_c.pk]
    in_db = store_standing(store_ids=ids)
    monkeypatch.setattr(connection, "vendor", "taken in python")
    in_python = store_standing(store_ids=ids)
    assert in_db == in_python
    assert [in_db[pk].median_first_response for pk in ids] == [6 * H, 2 * H]


# --- the pages ---------------------------------------------------------------------------------
def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_seller_dashboard_shows_the_standing_with_one_line_each(client_for, store_a):
    html = client_for("bob").get(reverse("dashboards:seller_dashboard")).content.decode()
    assert "Your standing" in html
    for element_id, figure in [
        ("standing-rating", "★ 1.0"),
        ("standing-per-100", "31.6"),
        ("standing-lost", "75.0 %"),
        ("standing-lost-by-silence", "50.0 %"),
        ("standing-response", "6 hours"),
    ]:
        start = html.index(f'id="{element_id}"')
        assert figure in html[start : html.index("</div>", start)]
    assert "From 19 orders that were not cancelled and 6 disputes" in html


@pytest.mark.django_db
def test_seller_dashboard_of_a_new_store(client_for, bobs_store, alice):
    make_order(buyer=alice, store=bobs_store)
    html = client_for("bob").get(reverse("dashboards:seller_dashboard")).content.decode()
    start = html.index('id="standing-rating"')
    assert "New store" in html[start : html.index("</div>", start)]
    assert "Shown once the store has 5 orders." in html


@pytest.mark.django_db
def test_my_orders_shows_each_stores_rating(client_for, store_a, store_b, store_c, alice):
    alices_c_order = make_order(buyer=alice, store=store_c)
    alices_b_order = make_order(buyer=alice, store=store_b)
    new_store_order = make_order(buyer=alice, store=StoreFactory(name="Just Opened"))
    html = client_for("alice").get(reverse("dashboards:my_orders")).content.decode()
    a_order = store_a.orders.filter(buyer=alice).first()

    def rating_of(order) -> str:
        start = html.index(f'id="store-rating-{order.number}"')
        return html[html.index(">", start) + 1 : html.index("</span>", start)]

    assert rating_of(a_order) == "★ 1.0 · 31.6 disputes per 100 orders"
    # store_c now has 41 orders: 2 / 41 = 4.9 per 100; 1 lost / 41 = 2.44 → 5 - 0.976 = 4.0
    assert rating_of(alices_c_order) == "★ 4.0 · 4.9 disputes per 100 orders"
    # store_b: 4 orders + Alice's = 5, none disputed: rated at last, 5.0.
    assert rating_of(alices_b_order) == "★ 5.0 · 0.0 disputes per 100 orders"
    assert rating_of(new_store_order) == "New store"


@pytest.mark.django_db
def test_my_orders_query_count_is_the_same_for_one_store_and_many(client_for, alice, bobs_store):
    t0 = timezone.now() - timedelta(days=10)
    first = make_order(buyer=alice, store=bobs_store, shipped_at=t0)
    open_on(first, at=t0 + H)
    client = client_for("alice")
    url = reverse("dashboards:my_orders")
    one = _count_queries(client, url)
    for i in range(12):
        store = StoreFactory(name=f"Shop {i}")
        order = make_order(buyer=alice, store=store, shipped_at=t0)
        dispute = open_on(order, at=t0 + H)
        if i % 2:
            propose(dispute, outcome=OutcomeType.COUPON, amount=Decimal("5.00"), at=t0 + 3 * H)
        make_order(buyer=alice, store=store)
    assert _count_queries(client, url) == one


@pytest.mark.django_db
def test_seller_dashboard_query_count_does_not_grow_with_disputes(client_for, alice, bobs_store):
    t0 = timezone.now() - timedelta(days=10)
    make_order(buyer=alice, store=bobs_store)
    client = client_for("bob")
    url = reverse("dashboards:seller_dashboard")
    one = _count_queries(client, url)
    carol = UserFactory(username="carol-2")
    for i, order in enumerate(shipped_orders(buyer=carol, store=bobs_store, n=12, shipped_at=t0)):
        dispute = open_on(order, at=t0 + H)
        if i % 3 == 0:
            propose(
                dispute, outcome=OutcomeType.COUPON, amount=Decimal("5.00"), at=t0 + (i + 2) * H
            )
        elif i % 3 == 1:
            services.dispute_accept(dispute_id=dispute.pk, user=bobs_store.owner, now=t0 + 2 * H)
    many = _count_queries(client, url)
    assert many == one
    assert store_standing(store_ids=[bobs_store.pk])[bobs_store.pk].disputes == 12
