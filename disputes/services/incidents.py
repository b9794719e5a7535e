"""Incident mode (SPEC.md, "Operations"): a carrier's trouble over the orders it carried to
one country, shipped between two dates.

Starting an incident extends each such order's protection (and so its dispute window) by
the incident's days and pushes every running clock of its open disputes (the deadline, the
reminder, the arbitration target and limit) by as much: whatever was due stays due later,
so the sweeps (which claim rows with ``SKIP LOCKED``, while this holds their locks) meet
nothing at the old times. Ending it early pulls every clock it pushed back by the days it
did not last, so that on balance the clocks were paused for the days it lasted; ending it
after its days changes no date. Each dispute gets one event per step (mailed to both parties
through the dispute outbox); the buyers and sellers of orders without a running dispute get
one mail per person per step listing their orders (``IncidentNotice``, an outbox of its own).

Both steps happen once: a second start of the same running incident returns the first, a
second end does nothing; ``IncidentOrder`` records what was applied to each order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.locale import as_reader
from disputes import deadlines, events
from disputes.models import Dispute
from disputes.services.guard import DisputeError
from orders.models import Incident, IncidentNotice, IncidentOrder, Order
from orders.services import lock_orders
from orders.states import OrderState

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=2)
# The dispute clocks an incident pushes (all of them that are set).
PUSHED = ("next_deadline_at", "reminder_at", "arbitration_target_at", "arbitration_limit_at")


@dataclass(frozen=True)
class IncidentScope:
    """The orders an incident covers."""

    carrier: str
    destination_country: str
    shipped_from: date
    shipped_to: date


@dataclass(frozen=True)
class IncidentMatch:
    """How many orders and running disputes an incident would cover now (the preview)."""

    orders: int
    disputes: int


@dataclass(frozen=True)
class IncidentResult:
    """What a start or an end did: ``done`` is False when it had been done already."""

    incident: Incident
    done: bool
    orders: int = 0
    disputes: int = 0
    notices: int = 0


def incident_orders(scope: IncidentScope) -> QuerySet[Order]:
    """Shipped orders of the carrier to the country, shipped on the days covered (orders
    that completed or were cancelled have no protection left to extend)."""
    start, end = deadlines.incident_shipped_between(
        shipped_from=scope.shipped_from, shipped_to=scope.shipped_to
    )
    return Order.objects.filter(
        state=OrderState.SHIPPED,
        carrier=scope.carrier,
        destination_country=scope.destination_country,
        shipped_at__gte=start,
        shipped_at__lt=end,
    )


def _running_disputes(order_ids: Iterable[int]) -> QuerySet[Dispute]:
    return Dispute.objects.filter(order_id__in=list(order_ids), finished_at__isnull=True)


def incident_preview(*, scope: IncidentScope) -> IncidentMatch:
    """The orders and running disputes a start would cover now (two counting queries)."""
    orders = incident_orders(scope)
    return IncidentMatch(
        orders=orders.count(),
        disputes=Dispute.objects.filter(order__in=orders, finished_at__isnull=True).count(),
    )


def incident_carriers() -> list[str]:
    """The carriers of shipped orders, for the form's choice (an index scan)."""
    return list(
        Order.objects.filter(state=OrderState.SHIPPED)
        .exclude(carrier="")
        .order_by("carrier")
        .values_list("carrier", flat=True)
        .distinct()
    )


# --- starting -------------------------------------------------------------------------------
def _lock_disputes(order_ids: Iterable[int], *, besides: Iterable[int] = ()) -> list[Dispute]:
    return list(
        _running_disputes(order_ids)
        .exclude(pk__in=list(besides))
        .select_for_update(of=("self",))
        .select_related("store")
        .order_by("pk")
    )


def _clock_record(dispute: Dispute) -> dict[str, Any]:
    """Which clocks the incident found on the dispute: on ending, a clock is pulled back
    only if it is still that clock (the same state and kind; the same escalation)."""
    return {
        "state": dispute.state,
        "kind": dispute.deadline_kind,
        "reminder": dispute.reminder_kind,
        "escalated_at": dispute.escalated_at.isoformat() if dispute.escalated_at else None,
    }


def _shift(dispute: Dispute, fields: Sequence[str], move: Any) -> list[str]:
    moved = []
    for name in fields:
        value = getattr(dispute, name)
        if value is not None:
            setattr(dispute, name, move(value))
            moved.append(name)
    return moved


def _save_clocks(dispute: Dispute, fields: Sequence[str]) -> None:
    if fields:
        Dispute.objects.filter(pk=dispute.pk).update(
            **{name: getattr(dispute, name) for name in fields}
        )


def _people(orders: Iterable[Order]) -> dict[tuple[int, str], list[int]]:
    """(person, "buyer" or "seller") -> their order ids."""
    people: dict[tuple[int, str], list[int]] = defaultdict(list)
    for order in orders:
        people[(order.buyer_id, "buyer")].append(order.pk)
        people[(order.store.owner_id, "seller")].append(order.pk)
    return people


def _notices(incident: Incident, step: str, orders: Iterable[Order], at: datetime) -> list[int]:
    """One outbox row per person and role for the step, delivered after the commit."""
    IncidentNotice.objects.bulk_create(
        [
            IncidentNotice(
                incident=incident,
                recipient_id=person,
                role=role,
                step=step,
                order_ids=sorted(ids),
                created_at=at,
            )
            for (person, role), ids in _people(orders).items()
        ],
        ignore_conflicts=True,
    )
    unsent = IncidentNotice.objects.filter(incident=incident, step=step, sent_at__isnull=True)
    ids = list(unsent.values_list("pk", flat=True))
    if ids:
        transaction.on_commit(lambda: _queue(ids))
    return ids


def _queue(ids: list[int]) -> None:
    try:
        deliver_incident_notices.delay(ids)
    except Exception:
        logger.warning("broker unreachable: %d incident mail(s) wait for the resend", len(ids))


def incident_start(
    *,
    by: Any,
    scope: IncidentScope,
    days: int,
    reason: str,
    now: datetime | None = None,
) -> IncidentResult:
    """Start an incident over the scope's orders: extend their protection and push the
    clocks of their running disputes by ``days``, record an event on each dispute, and mail
    the parties of the orders without one. Starting the same running incident again (the
    same carrier, country and dates) returns it unchanged."""
    from accounts.roles import is_arbitrator

    if not is_arbitrator(by):
        raise DisputeError(_("Only arbitrators may start an incident."))
    longest = deadlines.incident_max_days()
    if not 1 <= days <= longest:
        raise DisputeError(
            ngettext(
                "An incident lasts from 1 to %(n)d day.",
                "An incident lasts from 1 to %(n)d days.",
                longest,
            )
            % {"n": longest}
        )
    if scope.shipped_from > scope.shipped_to:
        raise DisputeError(_("The first shipment date is after the last."))
    now = now or timezone.now()
    running = Incident.objects.filter(ended_at__isnull=True, **asdict(scope))
    with transaction.atomic():
        existing = running.first()
        if existing is not None:
            return IncidentResult(incident=existing, done=False)
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    **asdict(scope), days=days, reason=reason.strip(), started_at=now, started_by=by
                )
        except IntegrityError:  # the same incident started at the same moment elsewhere
            return IncidentResult(incident=running.get(), done=False)
        ids = list(incident_orders(scope).values_list("pk", flat=True))
        # Disputes first, then their orders: the lock order of every service that moves a
        # dispute's money (a person's move waits here; the sweeps skip these rows).
        disputes = _lock_disputes(ids)
        orders = lock_orders(ids)
        # A dispute opened while we waited for its order's lock (opening holds it).
        disputes += _lock_disputes(ids, besides=[d.pk for d in disputes])
        orders = {
            pk: order
            for pk, order in orders.items()
            if order.state == OrderState.SHIPPED and order.protection_ends_at is not None
        }
        by_order: dict[int, list[Dispute]] = defaultdict(list)
        for dispute in disputes:
            if dispute.order_id in orders:
                by_order[dispute.order_id].append(dispute)
        links = []
        log = events.EventLog(processed_at=now)
        for order in orders.values():
            before = order.protection_ends_at
            order.protection_ends_at = deadlines.incident_extended(due=before, days=days)
            links.append(
                IncidentOrder(
                    incident=incident,
                    order=order,
                    days=days,
                    paused_at=now,
                    protection_ends_before=before,
                    disputes={str(d.pk): _clock_record(d) for d in by_order[order.pk]},
                )
            )
            for dispute in by_order[order.pk]:
                moved = _shift(
                    dispute, PUSHED, lambda due: deadlines.incident_extended(due=due, days=days)
                )
                _save_clocks(dispute, moved)
                events.incident_started(
                    log,
                    dispute,
                    incident=incident,
                    protection_ends_at=order.protection_ends_at,
                    at=now,
                )
        Order.objects.bulk_update(list(orders.values()), ["protection_ends_at"])
        IncidentOrder.objects.bulk_create(links)
        log.flush()
        quiet = [order.pk for order in orders.values() if not by_order[order.pk]]
        notices = _notices(
            incident,
            IncidentNotice.Step.STARTED,
            Order.objects.filter(pk__in=quiet).select_related("store"),
            now,
        )
    logger.info(
        "incident %s started by %s: %d orders, %d disputes",
        incident.pk,
        by.pk,
        len(orders),
        sum(len(v) for v in by_order.values()),
    )
    return IncidentResult(
        incident=incident,
        done=True,
        orders=len(orders),
        disputes=sum(len(v) for v in by_order.values()),
        notices=len(notices),
    )


# --- ending ---------------------------------------------------------------------------------
def _pull_back(dispute: Dispute, found: dict[str, Any], move: Any) -> list[str]:
    """Pull back the clocks that are still the ones the incident pushed."""
    fields: list[str] = []
    same_state = dispute.state == found["state"]
    if same_state and found["kind"] and dispute.deadline_kind == found["kind"]:
        fields.append("next_deadline_at")
    if same_state and found["reminder"] and dispute.reminder_kind == found["reminder"]:
        fields.append("reminder_at")
    escalated = dispute.escalated_at.isoformat() if dispute.escalated_at else None
    if found["escalated_at"] and escalated == found["escalated_at"]:
        fields += ["arbitration_target_at", "arbitration_limit_at"]
    return _shift(dispute, fields, move)


def incident_end(*, incident_id: int, by: Any, now: datetime | None = None) -> IncidentResult:
    """End a running incident: the clocks run again with the days it lasted added (a day
    begun counts whole); ended early, every clock it pushed comes back by the days it did
    not last. Each dispute it paused gets an event; the other orders' parties a mail. Ending
    an ended incident does nothing."""
    from accounts.roles import is_arbitrator

    if not is_arbitrator(by):
        raise DisputeError(_("Only arbitrators may end an incident."))
    now = now or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.ended_at is not None:
            return IncidentResult(incident=incident, done=False)
        paused = deadlines.incident_days_paused(
            started_at=incident.started_at, ended_at=now, days=incident.days
        )
        links = list(
            IncidentOrder.objects.filter(incident=incident, resumed_at__isnull=True).order_by(
                "order_id"
            )
        )
        found = {int(pk): record for link in links for pk, record in link.disputes.items()}
        disputes = list(
            Dispute.objects.filter(pk__in=list(found))
            .select_for_update(of=("self",))
            .select_related("store")
            .order_by("pk")
        )
        orders = lock_orders([link.order_id for link in links])

        def move(due: datetime) -> datetime:
            return deadlines.incident_pull_back(due=due, days=incident.days, days_paused=paused)

        incident.ended_at, incident.ended_by, incident.days_paused = now, by, paused
        log = events.EventLog(processed_at=now)
        for dispute in disputes:
            if paused < incident.days:
                _save_clocks(dispute, _pull_back(dispute, found[dispute.pk], move))
            events.incident_ended(log, dispute, incident=incident, days_paused=paused, at=now)
        changed = []
        if paused < incident.days:
            for order in orders.values():
                # Still waiting for its protection: the end comes back; an order completed
                # or refunded meanwhile keeps what it has.
                if order.state == OrderState.SHIPPED and order.protection_ends_at is not None:
                    order.protection_ends_at = move(order.protection_ends_at)
                    changed.append(order)
            Order.objects.bulk_update(changed, ["protection_ends_at"])
        IncidentOrder.objects.filter(pk__in=[link.pk for link in links]).update(resumed_at=now)
        incident.save(update_fields=["ended_at", "ended_by", "days_paused"])
        log.flush()
        with_dispute = {dispute.order_id for dispute in disputes}
        quiet = [
            order.pk
            for order in orders.values()
            if order.pk not in with_dispute and order.state == OrderState.SHIPPED
        ]
        notices = _notices(
            incident,
            IncidentNotice.Step.ENDED,
            Order.objects.filter(pk__in=quiet).select_related("store"),
            now,
        )
    logger.info("incident %s ended by %s after %d day(s)", incident.pk, by.pk, paused)
    return IncidentResult(
        incident=incident,
        done=True,
        orders=len(links),
        disputes=len(disputes),
        notices=len(notices),
    )


# --- the incident mail ----------------------------------------------------------------------
def _claim(*, ids: Sequence[int] | None, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        qs = IncidentNotice.objects.select_for_update(skip_locked=True).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now), sent_at__isnull=True
        )
        if ids is not None:
            qs = qs.filter(pk__in=ids)
        claimed = list(qs.order_by("created_at", "id").values_list("pk", flat=True)[:limit])
        IncidentNotice.objects.filter(pk__in=claimed).update(claimed_until=now + CLAIM_FOR)
    return claimed


def _mail(notice: IncidentNotice) -> None:
    """One mail, in the recipient's language and time zone: the incident, and each of
    their orders with the protection end it has now."""
    person, incident = notice.recipient, notice.incident
    orders = list(
        Order.objects.filter(pk__in=notice.order_ids)
        .select_related("store", "buyer")
        .order_by("pk")
    )
    link = "dashboards:my_orders" if notice.role == "buyer" else "dashboards:seller_dashboard"
    context = {
        "notice": notice,
        "incident": incident,
        "orders": orders,
        "person": person,
        "is_buyer": notice.role == "buyer",
        "days": incident.days_added,
        "link": settings.SITE_URL.rstrip("/") + reverse(link),
    }
    with as_reader(person):
        subject = render_to_string("emails/incident_subject.txt", context).strip()
        body = render_to_string("emails/incident.txt", context)
        html = render_to_string("emails/incident.html", context)
    mail = EmailMultiAlternatives(subject, body, None, [person.email])
    mail.attach_alternative(html, "text/html")
    mail.send()


def incident_notices_deliver(
    *, ids: Sequence[int] | None = None, now: datetime | None = None, limit: int = 200
) -> int:
    """Mail unsent incident notices (these ``ids``, or the oldest); returns how many."""
    now = now or timezone.now()
    claimed = _claim(ids=ids, now=now, limit=limit)
    sent = 0
    for notice in IncidentNotice.objects.filter(pk__in=claimed).select_related(
        "recipient", "incident"
    ):
        try:
            if notice.recipient.email:
                _mail(notice)
        except Exception as exc:
            logger.exception("mail for incident notice %s failed", notice.pk)
            IncidentNotice.objects.filter(pk=notice.pk).update(
                attempts=notice.attempts + 1,
                last_error=str(exc)[:1000],
                claimed_until=timezone.now() + RETRY_AFTER * (notice.attempts + 1),
            )
            continue
        IncidentNotice.objects.filter(pk=notice.pk).update(
            sent_at=timezone.now(), attempts=notice.attempts + 1, claimed_until=None
        )
        sent += 1
    return sent


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_incident_notices(ids: list[int]) -> int:
    """Mail the incident notices a start or an end just wrote (queued after its commit)."""
    return incident_notices_deliver(ids=ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_pending_incident_notices() -> int:
    """Mail whatever incident notice is still unsent (for beat: an outage loses nothing)."""
    return incident_notices_deliver(limit=settings.PORTAL_SWEEP_BATCH_SIZE)
