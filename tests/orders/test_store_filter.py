""" "By store" in admin's lists at a marketplace's size: the sidebar never lists every store,
only the one chosen and those whose name matches the search; choosing one still filters."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.admin import StoreFilter
from tests.factories import StoreFactory, make_order

LISTS = [
    "admin:disputes_dispute_changelist",
    "admin:orders_order_changelist",
    "admin:complaints_complaint_changelist",
    "admin:refunds_payout_changelist",
]


def store_links(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r"\?(?:[^\"]*&amp;)?store__id__exact=(\d+)", html)}


@pytest.fixture
def stores(db):
    many = [StoreFactory(name=f"Crowd store {i:02d}") for i in range(StoreFilter.SHOWN + 20)]
    return [*many, StoreFactory(name="Zebra Tea House")]


@pytest.mark.parametrize("url_name", LISTS)
def test_the_sidebar_never_lists_every_store(client, sam, stores, url_name):
    client.force_login(sam)
    url = reverse(url_name)
    assert store_links(client.get(url).content.decode()) == set()
    # A search names the stores it matches (at most SHOWN of them), by name.
    found = store_links(client.get(url + "?q=zebra").content.decode())
    assert found == {stores[-1].pk}
    crowd = store_links(client.get(url + "?q=crowd").content.decode())
    assert len(crowd) == StoreFilter.SHOWN
    # The store chosen stays listed (and marked) without a search.
    chosen = client.get(url + f"?store__id__exact={stores[3].pk}").content.decode()
    assert store_links(chosen) == {stores[3].pk}


def test_choosing_a_store_filters_the_list(client, sam, alice, stores):
    first, second = stores[0], stores[1]
    kept = make_order(buyer=alice, store=first)
    left = make_order(buyer=alice, store=second)
    client.force_login(sam)
    html = client.get(
        reverse("admin:orders_order_changelist") + f"?store__id__exact={first.pk}"
    ).content.decode()
    assert kept.number in html and left.number not in html
    # Not a store id: the filter is ignored, not an error page.
    assert (
        client.get(reverse("admin:orders_order_changelist") + "?store__id__exact=x").status_code
        == 200
    )
