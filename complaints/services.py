"""Writes of complaints: what a buyer can still do once an order's dispute windows closed.

A complaint goes to the administration, not to the seller; it carries text and photos or
videos (checked like any evidence) and waits in its own queue in admin until staff answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import staff_may
from complaints.models import Complaint, ComplaintState
from disputes.deadlines import WindowStatus
from disputes.validators import clean_text
from evidence.services import Rejection, evidence_attach, stored_evidence
from orders.models import Order

if TYPE_CHECKING:
    from accounts.models import User


class ComplaintError(Exception):
    """A refused complaint action, with a message for the person (and the form field it
    concerns, if any)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def complaint_allowed(*, order: Order, now: datetime) -> bool:
    """Complaints are the way left once the order's dispute windows have closed."""
    return order.dispute_window(now=now).status == WindowStatus.CLOSED


class Filed(NamedTuple):
    complaint: Complaint
    rejected: list[Rejection]  # files refused by name; the others were kept


def check_complaint_text(body: str) -> str:
    return clean_text(
        body,
        field="body",
        minimum=20,
        english=True,
        too_short=_("Describe what happened in a few sentences (at least 20 characters)."),
        too_long=_("Keep the complaint under %(n)d characters."),
        error=ComplaintError,
    )


def complaint_open(
    *,
    order: Order,
    buyer: User,
    body: str,
    files: Sequence[Any] = (),
    now: datetime | None = None,
) -> Filed:
    """The buyer complains about the order's seller to the administration. Files that
    cannot be read are refused by name; the others are kept."""
    now = now or timezone.now()
    if order.buyer_id != buyer.pk:
        raise ComplaintError(_("Only the buyer of this order can complain about it."))
    if not complaint_allowed(order=order, now=now):
        raise ComplaintError(
            _(
                "A complaint can be made once the order's dispute window has closed; "
                "until then, open a dispute on the item."
            )
        )
    body = check_complaint_text(body)
    with (
        stored_evidence(files=files, allowed=settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY) as (
            stored,
            rejected,
        ),
        transaction.atomic(),
    ):
        complaint = Complaint.objects.create(
            buyer=buyer, order=order, store_id=order.store_id, body=body, created_at=now
        )
        evidence_attach(
            stored=stored,
            dispute_id=None,
            complaint_id=complaint.pk,
            uploaded_by=buyer,
            party="buyer",
            now=now,
        )
    return Filed(complaint, rejected)


def complaint_answer(
    *, complaint_id: int, user: User, answer: str, now: datetime | None = None
) -> Complaint:
    """Staff answer a complaint; the buyer reads the answer on their complaints page."""
    now = now or timezone.now()
    if not staff_may(user, "complaints.change_complaint"):
        raise ComplaintError(_("Only staff who handle complaints can answer one."))
    answer = clean_text(
        answer,
        field="answer",
        minimum=10,
        too_short=_("Write an answer for the buyer."),
        too_long=_("Keep the answer under %(n)d characters."),
        error=ComplaintError,
    )
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
        if complaint.state != ComplaintState.OPEN:
            raise ComplaintError(_("This complaint has already been answered."))
        complaint.state = ComplaintState.ANSWERED
        complaint.answer = answer
        complaint.answered_by = user
        complaint.answered_at = now
        complaint.save(update_fields=["state", "answer", "answered_by", "answered_at"])
    return complaint
