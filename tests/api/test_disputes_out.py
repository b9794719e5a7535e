"""Disputes out: the list with cursors, the detail with every clock and the money, the
event feed; refunds reported back; sign-in links."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from api.models import ExternalOrder
from disputes.services import DisputeRequest, dispute_accept
from refunds.models import RefundState
from refunds.services import refunds_send_due
from tests.api.conftest import order_body
from tests.factories import open_dispute

pytestmark = pytest.mark.django_db


def claim(amount="45.00"):
    return DisputeRequest(
        received=True,
        reason="not_as_described",
        description="The dress is orange, not red as pictured.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal(amount),
    )


def shipped_order(api, order_id="D-1", **kwargs):
    api.post("/orders", order_body(order_id, **kwargs))
    api.post(f"/orders/{order_id}/shipment", {"carrier": "DHL", "tracking_number": "JD1"})
    return ExternalOrder.objects.get(external_id=order_id).order


def disputed(api, order_id="D-1", **kwargs):
    order = shipped_order(api, order_id, **kwargs)
    return open_dispute(line=order.lines.order_by("id").first(), buyer=order.buyer, request=claim())


def test_the_list_pages_with_a_cursor_and_filters(api):
    made = [disputed(api, f"L-{n}") for n in range(5)]
    first = api.get("/disputes", {"limit": 2}).json()
    assert [d["id"] for d in first["items"]] == [made[4].pk, made[3].pk]
    second = api.get("/disputes", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.get("/disputes", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [d["id"] for d in second["items"] + third["items"]] == [m.pk for m in made[2::-1]]
    assert third["next_cursor"] is None
    assert api.get("/disputes", {"state": "resolved"}).json()["items"] == []
    assert len(api.get("/disputes", {"store_id": "s-1"}).json()["items"]) == 5
    assert api.get("/disputes", {"store_id": "elsewhere"}).json()["items"] == []
    assert api.get("/disputes", {"cursor": "%%%"}).status_code == 422


def test_the_detail_has_every_clock_the_claim_and_the_money(api):
    dispute = disputed(api)
    body = api.get(f"/disputes/{dispute.pk}").json()
    assert body["state"] == "open"
    assert body["order_id"] == "D-1"
    assert body["claim"]["requested_amount"] == "45.00"
    assert (
        body["clocks"]
        == [
            {
                "clock": "seller_response",
                "due_at": dispute.next_deadline_at.isoformat().replace("+00:00", "Z"),
            }
        ]
        or body["clocks"][0]["clock"] == "seller_response"
    )

    dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    refunds_send_due(now=dispute.opened_at.replace(year=dispute.opened_at.year + 1))
    body = api.get(f"/disputes/{dispute.pk}").json()
    assert body["state"] == "resolved"
    assert body["outcome"]["type"] == "full_refund"
    assert body["outcome"]["amount"] == "45.00"
    assert [(r["amount"], r["state"]) for r in body["refunds"]] == [("45.00", RefundState.SENT)]


def test_another_integration_sees_none_of_it(api, other_api):
    dispute = disputed(api)
    assert other_api.get(f"/disputes/{dispute.pk}").status_code == 404
    assert other_api.get("/disputes").json()["items"] == []
    assert other_api.get("/events").json()["items"] == []
    refund_id = None
    dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    refund_id = dispute.refunds.get().pk
    assert other_api.post(f"/refunds/{refund_id}/report", {"outcome": "arrived"}).status_code == 404


def test_the_event_feed_reads_on_from_a_cursor(api):
    dispute = disputed(api)
    feed = api.get("/events").json()
    assert [e["kind"] for e in feed["items"]] == ["opened"]
    assert feed["items"][0]["order_id"] == "D-1"
    dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    more = api.get("/events", {"after": feed["next_cursor"]}).json()
    assert [e["kind"] for e in more["items"]] == ["accepted", "resolved"]
    empty = api.get("/events", {"after": more["next_cursor"]}).json()
    assert empty == {"items": [], "next_cursor": more["next_cursor"]}


def test_a_refund_reported_arrived_shows_on_the_buyers_tracker(api, client):
    dispute = disputed(api)
    dispute_accept(dispute_id=dispute.pk, user=dispute.store.owner)
    refund = dispute.refunds.get()
    early = api.post(f"/refunds/{refund.pk}/report", {"outcome": "arrived"})
    assert early.status_code == 409  # not sent yet
    refunds_send_due(now=dispute.opened_at.replace(year=dispute.opened_at.year + 1))
    arrived = api.post(f"/refunds/{refund.pk}/report", {"outcome": "arrived"})
    assert arrived.status_code == 200
    assert arrived.json()["state"] == RefundState.ARRIVED
    assert api.post(f"/refunds/{refund.pk}/report", {"outcome": "arrived"}).status_code == 200
    assert dispute.events.filter(kind="refund_arrived").count() == 1
    client.force_login(dispute.buyer)
    page = client.get(reverse("disputes:detail", args=[dispute.pk])).content.decode()
    assert "arrived" in page.lower()


def test_a_sign_in_link_works_once(api, client, settings):
    order = shipped_order(api)
    made = api.post(
        "/sign-in-links", {"person_id": "b-1", "page": "open_dispute", "order_id": "D-1", "line": 2}
    )
    assert made.status_code == 201, made.content
    url = made.json()["url"]
    assert url.startswith(settings.SITE_URL)
    path = url[len(settings.SITE_URL.rstrip("/")) :]
    response = client.get(path)
    line = order.lines.order_by("id")[1]
    assert response.status_code == 302
    assert response["Location"] == reverse("disputes:open", args=[line.pk])
    assert client.get(response["Location"]).status_code == 200  # logged in as the buyer
    client.logout()
    assert client.get(path).status_code == 410  # spent
    assert api.post("/sign-in-links", {"person_id": "nobody", "page": "orders"}).status_code == 404
    assert (
        api.post(
            "/sign-in-links",
            {"person_id": "b-1", "page": "open_dispute", "order_id": "D-1", "line": 9},
        ).status_code
        == 404
    )


def test_an_expired_sign_in_link_does_not_log_in(api, client, settings):
    import time_machine
    from django.utils import timezone

    shipped_order(api)
    url = api.post("/sign-in-links", {"person_id": "u-9", "page": "seller_dashboard"}).json()["url"]
    path = url[len(settings.SITE_URL.rstrip("/")) :]
    with time_machine.travel(
        timezone.now() + settings.PORTAL_SIGN_IN_LINK_TTL + timezone.timedelta(seconds=1)
    ):
        assert client.get(path).status_code == 410
    assert "_auth_user_id" not in client.session


def test_updated_since_catches_a_clock_applied_late(api):
    from datetime import timedelta

    from disputes.services import disputes_sweep_due

    dispute = disputed(api)
    due = dispute.next_deadline_at
    polled_at = due + timedelta(hours=1)  # the poller ran after the deadline...
    disputes_sweep_due(now=due + timedelta(hours=36))  # ...but the sweep came later
    import time_machine

    with time_machine.travel(due + timedelta(hours=40)):
        items = api.get("/disputes", {"updated_since": polled_at.isoformat()}).json()["items"]
        assert [d["id"] for d in items] == [dispute.pk]
        later = (due + timedelta(hours=37)).isoformat()
        assert api.get("/disputes", {"updated_since": later}).json()["items"] == []
