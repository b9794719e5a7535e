"""Every list costs the same number of queries whatever its length and whatever the page:
the portal's lists (My orders, the seller dashboard, the store's and the buyer's disputes,
notifications, complaints) and every admin list, the arbitration queue among them.

Each test reads a list with a few rows, then again once the data has grown past three pages
(page 1 and page 3), and asserts the same count every time. The data is made through the
portal's own services: orders in every state, disputes opened, answered, escalated, ruled on
and settled (refunds, payouts, a coupon), messages, evidence, evidence requests, complaints.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from api.models import Integration, WebhookDelivery, WebhookEndpoint
from api.webhooks import new_secret
from complaints.services import complaint_answer, complaint_open
from disputes.models import Dispute
from disputes.services import (
    DisputeRequest,
    dispute_accept,
    dispute_assign,
    dispute_post_message,
    dispute_propose,
    dispute_request_evidence,
    disputes_sweep_due,
)
from disputes.states import DisputeState, OutcomeType, Reason
from tests.factories import DRESS_LINES, UserFactory, make_arbitrator, make_order, open_dispute

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
# Small pages, so that three pages take few rows to build.
PAGE = 4
# A few rows, then more than three pages' worth.
FEW, MANY = 2, 3 * PAGE + 1


def claim(amount: str = "45.00") -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason=Reason.DAMAGED,
        description="The seam was torn when the parcel arrived.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal(amount),
    )


class World:
    """Alice buys from Bob's store (and Carol from Dave's, on the same tables); ``grow(n)``
    adds ``n`` of each kind of row the lists show."""

    def __init__(self, *, alice, carol, bob, bobs_store, daves_store, sam):
        self.alice, self.carol, self.bob = alice, carol, bob
        self.store, self.other_store, self.sam = bobs_store, daves_store, sam
        self.rita = make_arbitrator("rita")
        # Who runs the portal: the API's lists are theirs alone.
        self.root = UserFactory(username="root", is_staff=True, is_superuser=True)

    def grow(self, n: int) -> None:
        now = timezone.now()
        for i in range(n):
            # A paid order, a shipped one, a completed one with a complaint.
            make_order(buyer=self.alice, store=self.store, lines=DRESS_LINES)
            shipped = make_order(
                buyer=self.alice, store=self.store, lines=DRESS_LINES, shipped_at=now - 3 * DAY
            )
            closed = make_order(
                buyer=self.alice,
                store=self.store,
                shipped_at=now - 30 * DAY,
                confirmed_at=now - 16 * DAY,
            )
            filed = complaint_open(order=closed, buyer=self.alice, body="Never again." * 3)
            if i % 2:
                complaint_answer(
                    complaint_id=filed.complaint.pk, user=self.sam, answer="We have told the store."
                )
            # A dispute answered with a message; every other one settled by a refund.
            first, second = shipped.lines.all()
            dispute = open_dispute(line=first, buyer=self.alice, request=claim(), now=now - DAY)
            dispute_post_message(
                dispute_id=dispute.pk, user=self.bob, body="Sorry, let us sort it out."
            )
            if i % 2:
                dispute_accept(dispute_id=dispute.pk, user=self.bob)
            else:
                dispute_propose(
                    dispute_id=dispute.pk,
                    user=self.bob,
                    outcome=OutcomeType.COUPON,
                    amount=Decimal("20.00"),
                    note="A coupon for your next dress.",
                )
                dispute_accept(dispute_id=dispute.pk, user=self.alice)
            # An escalated case, assigned, with the arbitrator asking for evidence.
            self.escalated(line=second, days_ago=2 + i)
            # Another buyer at another store, so that scoping is exercised.
            make_order(buyer=self.carol, store=self.other_store, shipped_at=now - 2 * DAY)
            # An integration with a key, an endpoint and a delivery (the API's admin lists).
            self.integration(i)

    def integration(self, i: int) -> None:
        number = Integration.objects.count()
        integration = Integration.objects.create(
            name=f"Marketplace {number}", contact_email=f"ops{number}@example.com"
        )
        api_key_create(integration=integration, name=f"key {i}", user=self.sam)
        endpoint = WebhookEndpoint.objects.create(
            integration=integration, url=f"https://hooks.example.com/{number}", secret=new_secret()
        )
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id=f"msg_{number}",
            event_type="dispute.opened",
            subject=f"dsp_{number}",
            payload={"id": f"msg_{number}"},
        )

    def escalated(self, *, line, days_ago: int) -> Dispute:
        escalated_at = timezone.now() - days_ago * DAY
        from django.conf import settings

        answered_at = escalated_at - settings.PORTAL_NEGOTIATION_WINDOW
        dispute = open_dispute(
            line=line, buyer=self.alice, request=claim(), now=answered_at - timedelta(hours=2)
        )
        dispute_propose(
            dispute_id=dispute.pk,
            user=self.bob,
            outcome=OutcomeType.REJECTED,
            note="It left the warehouse whole.",
            now=answered_at,
        )
        disputes_sweep_due(now=escalated_at)
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.ESCALATED
        dispute_assign(dispute_id=dispute.pk, user=self.sam, assignee=self.rita)
        dispute_request_evidence(
            dispute_id=dispute.pk, user=self.sam, party="seller", note="The packing photos."
        )
        return dispute


@pytest.fixture
def world(alice, carol, bob, bobs_store, daves_store, sam, settings):
    settings.PORTAL_PAGE_SIZE = PAGE
    settings.PORTAL_ORDERS_PAGE_SIZE = PAGE
    settings.PORTAL_ADMIN_PAGE_SIZE = PAGE
    return World(
        alice=alice, carol=carol, bob=bob, bobs_store=bobs_store, daves_store=daves_store, sam=sam
    )


def queries(client, url: str) -> tuple[int, str]:
    """The number of queries one GET of ``url`` costs, and the page."""
    with CaptureQueriesContext(connection) as run:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(run), response.content.decode()


def assert_fixed(client, world, urls: list[str], django_assert_max_num_queries) -> None:
    """Each URL costs the same with a few rows as with more than three pages of them, on
    its first page and on its third."""
    world.grow(FEW)
    for url in urls:
        client.get(url)  # warm: the session, the translations, the content types
    few = {url: queries(client, url)[0] for url in urls}
    world.grow(MANY - FEW)
    for url in urls:
        join = "&" if "?" in url else "?"
        with django_assert_max_num_queries(few[url]):
            first, html = queries(client, url)
        with django_assert_max_num_queries(few[url]):
            third, html3 = queries(
                client, f"{url}{join}p=2" if "/admin/" in url else f"{url}{join}page=3"
            )
        assert first == third == few[url], (url, few[url], first, third)
        assert html != html3, url  # really another page


PORTAL_PAGES = {
    "alice": [
        "dashboards:my_orders",
        "disputes:buyer_list",
        "disputes:notifications",
        "complaints:list",
    ],
    "bob": ["dashboards:seller_dashboard", "disputes:seller_list", "disputes:notifications"],
}


@pytest.mark.parametrize(
    ("who", "name"), [(who, name) for who, names in PORTAL_PAGES.items() for name in names]
)
def test_a_portal_list_costs_the_same_whatever_its_length_and_page(
    who, name, world, client, django_assert_max_num_queries
):
    client.force_login(getattr(world, who))
    assert_fixed(client, world, [reverse(name)], django_assert_max_num_queries)


def test_the_seller_tabs_cost_the_same(world, client, django_assert_max_num_queries):
    client.force_login(world.bob)
    urls = [
        reverse("dashboards:seller_dashboard") + "?state=shipped",
        reverse("disputes:seller_list") + "?state=escalated",
    ]
    assert_fixed(client, world, urls, django_assert_max_num_queries)


ADMIN_LISTS = [
    "disputes_dispute",
    "disputes_disputeevent",
    "disputes_notification",
    "orders_order",
    "orders_store",
    "refunds_refund",
    "refunds_payout",
    "refunds_gatewaycall",
    "refunds_coupon",
    "api_integration",
    "api_apikey",
    "api_webhookendpoint",
    "api_webhookdelivery",
    "accounts_user",
    "evidence_evidence",
    "complaints_complaint",
]


@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_an_admin_list_costs_the_same_whatever_its_length_and_page(
    model, world, client, django_assert_max_num_queries
):
    client.force_login(world.root if model.startswith(("api_", "accounts_")) else world.sam)
    assert_fixed(
        client, world, [reverse(f"admin:{model}_changelist")], django_assert_max_num_queries
    )


def test_the_arbitration_queue_and_its_filters_cost_the_same(
    world, client, django_assert_max_num_queries
):
    client.force_login(world.sam)
    base = reverse("admin:disputes_dispute_changelist")
    urls = [
        base + "?queue=1",
        base + "?queue=1&assignee=" + str(world.rita.pk),
        base + "?state__exact=escalated&late=no",
        base + "?q=alice",
    ]
    assert_fixed(client, world, urls, django_assert_max_num_queries)


def test_the_pages_keep_every_filter(world, client):
    world.grow(MANY)
    client.force_login(world.bob)
    html = client.get(reverse("disputes:seller_list") + "?state=escalated").content.decode()
    assert re.search(r'href="\?state=escalated&amp;page=2"', html), html
    html = client.get(
        reverse("dashboards:seller_dashboard") + "?state=paid&page=2"
    ).content.decode()
    assert 'href="?state=paid&amp;page=1"' in html and 'href="?state=paid&amp;page=3"' in html
