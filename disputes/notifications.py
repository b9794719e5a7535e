"""Who hears about an event, the outbox rows that say so, and their delivery by mail.

A change writes its ``Notification`` rows in its own transaction; after the commit one
Celery task is queued to mail them, and a periodic task mails whatever is still unsent
(the broker was down, a worker died mid-send). Mail is therefore delivered at least once,
and in practice once: a row is claimed before sending and marked sent right after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from disputes.models import DisputeEvent, Notification
from disputes.states import EventKind

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=2)


def recipient_ids(event: DisputeEvent) -> list[int]:
    """Changes of state concern both parties; a message, the parties who did not write it
    (a staff message goes to both)."""
    dispute = event.dispute
    people = [dispute.buyer_id, dispute.store.owner_id]
    if event.kind == EventKind.MESSAGE:
        people = [pk for pk in people if pk != event.actor_id]
    return people


def notifications_create(events: Iterable[DisputeEvent]) -> list[Notification]:
    """Write the outbox rows for saved events and queue their delivery after commit."""
    rows = [
        Notification(recipient_id=pk, event=event, created_at=event.created_at)
        for event in events
        for pk in recipient_ids(event)
    ]
    if not rows:
        return rows
    rows = Notification.objects.bulk_create(rows)
    ids = [row.pk for row in rows if row.pk is not None]
    transaction.on_commit(lambda: queue_delivery(ids))
    return rows


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
                _mail(row)
        except Exception as exc:
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


def _mail(row: Notification) -> None:
    event, person = row.event, row.recipient
    dispute = event.dispute
    context = {
        "event": event,
        "dispute": dispute,
        "person": person,
        "is_buyer": person.pk == dispute.buyer_id,
        "party": "buyer" if person.pk == dispute.buyer_id else "seller",
        "link": settings.SITE_URL.rstrip("/") + reverse("disputes:detail", args=[dispute.pk]),
        "now": timezone.now(),
    }
    subject = render_to_string("emails/dispute_event_subject.txt", context).strip()
    body = render_to_string("emails/dispute_event.txt", context)
    send_mail(subject, body, None, [person.email])
