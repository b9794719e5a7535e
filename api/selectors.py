"""What an integration may read: only the orders it pushed in, and their disputes, refunds,
coupons and payouts. Every read here starts from the integration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from api.models import ExternalOrder, ExternalStore, Integration
from disputes.models import Dispute, DisputeEvent, EvidenceRequest
from refunds.models import Coupon, Payout, Refund

# Event data an integration does not get (who on staff has a case).
PRIVATE_DATA = {"assignee", "assignee_name", "before"}
# Staff-only event kinds: never in the feed nor in webhooks.
STAFF_ONLY = {"reminder", "assigned"}


def _external_order_id(order_id: int) -> str | None:
    return (
        ExternalOrder.objects.filter(order_id=order_id).values_list("external_id", flat=True)
    ).first()


def disputes_for_integration(
    *,
    integration: Integration,
    state: str | None = None,
    store_id: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Dispute]:
    qs = Dispute.objects.filter(order__external__integration=integration)
    if state:
        qs = qs.filter(state=state)
    if store_id:
        qs = qs.filter(
            store__external__integration=integration, store__external__external_id=store_id
        )
    if updated_since:
        # By when events were written, not when they are dated: a clock's event written
        # late is dated at its (earlier) due time, and a poller must not miss it.
        qs = qs.filter(
            Exists(
                DisputeEvent.objects.filter(
                    dispute=OuterRef("pk"),
                    processed_at__gt=updated_since,
                    processed_at__lte=timezone.now() - settings.PORTAL_API_FEED_LAG,
                )
            )
        )
    return qs.select_related("order__external", "store__external", "line")


def dispute_for_integration(*, integration: Integration, dispute_id: int) -> Dispute | None:
    return (
        disputes_for_integration(integration=integration)
        .prefetch_related(
            Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
            Prefetch(
                "evidence_requests",
                queryset=EvidenceRequest.objects.filter(answered_at__isnull=True),
                to_attr="open_requests",
            ),
        )
        .filter(pk=dispute_id)
        .first()
    )


def events_for_integration(
    *, integration: Integration, after: int = 0, limit: int = 100
) -> list[DisputeEvent]:
    """The event feed, oldest first, after a cursor (an event id)."""
    # Held back PORTAL_API_FEED_LAG: an event of a transaction still running gets an id
    # below one already committed; once every writer of that age has committed, ids only grow.
    return list(
        DisputeEvent.objects.filter(
            dispute__order__external__integration=integration,
            id__gt=after,
            processed_at__lte=timezone.now() - settings.PORTAL_API_FEED_LAG,
        )
        .exclude(kind__in=STAFF_ONLY)
        .select_related("dispute__order__external")
        .order_by("id")[:limit]
    )


def store_external_id(store_id: int) -> str | None:
    return (
        ExternalStore.objects.filter(store_id=store_id).values_list("external_id", flat=True)
    ).first()


# --- payloads (the API's bodies and the webhooks' data) ----------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(value) -> str | None:
    return None if value is None else str(value)


def running_clocks(dispute: Dispute) -> list[dict[str, Any]]:
    """Every clock running on the case, with its due time."""
    clocks = []
    if dispute.next_deadline_at and dispute.deadline_kind:
        clocks.append({"clock": dispute.deadline_kind, "due_at": _iso(dispute.next_deadline_at)})
    if (
        dispute.arbitration_target_at
        and not dispute.finished_at
        and dispute.state
        in (
            "escalated",
            "ruled",
        )
    ):
        clocks.append(
            {"clock": "arbitration_target", "due_at": _iso(dispute.arbitration_target_at)}
        )
    for asked in getattr(dispute, "open_requests", []):
        clocks.append({"clock": f"evidence_request_{asked.party}", "due_at": _iso(asked.due_at)})
    return clocks


def dispute_summary(dispute: Dispute) -> dict[str, Any]:
    external = getattr(dispute.order, "external", None)
    store = getattr(dispute.store, "external", None)
    return {
        "id": dispute.pk,
        "order_id": external.external_id if external else None,
        "store_id": store.external_id if store else None,
        "line": {
            "product": dispute.line.product_name,
            "colour": dispute.line.colour,
            "size": dispute.line.size,
        },
        "state": dispute.state,
        "currency": dispute.currency,
        "opened_at": _iso(dispute.opened_at),
        "finished_at": _iso(dispute.finished_at),
        "next_deadline": (
            {"clock": dispute.deadline_kind, "due_at": _iso(dispute.next_deadline_at)}
            if dispute.next_deadline_at
            else None
        ),
    }


def dispute_detail(dispute: Dispute) -> dict[str, Any]:
    body = dispute_summary(dispute)
    coupon = Coupon.objects.filter(dispute=dispute).first()
    payouts = Payout.objects.filter(line_id=dispute.line_id).order_by("created_at", "id")
    body.update(
        {
            "clocks": running_clocks(dispute),
            "claim": {
                "received": dispute.received,
                "reason": dispute.reason,
                "description": dispute.description,
                "quantity": dispute.quantity,
                "requested_outcome": dispute.requested_outcome,
                "requested_amount": _money(dispute.requested_amount),
                "amount_cap": _money(dispute.amount_cap),
            },
            "proposal": (
                {
                    "type": dispute.proposal_type,
                    "amount": _money(dispute.proposal_amount),
                    "by": dispute.proposal_by,
                    "note": dispute.proposal_note,
                    "at": _iso(dispute.proposal_at),
                }
                if dispute.proposal_type
                else None
            ),
            "outcome": (
                {
                    "type": dispute.outcome_type,
                    "amount": _money(dispute.outcome_amount),
                    "decided_by": dispute.decided_by,
                    "decided_at": _iso(dispute.decided_at),
                    "closing": dispute.closing or None,
                }
                if dispute.outcome_type
                else None
            ),
            "refunds": [refund_data(refund) for refund in dispute.refunds.all()],
            "coupon": (
                {
                    "code": coupon.code,
                    "value": _money(coupon.value),
                    "currency": coupon.currency,
                    "expires_at": _iso(coupon.expires_at),
                }
                if coupon
                else None
            ),
            "payouts": [payout_data(payout) for payout in payouts],
        }
    )
    return body


def dispute_event_data(event: DisputeEvent, order_id: str) -> dict[str, Any]:
    """An event as the feed and the webhooks show it; ``order_id`` is the marketplace's."""
    return {
        "event_id": event.pk,
        "dispute_id": event.dispute_id,
        "order_id": order_id,
        "kind": event.kind,
        "from_state": event.from_state or None,
        "to_state": event.to_state,
        "by": event.actor_party,
        "at": _iso(event.created_at),
        "processed_at": _iso(event.processed_at),
        "details": {k: v for k, v in (event.data or {}).items() if k not in PRIVATE_DATA},
    }


def refund_data(refund: Refund, order_id: str | None = None) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "order_id": order_id or _external_order_id(refund.order_id),
        "dispute_id": refund.dispute_id,
        "amount": _money(refund.amount),
        "currency": refund.currency,
        "method": refund.method,
        "state": refund.state,
        "reference": refund.gateway_reference or None,
        "created_at": _iso(refund.created_at),
    }


def payout_data(payout: Payout, order_id: str | None = None) -> dict[str, Any]:
    return {
        "id": payout.pk,
        "order_id": order_id or _external_order_id(payout.order_id),
        "store_id": store_external_id(payout.store_id),
        "kind": payout.kind,
        "amount": _money(payout.amount),
        "currency": payout.currency,
        "at": _iso(payout.created_at),
    }


def refund_for_integration(*, integration: Integration, refund_id: int) -> Refund | None:
    return Refund.objects.filter(pk=refund_id, order__external__integration=integration).first()
