"""Reads of disputes, always scoped to the person asking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import F, Prefetch, Q, QuerySet

from accounts.roles import may_view_disputes
from disputes.models import Dispute, DisputeEvent, DisputeMessage, EvidenceRequest, Notification
from disputes.notifications import STAFF_ONLY_EVENTS
from disputes.states import DisputeState

if TYPE_CHECKING:
    from orders.models import Store


def disputes_for_user(*, user: Any) -> QuerySet[Dispute]:
    """The disputes a person may see: their own as buyer, their store's as seller, and
    every dispute for staff who may read disputes (``accounts.roles.may_view_disputes``);
    other staff see only their own, like anyone."""
    qs = Dispute.objects.select_related("line", "order", "store", "buyer")
    if not user.is_authenticated:
        return qs.none()
    if may_view_disputes(user):
        return qs
    return qs.filter(Q(buyer=user) | Q(store__owner=user))


def disputes_for_buyer(*, user: Any) -> QuerySet[Dispute]:
    return disputes_for_user(user=user).filter(buyer=user).order_by("-opened_at", "-id")


def disputes_for_store(*, store: Store, state: str | None = None) -> QuerySet[Dispute]:
    """A store's disputes, the nearest deadline first, finished ones last."""
    qs = Dispute.objects.filter(store=store).select_related("line", "order", "buyer", "store")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by(F("next_deadline_at").asc(nulls_last=True), "-opened_at", "-id")


def store_dispute_counts(*, store: Store) -> dict[str, int]:
    from django.db.models import Count

    rows = Dispute.objects.filter(store=store).values("state").annotate(n=Count("id"))
    counts = {state.value: 0 for state in DisputeState}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def dispute_timeline(*, dispute: Dispute, for_parties: bool = False) -> QuerySet[DisputeEvent]:
    """Every event of the dispute, oldest first; ``for_parties``: without the staff's own
    (the arbitrators' reminders and late flags, which only they are told of)."""
    events = dispute.events.select_related("actor", "message").order_by("created_at", "id")
    if for_parties:
        events = events.exclude(STAFF_ONLY_EVENTS)
    return events


def dispute_messages(*, dispute: Dispute) -> QuerySet[DisputeMessage]:
    return dispute.messages.select_related("author").order_by("created_at", "id")


def dispute_evidence(*, dispute: Dispute):
    """Every item sent in the dispute (hidden ones included: the page says so)."""
    from evidence.models import Evidence

    return Evidence.objects.filter(dispute=dispute).select_related("uploaded_by", "hidden_by")


def dispute_open_evidence_requests(*, dispute: Dispute) -> QuerySet[EvidenceRequest]:
    """The arbitrator's requests for more evidence that the side asked has not answered."""
    return dispute.evidence_requests.filter(answered_at__isnull=True).order_by("due_at", "id")


def with_open_evidence_requests(queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """Disputes with their unanswered evidence requests, soonest due first, in one more query
    whatever their number (``dispute.open_evidence_requests``): for lists of cases."""
    return queryset.prefetch_related(
        Prefetch(
            "evidence_requests",
            queryset=EvidenceRequest.objects.filter(answered_at__isnull=True).order_by(
                "due_at", "id"
            ),
            to_attr="open_evidence_requests",
        )
    )


def notifications_for_user(*, user: Any) -> QuerySet[Notification]:
    """A person's own notifications, newest first, with what their sentences need."""
    return (
        Notification.objects.filter(recipient=user)
        .select_related(
            "event",
            "event__actor",
            "event__message",
            "event__dispute",
            "event__dispute__line",
            "event__dispute__store",
        )
        .order_by("-created_at", "-id")
    )


def notifications_unread_count(*, user: Any) -> int:
    """How many of the person's notifications are unread (one query, for the badge)."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
