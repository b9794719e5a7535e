"""Starting and ending an incident in the admin: form, preview, confirmation, permissions."""

from datetime import timedelta

import pytest
from django.urls import reverse

from disputes.models import DisputeEvent
from disputes.states import EventKind
from orders.models import Incident, Order
from tests.factories import UserFactory, make_order, open_dispute
from tests.incidents.test_incident import REASON, request

pytestmark = pytest.mark.django_db
ADD = reverse("admin:orders_incident_add")
FORM = {
    "carrier": "DHL",
    "destination_country": "de",
    "shipped_from": "2026-11-15",
    "shipped_to": "2026-11-22",
    "days": "7",
    "reason": REASON,
}


@pytest.fixture
def orders(alice, bobs_store, now):
    hit = make_order(
        buyer=alice,
        store=bobs_store,
        shipped_at=now - timedelta(days=3),
        carrier="DHL",
        destination_country="DE",
    )
    miss = make_order(
        buyer=alice,
        store=bobs_store,
        shipped_at=now - timedelta(days=3),
        carrier="DHL",
        destination_country="FR",
    )
    dispute = open_dispute(
        line=hit.lines.first(), buyer=alice, request=request("refund_only", "10.00"), now=now
    )
    return hit, miss, dispute


def test_preview_then_confirm(client, sam, orders):
    hit, miss, dispute = orders
    client.force_login(sam)
    assert client.get(ADD).status_code == 200
    page = client.post(ADD, {**FORM, "preview": "1"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "1 order would be extended" in text and "1 open dispute paused." in text
    assert not Incident.objects.exists()  # the preview changes nothing
    before = Order.objects.get(pk=hit.pk).protection_ends_at

    done = client.post(ADD, {**FORM, "confirm": "1"})
    assert done.status_code == 302
    incident = Incident.objects.get()
    assert (incident.destination_country, incident.days, incident.started_by) == ("DE", 7, sam)
    assert Order.objects.get(pk=hit.pk).protection_ends_at == before + timedelta(days=7)
    assert Order.objects.get(pk=miss.pk).protection_ends_at == miss.protection_ends_at
    assert (
        DisputeEvent.objects.filter(dispute=dispute, kind=EventKind.INCIDENT_STARTED).count() == 1
    )

    # Sent twice: nothing more.
    client.post(ADD, {**FORM, "confirm": "1"})
    assert Incident.objects.count() == 1

    # Ended through the action, once.
    listing = reverse("admin:orders_incident_changelist")
    assert "DHL" in client.get(listing).content.decode()
    action = {"action": "end_incidents", "_selected_action": [incident.pk]}
    assert client.post(listing, action).status_code == 302
    incident.refresh_from_db()
    assert incident.ended_by == sam and incident.days_paused is not None
    client.post(listing, action)
    assert DisputeEvent.objects.filter(kind=EventKind.INCIDENT_ENDED).count() == 1


def test_form_refuses_bad_input(client, sam, orders):
    client.force_login(sam)
    page = client.post(ADD, {**FORM, "days": "31", "reason": "short", "confirm": "1"})
    assert page.status_code == 200
    assert page.context["form"].errors.keys() == {"days", "reason"}
    assert not Incident.objects.exists()


def test_staff_without_the_arbitrator_permission_refused(client, orders):
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {**FORM, "confirm": "1"}).status_code == 403
    assert client.get(reverse("admin:orders_incident_changelist")).status_code == 403
    assert not Incident.objects.exists()


def test_buyer_refused(client, alice, orders):
    client.force_login(alice)
    assert client.post(ADD, {**FORM, "confirm": "1"}).status_code == 302  # to the login
    assert not Incident.objects.exists()


def test_dispute_page_shows_the_notice_and_the_extended_clock(client, sam, alice, orders):
    _hit, _miss, dispute = orders
    client.force_login(sam)
    client.post(ADD, {**FORM, "confirm": "1"})
    client.force_login(alice)
    page = client.get(reverse("disputes:detail", args=[dispute.pk]))
    text = page.content.decode()
    assert "Protection extended by 7 days:" in text and REASON in text
    dispute.refresh_from_db()
    assert dispute.next_deadline_at.isoformat() in text  # the countdown's due time
