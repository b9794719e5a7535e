"""Django admin, through its own pages: disputes read-only, stalled clocks visible."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from disputes.models import Dispute
from tests.disputes.bulk import overdue_disputes

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(alice, bobs_store):
    return overdue_disputes(
        buyer=alice, store=bobs_store, count=3, due=timezone.now() - timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("who", "status"), [("sam", 200), ("alice", 302), ("bob", 302), ("anonymous", 302)]
)
def test_only_staff_reach_the_disputes_in_admin(who, status, client_for, overdue):
    response = client_for(who).get(reverse("admin:disputes_dispute_changelist"))
    assert response.status_code == status


def test_admin_lists_overdue_unprocessed_disputes(client_for, overdue, alice, bobs_store):
    running = overdue_disputes(
        buyer=alice, store=bobs_store, count=1, due=timezone.now() + timedelta(days=2)
    )
    client = client_for("sam")
    url = reverse("admin:disputes_dispute_changelist")
    html = client.get(url + "?clock=overdue").content.decode()
    for pk in overdue:
        assert f"/admin/disputes/dispute/{pk}/change/" in html
    assert f"/admin/disputes/dispute/{running[0]}/change/" not in html
    assert "3 disputes" in html


def test_the_dispute_page_in_admin_is_read_only(client_for, overdue):
    client = client_for("sam")
    url = reverse("admin:disputes_dispute_change", args=[overdue[0]])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="state"' not in page.content.decode()
    client.post(url, {"state": "resolved"})
    assert Dispute.objects.get(pk=overdue[0]).state == "open"


def test_arbitrators_read_the_mail_outbox(client_for, overdue):
    response = client_for("sam").get(reverse("admin:disputes_notification_changelist"))
    assert response.status_code == 200


def test_evidence_in_admin_opens_through_the_checked_view(client_for, alice, bobs_store):
    from tests.factories import open_dispute, photo
    from tests.orders.test_views import make_order

    order = make_order(buyer=alice, store=bobs_store, shipped_at=timezone.now() - timedelta(days=1))
    from disputes.services import DisputeRequest

    dispute = open_dispute(
        line=order.lines.get(),
        buyer=alice,
        request=DisputeRequest(
            True, "damaged", "Scratched all over the lid.", 1, "refund_only", Decimal("10.00")
        ),
        files=[photo("lid.jpg")],
    )
    item = dispute.evidence.get()
    html = (
        client_for("sam")
        .get(reverse("admin:evidence_evidence_change", args=[item.pk]))
        .content.decode()
    )
    assert reverse("disputes:evidence_file", args=[dispute.pk, item.pk]) in html
    assert "/media-not-served/" not in html
