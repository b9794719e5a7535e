"""Many overdue disputes at once, for the concurrency tests and the benchmark."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F

from disputes.models import Dispute
from disputes.states import DeadlineKind, OutcomeType, Party, Reason, RequestedOutcome
from orders.models import Order, OrderLine
from orders.services import LineSpec, order_create, order_mark_shipped


def overdue_disputes(*, buyer, store, count: int, due: datetime) -> list[int]:
    """``count`` open disputes, one per line of one shipped order, whose seller deadline
    passed at ``due`` (oldest first). Rows are inserted in bulk; states are the defaults."""
    order = order_create(
        buyer=buyer,
        store=store,
        lines=[LineSpec("Item", 1, Decimal("10.00"))],
        payment_method="card",
        placed_at=due - timedelta(days=9),
    )
    order_mark_shipped(
        order=order, seller=store.owner, carrier="DHL", tracking_number="BULK1", now=due
    )
    lines = OrderLine.objects.bulk_create(
        OrderLine(order=order, product_name=f"Item {i}", quantity=1, unit_price=Decimal("10.00"))
        for i in range(count)
    )
    # The order was paid for every line it has.
    Order.objects.filter(pk=order.pk).update(total_paid=F("total_paid") + Decimal("10.00") * count)
    opened = due - timedelta(days=5)
    disputes = Dispute.objects.bulk_create(
        (
            Dispute(
                line=line,
                order=order,
                buyer=buyer,
                store=store,
                received=True,
                reason=Reason.DAMAGED,
                description="Broken on arrival, photos attached.",
                quantity=1,
                requested_outcome=RequestedOutcome.REFUND_ONLY,
                requested_amount=Decimal("10.00"),
                amount_cap=Decimal("10.00"),
                currency="USD",
                opened_at=opened,
                next_deadline_at=due + timedelta(microseconds=i),
                deadline_kind=DeadlineKind.SELLER_RESPONSE,
                proposal_type=OutcomeType.FULL_REFUND,
                proposal_amount=Decimal("10.00"),
                proposal_by=Party.BUYER,
                proposal_at=opened,
            )
            for i, line in enumerate(lines)
        ),
        batch_size=2000,
    )
    return [d.pk for d in disputes]
