"""Who hears about an event, the outbox rows that say so, and their delivery by mail.

A change writes its ``Notification`` rows in its own transaction; after the commit one
Celery task is queued to mail them, and a periodic task mails whatever is still unsent
(the broker was down, a worker died mid-send). Mail is therefore delivered at least once,
and in practice once: a row is claimed before sending and marked sent right after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.locale import as_reader
from disputes import deadlines
from disputes.models import Dispute, DisputeEvent, Notification
from disputes.states import DisputeState, EventKind, Party, ReminderKind
from orders.bulk import copy_rows, next_ids

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
STAFF_KINDS = (EventKind.REMINDER, EventKind.ARBITRATION_LATE)
RETRY_AFTER = timedelta(minutes=2)

# The arbitrators' own events: told to them alone, never shown to the parties (their
# timelines leave them out): a case nearing its target, a case past its limit.
STAFF_ONLY_EVENTS = Q(kind=EventKind.ARBITRATION_LATE) | Q(
    kind=EventKind.REMINDER, data__reminder=ReminderKind.ARBITRATION_TARGET
)
# Recorded beside the move that caused them, without a mail of their own: that move's mail
# says where they left the case (an outcome taking effect, a return or replacement begun).
FOLLOW_UP_KINDS = (EventKind.RESOLVED, EventKind.RETURN_STARTED, EventKind.REPLACEMENT_STARTED)
# Events that leave the dispute's state and running clock as they were.
STILL_KINDS = (
    EventKind.MESSAGE,
    EventKind.EVIDENCE_ADDED,
    EventKind.EVIDENCE_HIDDEN,
    EventKind.REFUND_SENT,
    EventKind.REFUND_ARRIVED,
    EventKind.REFUND_FAILED,
    EventKind.REMINDER,
    EventKind.ASSIGNED,
    EventKind.EVIDENCE_REQUESTED,
)


def arbitrator_ids() -> list[int]:
    """Every active arbitrator (who hears of a case no one has taken yet): the same people
    who may be given a case and rule (``accounts.roles.arbitrators``)."""
    from accounts.roles import arbitrators

    return list(arbitrators().order_by("pk").values_list("pk", flat=True))


def recipient_ids(event: DisputeEvent, *, arbitrators: list[int] | None = None) -> list[int]:
    """Who hears about an event (the table in README.md, "Notifications"):

    - changes of state and money concern both parties; once a case has an arbitrator,
      the parties' replies to a ruling concern the arbitrator too;
    - a message concerns the parties who did not write it (a staff message, both);
    - an evidence request concerns the side asked; an assignment, the new arbitrator;
    - a reminder concerns whoever must act: the seller, the buyer, or the arbitrator (all
      arbitrators while no one has the case); so does a case passing its limit.
    """
    dispute = event.dispute
    buyer, seller = dispute.buyer_id, dispute.store.owner_id
    staff = [dispute.assignee_id] if dispute.assignee_id else None

    def arbitrators_of_case() -> list[int]:
        return staff or (arbitrators if arbitrators is not None else arbitrator_ids())

    kind = event.kind
    if kind == EventKind.MESSAGE:
        return [pk for pk in (buyer, seller) if pk != event.actor_id]
    if kind == EventKind.EVIDENCE_REQUESTED:
        return [buyer if event.data.get("party") == "buyer" else seller]
    if kind == EventKind.ASSIGNED:
        return [event.data["assignee"]] if event.data.get("assignee") else []
    if kind == EventKind.REMINDER:
        reminder = event.data.get("reminder")
        if reminder == ReminderKind.SELLER_RESPONSE:
            return [seller]
        if reminder == ReminderKind.RETURN_SHIPMENT:
            return [buyer]
        return arbitrators_of_case()
    if kind == EventKind.ARBITRATION_LATE:
        return arbitrators_of_case()
    if kind in (EventKind.RULING_AGREED, EventKind.RULING_OBJECTED) and staff:
        return [buyer, seller, *staff]
    return [buyer, seller]


def notifications_create(events: Iterable[DisputeEvent]) -> list[int]:
    """Write the outbox rows for saved events and queue their delivery after commit.
    Returns the new rows' ids (one row per recipient of each event)."""
    arbitrators: list[int] | None = None
    rows: list[tuple[int, int, datetime]] = []
    for event in events:
        if arbitrators is None and event.kind in STAFF_KINDS:
            arbitrators = arbitrator_ids()  # once per batch
        rows.extend(
            (pk, event.pk, event.created_at)
            for pk in dict.fromkeys(recipient_ids(event, arbitrators=arbitrators))
        )
    if not rows:
        return []
    if connection.vendor == "postgresql":
        # Thousands of rows per sweep batch: ids from the sequence, the rows by COPY.
        ids = next_ids(Notification, len(rows))
        copy_rows(
            Notification,
            ("id", "recipient_id", "event_id", "created_at", "attempts", "last_error"),
            [(pk, *row, 0, "") for pk, row in zip(ids, rows, strict=True)],
        )
    else:
        made = Notification.objects.bulk_create(
            Notification(recipient_id=recipient, event_id=event, created_at=at)
            for recipient, event, at in rows
        )
        ids = [row.pk for row in made if row.pk is not None]
    transaction.on_commit(lambda: queue_delivery(ids))
    return ids


def queue_delivery(ids: Sequence[int]) -> None:
    """Hand the rows to Celery. If the broker is unreachable the rows wait for the
    periodic resend; nothing is lost and the change that made them stands."""
    from disputes.tasks import deliver_notifications

    try:
        deliver_notifications.delay(list(ids))
    except Exception:
        logger.warning("broker unreachable: %d notification(s) wait for the resend", len(ids))


def _claim(*, ids: Sequence[int] | None, now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        qs = Notification.objects.select_for_update(skip_locked=True).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now), sent_at__isnull=True
        )
        if ids is not None:
            qs = qs.filter(pk__in=ids)
        claimed = list(qs.order_by("created_at", "id").values_list("pk", flat=True)[:limit])
        Notification.objects.filter(pk__in=claimed).update(claimed_until=now + CLAIM_FOR)
    return claimed


def notifications_deliver(
    *, ids: Sequence[int] | None = None, now: datetime | None = None, limit: int = 200
) -> int:
    """Mail unsent notifications (these ``ids``, or the oldest ones); returns how many."""
    now = now or timezone.now()
    claimed = _claim(ids=ids, now=now, limit=limit)
    rows = Notification.objects.filter(pk__in=claimed).select_related(
        "recipient",
        "event",
        "event__actor",
        "event__message",
        "event__dispute",
        "event__dispute__line",
        "event__dispute__order",
        "event__dispute__store",
    )
    sent = 0
    for row in rows:
        try:
            if row.recipient.email:
                with structlog.contextvars.bound_contextvars(dispute_id=row.event.dispute_id):
                    _mail(row)
        except Exception as exc:
            with structlog.contextvars.bound_contextvars(dispute_id=row.event.dispute_id):
                logger.exception("mail for notification %s failed", row.pk)
            Notification.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1,
                last_error=str(exc)[:1000],
                claimed_until=timezone.now() + RETRY_AFTER * (row.attempts + 1),
            )
            continue
        Notification.objects.filter(pk=row.pk).update(
            sent_at=timezone.now(), attempts=row.attempts + 1, claimed_until=None
        )
        sent += 1
    return sent


def notification_link(*, dispute: Dispute, person: Any) -> str:
    """Where a notification sends its reader: the dispute page for the parties, the
    dispute's admin page for staff (who work cases in the admin)."""
    if dispute.party_of(person) == Party.STAFF:
        return reverse("admin:disputes_dispute_change", args=[dispute.pk])
    return reverse("disputes:detail", args=[dispute.pk])


@dataclass
class Aftermath:
    """Where an event's change left the case, from what its events recorded (the event
    and the follow-ups written beside it), whatever happened to the case since: what a
    mail describes, however late it is sent."""

    event: DisputeEvent
    follow_ups: list[DisputeEvent] = field(default_factory=list)
    # Nothing that moves a state or a clock happened since: the dispute's running clock is
    # still the one this change left.
    current: bool = True

    @property
    def last(self) -> DisputeEvent:
        return self.follow_ups[-1] if self.follow_ups else self.event

    @property
    def state(self) -> str:
        return self.last.to_state

    @property
    def state_label(self) -> str:
        return self.last.get_to_state_display()

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The outcome agreed or decided by the change (``outcome``, ``amount``), if any:
        only events that carry a decision (``decided_by``) say so; a proposal, a ruling
        still open to replies or a declined proposal do not."""
        for event in reversed([self.event, *self.follow_ups]):
            if event.data.get("decided_by"):
                return event.data
        return None

    @property
    def closing(self) -> str:
        closings = [e.data["closing"] for e in self.follow_ups if e.data.get("closing")]
        return closings[-1] if closings else ""

    @property
    def started(self) -> DisputeEvent | None:
        """The return or replacement the change began (with its due date)."""
        return next((e for e in self.follow_ups if e.kind != EventKind.RESOLVED), None)


def event_aftermath(event: DisputeEvent) -> Aftermath:
    """The event's follow-ups (the run of follow-up kinds recorded right after it) and
    whether anything moved the case since (one query)."""
    later = list(
        DisputeEvent.objects.filter(dispute_id=event.dispute_id, pk__gt=event.pk)
        .exclude(kind__in=STILL_KINDS)
        .order_by("pk")[:4]
    )
    after = Aftermath(event)
    for other in later:
        if other.kind not in FOLLOW_UP_KINDS or event.kind in STILL_KINDS:
            after.current = False
            break
        after.follow_ups.append(other)
    return after


def _mail(row: Notification) -> None:
    """One mail per row: plain text, and the same content as HTML with a link button.
    It describes the case as the event left it (``Aftermath``), not as it is now."""
    event, person = row.event, row.recipient
    dispute = event.dispute
    party = dispute.party_of(person)
    now = timezone.now()
    after = event_aftermath(event)
    context = {
        "event": event,
        "dispute": dispute,
        "after": after,
        # The running clock, only while it is still the one the event's change left.
        "clock": after.current
        and after.state == dispute.state
        and dispute.next_deadline_at is not None
        and dispute.next_deadline_at > now,
        "person": person,
        "viewer": person,
        "is_buyer": party == Party.BUYER,
        "is_staff_recipient": party == Party.STAFF,
        # The event left a first ruling waiting for this person's reply.
        "reply_now": after.state == DisputeState.RULED
        and party in (Party.BUYER, Party.SELLER)
        and event.kind in (EventKind.RULED, EventKind.RULING_AGREED)
        and event.actor_id != person.pk,
        "party": party or "",
        "link": settings.SITE_URL.rstrip("/") + notification_link(dispute=dispute, person=person),
        "now": now,
        "rules": deadlines.rules(),
    }
    # In the recipient's language and time zone, not the actor's (nor the worker's).
    with as_reader(person):
        subject = render_to_string("emails/dispute_event_subject.txt", context).strip()
        body = render_to_string("emails/dispute_event.txt", context)
        html = render_to_string("emails/dispute_event.html", context)
    mail = EmailMultiAlternatives(subject, body, None, [person.email])
    mail.attach_alternative(html, "text/html")
    mail.send()


# --- the in-app list ---------------------------------------------------------------------------
def notification_mark_read(*, notification_id: int, user: Any, now: datetime | None = None) -> bool:
    """The person opened one of their notifications. True if it was unread."""
    return bool(
        Notification.objects.filter(
            pk=notification_id, recipient=user, read_at__isnull=True
        ).update(read_at=now or timezone.now())
    )


def notifications_mark_all_read(*, user: Any, now: datetime | None = None) -> int:
    """Every unread notification of the person is marked read; returns how many."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )
