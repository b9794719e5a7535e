"""Walk-through item 9: "Confirm receipt" on an order with a disputed line.

The page says the disputed line stays held until its dispute ends (naming and linking the
dispute), and gives the absolute date until which the other lines can still be disputed once
the order completes (the post-close window, from disputes/deadlines.py and the settings).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from disputes.deadlines import post_close_ends_at
from disputes.services import DisputeRequest, dispute_withdraw
from orders.models import Order
from orders.states import OrderState
from orders.templatetags.clocks import absolute
from tests.factories import DRESS_LINES, make_order, open_dispute

pytestmark = pytest.mark.django_db


def claim() -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("45.00"),
    )


@pytest.fixture
def order(alice, bobs_store, now):
    return make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=8)
    )


@pytest.fixture
def red_disputed(order, alice, now):
    red = order.lines.get(colour="Red")
    return open_dispute(line=red, buyer=alice, request=claim(), now=now - timedelta(days=1))


def confirm_page(client, order) -> str:
    response = client.get(reverse("orders:confirm_receipt", args=[order.number]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_disputed_line_is_named_as_held_until_its_dispute_ends(
    client_for, order, red_disputed, now
):
    with time_machine.travel(now, tick=False):
        html = confirm_page(client_for("alice"), order)
    dispute_url = reverse("disputes:detail", args=[red_disputed.pk])
    assert "Confirm only if everything arrived" not in html
    assert "Confirm if the items that are not in dispute arrived as described" in html
    assert "ends your buyer protection now" in html
    assert (
        f'Summer dress (Red, M) stays held in escrow until <a href="{dispute_url}">'
        f"dispute #{red_disputed.pk}</a> ends"
    ) in html
    assert "the seller is paid for every item that is not in an open dispute" in html
    assert "Yes, I received everything else" in html


def test_the_page_gives_the_new_date_of_the_post_close_window(
    client_for, order, red_disputed, now, settings
):
    settings.PORTAL_POST_CLOSE_WINDOW = timedelta(days=16)  # any number: it comes from settings
    with time_machine.travel(now, tick=False):
        html = confirm_page(client_for("alice"), order)
    until = absolute(post_close_ends_at(completed_at=now))
    assert until == absolute(now + timedelta(days=16))
    otherwise = absolute(post_close_ends_at(completed_at=order.protection_ends_at))
    assert (
        f"you can still open a dispute on the other items for 16 days, until <strong>{until}"
        f"</strong> (instead of until {otherwise})."
    ) in html
    assert "15 more days" not in html and "15 days" not in html


def test_confirming_keeps_the_promises_the_page_made(
    client_for, order, red_disputed, now, bob, settings
):
    """What the page said, walked through: the buyer confirms, the seller sees the disputed
    dress still held by its dispute and the other one paid out; the buyer's orders page says
    the other dress can be disputed until the date the confirm page gave."""
    client = client_for("alice")
    with time_machine.travel(now, tick=False):
        until = absolute(post_close_ends_at(completed_at=now))
        assert until in confirm_page(client, order)
        client.post(reverse("orders:confirm_receipt", args=[order.number]))
        assert Order.objects.get(pk=order.pk).state == OrderState.COMPLETED
        my_orders = client.get(reverse("dashboards:my_orders")).content.decode()
    assert f"you can still open a dispute until {until}" in my_orders

    client.force_login(bob)
    dashboard = client.get(reverse("dashboards:seller_dashboard")).content.decode()
    red, blue = order.lines.get(colour="Red"), order.lines.get(colour="Blue")
    dispute_url = reverse("disputes:detail", args=[red_disputed.pk])
    assert f'<a href="{dispute_url}" class="held-by" id="held-by-{red.pk}">' in dashboard
    assert f'id="held-by-{blue.pk}"' not in dashboard
    assert "paid out 45.00 USD" in dashboard
    assert client.get(dispute_url).status_code == 200


def test_without_a_dispute_everything_must_have_arrived(client_for, order, now):
    with time_machine.travel(now, tick=False):
        html = confirm_page(client_for("alice"), order)
    until = absolute(post_close_ends_at(completed_at=now))
    assert "Confirm only if everything arrived as described" in html
    assert "stays held in escrow" not in html
    assert f"you can still open a dispute for 15 days, until <strong>{until}</strong>" in html
    assert "Yes, I received everything" in html


def test_a_line_whose_dispute_ended_is_not_held(client_for, order, red_disputed, alice, now):
    dispute_withdraw(dispute_id=red_disputed.pk, user=alice, now=now - timedelta(hours=1))
    with time_machine.travel(now, tick=False):
        html = confirm_page(client_for("alice"), order)
    assert "stays held in escrow" not in html
    assert f"Dispute #{red_disputed.pk}" in html  # still named: that line cannot be disputed again
    assert "on the other items" in html


def test_when_every_line_is_disputed_no_other_dispute_is_promised(
    client_for, order, red_disputed, alice, now
):
    blue = order.lines.get(colour="Blue")
    other = open_dispute(line=blue, buyer=alice, request=claim(), now=now - timedelta(hours=2))
    with time_machine.travel(now, tick=False):
        html = confirm_page(client_for("alice"), order)
    assert "every item already has a dispute" in html
    assert "you can still open a dispute" not in html
    assert "the seller is paid for every item that is not in an open dispute" not in html
    for dispute in (red_disputed, other):
        assert reverse("disputes:detail", args=[dispute.pk]) in html
