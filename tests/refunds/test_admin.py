"""Refunds, payouts and coupons in the Django admin, through its own pages: read-only
records, the overdue filter, and the two actions ("Retry now", "Mark as arrived") posted
through the changelist as a browser does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from disputes import services
from disputes.services import DisputeRequest
from disputes.states import OutcomeType, Reason
from orders.services import order_confirm_receipt
from refunds.gateway import GatewayError
from refunds.models import Coupon, GatewayCall, Payout, Refund, RefundState
from refunds.services import refund_send
from tests.factories import DRESS_LINES, UserFactory, make_order, open_dispute

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
FRIDAY = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CHANGELIST = "admin:refunds_refund_changelist"


def claim(amount: str = "45.00") -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason=Reason.NOT_AS_DESCRIBED,
        description="Wrong colour: the dress is green, not blue.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal(amount),
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def post_action(client, action: str, refunds: list[Refund]):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [r.pk for r in refunds], "index": 0},
        follow=True,
    )


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def clock(now):
    with time_machine.travel(now, tick=False) as traveller:
        yield traveller


@pytest.fixture
def order(clock, alice, bobs_store, now):
    return make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES, shipped_at=now - 7 * DAY)


@pytest.fixture
def red(order):
    return order.lines.order_by("id")[0]


@pytest.fixture
def blue(order):
    return order.lines.order_by("id")[1]


@pytest.fixture
def pending(clock, blue, alice, bob) -> Refund:
    """Bob accepted Alice's full refund of the blue dress; not sent yet."""
    dispute = open_dispute(line=blue, buyer=alice, request=claim())
    services.dispute_accept(dispute_id=dispute.pk, user=bob)
    return Refund.objects.get(dispute=dispute)


@pytest.fixture
def sent(clock, pending) -> Refund:
    """Sent on Friday 27 Nov 2026: expected by Friday 18 Dec (15 business days)."""
    clock.move_to(FRIDAY)
    return refund_send(refund_id=pending.pk)


@pytest.fixture
def failed(pending, settings) -> Refund:
    """The gateway refused it for good: failed and flagged to staff."""
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "decline"
    with pytest.raises(GatewayError):
        refund_send(refund_id=pending.pk)
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    refund = Refund.objects.get(pk=pending.pk)
    assert (refund.state, refund.flagged) == (RefundState.FAILED, True)
    return refund


@pytest.fixture
def refund_desk(sam):
    """Sam, an arbitrator: the Arbitrators group holds what refunds need (retry, mark
    arrived, read payouts and coupons)."""
    return sam


@pytest.fixture
def reader(db):
    """Staff who may read refunds and nothing more."""
    user = UserFactory(username="rita", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="refunds", codename="view_refund")
    )
    return user


@pytest.fixture
def desk_client(client, refund_desk):
    client.force_login(refund_desk)
    return client


@pytest.fixture
def coupon(clock, red, alice, bob) -> Coupon:
    dispute = open_dispute(line=red, buyer=alice, request=claim())
    services.dispute_propose(
        dispute_id=dispute.pk, user=bob, outcome=OutcomeType.COUPON, amount=Decimal("12.50")
    )
    services.dispute_accept(dispute_id=dispute.pk, user=alice)
    return Coupon.objects.get(dispute=dispute)


@pytest.fixture
def payouts(sent, order, alice):
    """Receipt confirmed after the blue dress was refunded: the red one is paid out in
    full, the blue one settled with nothing left for the seller."""
    order_confirm_receipt(order=order, buyer=alice)
    return list(Payout.objects.order_by("line_id"))


# --- who gets in ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "status"),
    [("sam", 200), ("alice", 302), ("bob", 302), ("carol", 302), ("anonymous", 302)],
)
def test_only_staff_reach_the_refunds(who, status, client_for, sent):
    response = client_for(who).get(reverse(CHANGELIST))
    assert response.status_code == status
    if status == 200:
        assert f"/admin/refunds/refund/{sent.pk}/change/" in response.content.decode()


def test_staff_who_only_read_refunds_are_offered_no_action(client, reader, sent):
    client.force_login(reader)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert 'name="action"' not in html
    page = client.get(reverse("admin:refunds_refund_change", args=[sent.pk]))
    assert page.status_code == 200


def test_staff_cannot_post_an_action_without_the_refund_permission(client, reader, failed):
    client.force_login(reader)
    response = post_action(client, "retry_now", [failed])
    assert response.status_code == 200
    refund = Refund.objects.get(pk=failed.pk)
    assert (refund.state, refund.flagged) == (RefundState.FAILED, True)


@pytest.mark.parametrize(
    "name",
    [
        "admin:refunds_refund_changelist",
        "admin:refunds_payout_changelist",
        "admin:refunds_coupon_changelist",
        "admin:refunds_gatewaycall_changelist",
    ],
)
def test_the_refund_desk_pages_load(name, desk_client, sent, payouts, coupon):
    assert desk_client.get(reverse(name)).status_code == 200


# --- read-only ------------------------------------------------------------------------------------
def test_a_refund_is_never_edited_added_or_deleted_by_hand(desk_client, sent):
    url = reverse("admin:refunds_refund_change", args=[sent.pk])
    html = desk_client.get(url).content.decode()
    for field in ("amount", "state", "method", "expected_by", "flagged"):
        assert f'name="{field}"' not in html
    desk_client.post(url, {"amount": "1.00", "state": "arrived", "flagged": "on"})
    refund = Refund.objects.get(pk=sent.pk)
    assert (refund.amount, refund.state, refund.flagged) == (
        Decimal("45.00"),
        RefundState.SENT,
        False,
    )
    assert desk_client.get(reverse("admin:refunds_refund_add")).status_code == 403
    delete = reverse("admin:refunds_refund_delete", args=[sent.pk])
    assert desk_client.post(delete, {"post": "yes"}).status_code == 403
    assert Refund.objects.filter(pk=sent.pk).exists()


def test_payouts_and_coupons_are_read_only(desk_client, payouts, coupon):
    payout = payouts[0]
    html = desk_client.get(reverse("admin:refunds_payout_change", args=[payout.pk])).content
    assert b'name="amount"' not in html
    html = desk_client.get(reverse("admin:refunds_coupon_change", args=[coupon.pk])).content
    assert b'name="code"' not in html and coupon.code.encode() in html
    assert desk_client.get(reverse("admin:refunds_payout_add")).status_code == 403
    assert desk_client.get(reverse("admin:refunds_coupon_add")).status_code == 403


def test_the_payout_list_shows_the_store_order_line_and_filters_by_kind(
    desk_client, payouts, order
):
    html = desk_client.get(reverse("admin:refunds_payout_changelist")).content.decode()
    assert "Bob&#x27;s Boutique" in html and order.number in html and "45.00" in html
    html = desk_client.get(reverse("admin:refunds_payout_changelist") + "?kind=clawback")
    assert "0 payouts" in html.content.decode()


def test_a_coupon_is_found_by_its_code(desk_client, coupon):
    url = reverse("admin:refunds_coupon_changelist")
    html = desk_client.get(url, {"q": coupon.code}).content.decode()
    assert coupon.code in html and "1 coupon" in html
    html = desk_client.get(url, {"q": "NOPE-NOPE-NOPE"}).content.decode()
    assert coupon.code not in html.split("<tbody>")[-1]


# --- filters --------------------------------------------------------------------------------------
def test_the_overdue_filter_lists_sent_refunds_past_their_latest_date(
    clock, client_for, sent, red, alice, bob
):
    other = open_dispute(line=red, buyer=alice, request=claim())
    services.dispute_accept(dispute_id=other.pk, user=bob)
    later = Refund.objects.get(dispute=other)
    clock.move_to(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    refund_send(refund_id=later.pk)  # expected by 31 Dec
    clock.move_to(datetime(2026, 12, 19, 9, 0, tzinfo=UTC))
    html = client_for("sam").get(reverse(CHANGELIST), {"arrival": "overdue"}).content.decode()
    assert f"/admin/refunds/refund/{sent.pk}/change/" in html
    assert f"/admin/refunds/refund/{later.pk}/change/" not in html
    clock.move_to(datetime(2026, 12, 18, 9, 0, tzinfo=UTC))
    html = client_for("sam").get(reverse(CHANGELIST), {"arrival": "overdue"}).content.decode()
    assert f"/admin/refunds/refund/{sent.pk}/change/" not in html


@pytest.mark.parametrize(("query", "shown"), [("state=failed", True), ("state=sent", False)])
def test_refunds_filter_by_state_and_flag(query, shown, client_for, failed):
    html = client_for("sam").get(reverse(CHANGELIST) + "?" + query).content.decode()
    assert (f"/admin/refunds/refund/{failed.pk}/change/" in html) == shown
    html = client_for("sam").get(reverse(CHANGELIST) + "?flagged__exact=1").content.decode()
    assert f"/admin/refunds/refund/{failed.pk}/change/" in html
    html = client_for("sam").get(reverse(CHANGELIST) + "?method__exact=card").content.decode()
    assert f"/admin/refunds/refund/{failed.pk}/change/" in html


# --- actions --------------------------------------------------------------------------------------
def test_retry_now_sends_a_flagged_refund_once(
    desk_client, failed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(desk_client, "retry_now", [failed])
    assert response.status_code == 200
    assert "1 refund is queued to be sent again." in messages_of(response)
    refund = Refund.objects.get(pk=failed.pk)
    assert (refund.state, refund.flagged) == (RefundState.SENT, False)
    assert GatewayCall.objects.filter(idempotency_key=refund.idempotency_key).count() == 1


def test_retry_now_reports_a_refund_that_did_not_fail(desk_client, sent):
    response = post_action(desk_client, "retry_now", [sent])
    assert any("Only a failed refund can be retried." in m for m in messages_of(response))
    assert Refund.objects.get(pk=sent.pk).state == RefundState.SENT


def test_mark_as_arrived_records_the_arrival(clock, desk_client, sent):
    clock.move_to(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    response = post_action(desk_client, "mark_arrived", [sent])
    assert "1 refund is marked as arrived." in messages_of(response)
    refund = Refund.objects.get(pk=sent.pk)
    assert refund.state == RefundState.ARRIVED
    assert refund.arrived_at == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert refund.dispute.events.filter(kind="refund_arrived").count() == 1


def test_mark_as_arrived_reports_refunds_not_sent(desk_client, pending):
    response = post_action(desk_client, "mark_arrived", [pending])
    assert any("has not been sent yet" in m for m in messages_of(response))
    assert Refund.objects.get(pk=pending.pk).state == RefundState.PENDING
