"""Walk-through item 10: the seller dashboard's escrow, line by line.

The note under "Held in escrow" says what the per-line figures show (a line in dispute is held
until its dispute ends, the others are released when their order completes), and a held line
names the dispute holding it, linked to the dispute page the seller can open.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from disputes.services import DisputeRequest, dispute_withdraw
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
def completed_with_dispute(alice, bobs_store):
    """Two dresses: the red one disputed, then the buyer confirmed receipt."""
    now = timezone.now()
    order = make_order(
        buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - timedelta(days=8)
    )
    dispute = open_dispute(
        line=order.lines.get(colour="Red"),
        buyer=alice,
        request=claim(),
        now=now - timedelta(days=2),
    )
    return order, dispute


def dashboard(client) -> str:
    response = client.get(reverse("dashboards:seller_dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_escrow_note_says_money_is_released_line_by_line(client_for, completed_with_dispute):
    html = dashboard(client_for("bob"))
    assert "released when each order completes without an open dispute" not in html
    assert (
        "released line by line: a line in dispute when its dispute ends, the others when "
        "their order completes"
    ) in html


def test_a_held_line_links_the_dispute_holding_it(client_for, completed_with_dispute, alice):
    order, dispute = completed_with_dispute
    client = client_for("alice")
    client.post(reverse("orders:confirm_receipt", args=[order.number]))  # as the buyer does
    red, blue = order.lines.get(colour="Red"), order.lines.get(colour="Blue")

    client = client_for("bob")
    html = dashboard(client)
    url = reverse("disputes:detail", args=[dispute.pk])
    assert (
        f'<span class="badge held">held 45.00 USD</span> '
        f'<a href="{url}" class="held-by" id="held-by-{red.pk}">by dispute #{dispute.pk}</a>'
    ) in html
    assert f'id="held-by-{blue.pk}"' not in html
    # The seller follows the link to the dispute.
    page = client.get(url)
    assert page.status_code == 200
    assert f"#{dispute.pk}" in page.content.decode()

    # Once the dispute ends the line is released, and no dispute holds it any more.
    dispute_withdraw(dispute_id=dispute.pk, user=alice)
    html = dashboard(client)
    assert f'id="held-by-{red.pk}"' not in html
    assert html.count("paid out 45.00 USD") == 2


def test_before_completion_an_undisputed_line_waits_for_the_order(
    client_for, completed_with_dispute
):
    order, dispute = completed_with_dispute
    blue = order.lines.get(colour="Blue")
    html = dashboard(client_for("bob"))
    line = html.split(f'<span id="line-{blue.pk}">', 1)[1].split("</span></small>", 1)[0]
    assert "until the order completes" in line
    assert f"#{dispute.pk}" in html.split(f'<span id="line-{blue.pk}">', 1)[0]


def test_another_seller_sees_neither_the_line_nor_the_link(client_for, completed_with_dispute):
    _order, dispute = completed_with_dispute
    client = client_for("dave")
    html = dashboard(client)
    assert reverse("disputes:detail", args=[dispute.pk]) not in html
    assert client.get(reverse("disputes:detail", args=[dispute.pk])).status_code == 404
