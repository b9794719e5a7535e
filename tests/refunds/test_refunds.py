"""Refunds stay within what was paid and reach the gateway once, whatever the retries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.gateway import GatewayError
from refunds.models import GatewayCall, Refund, RefundState
from refunds.services import RefundError, refund_create, refund_send
from tests.factories import DRESS_LINES, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def dresses(alice, bobs_store):
    return make_order(
        buyer=alice,
        store=bobs_store,
        lines=DRESS_LINES,
        shipped_at=timezone.now() - timedelta(days=3),
    )


def test_refunds_of_a_line_never_exceed_what_was_paid_for_it(dresses):
    red = dresses.lines.first()
    refund_create(line=red, amount=Decimal("30.00"), reason="partial refund")
    refund_create(line=red, amount=Decimal("15.00"), reason="the rest")
    with pytest.raises(RefundError, match=r"exceed the 45\.00 paid"):
        refund_create(line=red, amount=Decimal("0.01"), reason="one cent too many")
    assert Refund.objects.filter(line=red).count() == 2


@pytest.mark.parametrize("amount", ["0", "-1.00", "10.005"])
def test_a_refund_is_a_positive_amount_in_cents(dresses, amount):
    with pytest.raises(RefundError):
        refund_create(line=dresses.lines.first(), amount=Decimal(amount), reason="x")
    assert not Refund.objects.exists()


def test_the_refund_task_run_five_times_calls_the_gateway_once(
    dresses, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(
            line=dresses.lines.first(), amount=Decimal("20.00"), reason="partial"
        )
    for _ in range(5):
        refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.SENT
    assert refund.gateway_reference.startswith("SIM-")
    assert GatewayCall.objects.filter(idempotency_key=refund.idempotency_key).count() == 1
    assert GatewayCall.objects.count() == 1


def test_a_lost_reply_is_retried_with_the_same_key_and_moves_money_once(dresses, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    refund = refund_create(line=dresses.lines.first(), amount=Decimal("20.00"), reason="partial")
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "lost_reply"
    for _ in range(3):
        with pytest.raises(GatewayError):
            refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.FAILED and refund.attempts == 3 and not refund.flagged
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "ok"
    refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.SENT
    (call,) = GatewayCall.objects.all()
    assert call.reference == refund.gateway_reference


def test_a_declined_refund_is_flagged_to_staff(dresses, settings):
    refund = refund_create(line=dresses.lines.first(), amount=Decimal("20.00"), reason="partial")
    settings.PORTAL_SIMULATED_GATEWAY_MODE = "decline"
    with pytest.raises(GatewayError):
        refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.FAILED and refund.flagged
    assert "declined" in refund.last_error
    assert not GatewayCall.objects.exists()


def test_the_database_itself_refuses_refunded_totals_above_what_was_paid(dresses):
    from django.db import IntegrityError, transaction

    from orders.models import Order, OrderLine

    red = dresses.lines.first()
    refund_create(line=red, amount=Decimal("45.00"), reason="all of it")
    red.refresh_from_db()
    dresses.refresh_from_db()
    assert red.refunded_total == Decimal("45.00")
    assert dresses.refunded_total == Decimal("45.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.filter(pk=red.pk).update(refunded_total=Decimal("45.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=dresses.pk).update(refunded_total=Decimal("90.01"))


def test_refunds_of_an_order_never_exceed_its_total(alice, bobs_store):
    from decimal import Decimal as D

    order = make_order(buyer=alice, store=bobs_store, lines=DRESS_LINES)
    red, blue = order.lines.all()
    from orders.models import Order

    # The order says less was paid than its lines (a discount): the order cap binds.
    Order.objects.filter(pk=order.pk).update(total_paid=D("60.00"))
    refund_create(line=red, amount=D("45.00"), reason="red")
    with pytest.raises(RefundError, match="this order would exceed"):
        refund_create(line=blue, amount=D("15.01"), reason="blue")
    refund_create(line=blue, amount=D("15.00"), reason="blue")
