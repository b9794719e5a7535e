"""A small marketplace with one of everything an operator's gauge counts, and the figures
the gauges must show for it at ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from api.models import Integration, WebhookDelivery, WebhookEndpoint
from disputes.models import Dispute
from disputes.services import DisputeRequest
from disputes.states import DeadlineKind, DisputeState, OutcomeType, Party, Reason
from orders.services import LineSpec
from refunds.models import Refund, RefundState
from tests.factories import make_order, open_dispute

DAY = timedelta(days=1)


def claim() -> DisputeRequest:
    return DisputeRequest(
        received=True,
        reason=Reason.DAMAGED,
        description="Both bags arrived torn along the seams.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("10.00"),
    )


def escalated_case(*, buyer, store, escalated_at: datetime) -> Dispute:
    """An escalated case written as the escalation leaves it (its target, its limit as the
    running clock). The rows are crafted: the gauges read columns, not the path here."""
    order = make_order(buyer=buyer, store=store, shipped_at=escalated_at - 20 * DAY)
    line = order.lines.get()
    target = escalated_at + timedelta(days=15)
    limit = escalated_at + timedelta(days=60)
    return Dispute.objects.create(
        line=line,
        order=order,
        buyer=buyer,
        store=store,
        received=True,
        reason=Reason.DAMAGED,
        description="Torn.",
        quantity=1,
        requested_outcome="refund_only",
        requested_amount=Decimal("10.00"),
        amount_cap=line.amount_paid,
        currency=order.currency,
        state=DisputeState.ESCALATED,
        opened_at=escalated_at - 10 * DAY,
        escalated_at=escalated_at,
        arbitration_target_at=target,
        arbitration_limit_at=limit,
        next_deadline_at=limit,
        deadline_kind=DeadlineKind.ARBITRATION_LIMIT,
        proposal_type=OutcomeType.REJECTED,
        proposal_by=Party.SELLER,
    )


def refund(*, dispute: Dispute, state: str, flagged: bool = False, expected_by=None) -> Refund:
    return Refund.objects.create(
        order=dispute.order,
        line=dispute.line,
        dispute=dispute,
        amount=Decimal("1.00"),
        currency=dispute.currency,
        method=dispute.order.payment_method,
        reason="test",
        state=state,
        flagged=flagged,
        expected_by=expected_by,
    )


def small_marketplace(*, now: datetime, alice, carol, bobs_store) -> dict[str, float]:
    """Write the data; return the gauges' expected values at ``now``."""
    # Orders: one whose protection ended 2 days ago (overdue), one still protected, one
    # whose buyer confirmed (completed: no clock).
    make_order(buyer=alice, store=bobs_store, protection_days=30, shipped_at=now - 32 * DAY)
    make_order(buyer=alice, store=bobs_store, protection_days=30, shipped_at=now - 3 * DAY)
    make_order(buyer=alice, store=bobs_store, shipped_at=now - 3 * DAY, confirmed_at=now - 2 * DAY)

    # Disputes: the seller's first answer is due 5 days after opening: one opened 7 days
    # ago is overdue (and its mail, never sent, waits since then); one opened a day ago
    # is not.
    order = make_order(
        buyer=alice,
        store=bobs_store,
        lines=[LineSpec("Canvas bag", 1, Decimal("10.00")), LineSpec("Tote", 1, Decimal("10.00"))],
        shipped_at=now - 10 * DAY,
    )
    first, second = order.lines.all()
    late = open_dispute(line=first, buyer=alice, request=claim(), now=now - 7 * DAY)
    open_dispute(line=second, buyer=alice, request=claim(), now=now - 1 * DAY)

    # Escalated cases: one past its target (escalated 20 days ago), one within it.
    past = escalated_case(buyer=carol, store=bobs_store, escalated_at=now - 20 * DAY)
    escalated_case(buyer=carol, store=bobs_store, escalated_at=now - 3 * DAY)

    # Refunds: one failed and flagged, one bounced (failed from sent, flagged), one failing
    # but still retried (not flagged), one sent and overdue to arrive, one sent in time.
    refund(dispute=past, state=RefundState.FAILED, flagged=True)
    refund(dispute=past, state=RefundState.FAILED, flagged=True)
    refund(dispute=past, state=RefundState.FAILED, flagged=False)
    refund(dispute=past, state=RefundState.SENT, expected_by=(now - 2 * DAY).date())
    refund(dispute=past, state=RefundState.SENT, expected_by=(now + 2 * DAY).date())

    # Webhooks: the oldest pending waits 300 s; older ones were delivered or given up.
    integration = Integration.objects.create(name="Shop", contact_email="ops@shop.example")
    endpoint = WebhookEndpoint.objects.create(
        integration=integration, url="https://shop.example/hook", secret="s"
    )

    def delivery(age: timedelta, **fields) -> None:
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id=f"msg_{age.total_seconds():.0f}",
            event_type="dispute.opened",
            subject="dispute:1",
            payload={},
            created_at=now - age,
            **fields,
        )

    delivery(timedelta(seconds=300))
    delivery(timedelta(seconds=60))
    delivery(timedelta(hours=2), delivered_at=now - timedelta(hours=1))
    delivery(timedelta(days=4), abandoned_at=now - timedelta(days=1))

    return {
        "dispute_clocks_overdue": 1.0,
        "order_clocks_overdue": 1.0,
        "oldest_unsent_mail_age_seconds": (now - late.opened_at).total_seconds(),
        "oldest_pending_webhook_age_seconds": 300.0,
        "refunds_needing_staff": 2.0,
        "refunds_arrival_overdue": 1.0,
        "escalated_past_target": 1.0,
    }
