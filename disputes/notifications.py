"""Who hears about an event, and the mail that tells them (sent by Celery after commit)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from disputes.models import DisputeEvent
from disputes.states import EventKind

logger = logging.getLogger(__name__)


def recipients(event: DisputeEvent) -> list[Any]:
    """Changes of state go to both parties; a message goes to the parties who did not
    write it (a staff message to both)."""
    dispute = event.dispute
    people = [dispute.buyer, dispute.store.owner]
    if event.kind == EventKind.MESSAGE:
        people = [p for p in people if p.pk != event.actor_id]
    return [p for p in people if p.email]


def queue_event_mail(event: DisputeEvent) -> None:
    """After the commit, hand the event's mail to Celery; a broker outage is logged."""

    def send() -> None:
        from disputes.tasks import mail_event

        try:
            mail_event.delay(event.pk)
        except Exception:
            logger.exception("could not queue the mail for dispute event %s", event.pk)

    transaction.on_commit(send)


def send_event_mail(event_id: int) -> int:
    """Render and send the event's mail to each person it concerns; returns how many."""
    event = (
        DisputeEvent.objects.select_related(
            "dispute", "dispute__buyer", "dispute__store__owner", "dispute__line", "actor"
        )
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    dispute = event.dispute
    link = settings.SITE_URL.rstrip("/") + reverse("disputes:detail", args=[dispute.pk])
    sent = 0
    User = get_user_model()
    for person in recipients(event):
        assert isinstance(person, User)
        context = {
            "event": event,
            "dispute": dispute,
            "person": person,
            "is_buyer": person.pk == dispute.buyer_id,
            "link": link,
            "now": timezone.now(),
        }
        subject = render_to_string("emails/dispute_event_subject.txt", context).strip()
        body = render_to_string("emails/dispute_event.txt", context)
        sent += send_mail(subject, body, None, [person.email])
    return sent
