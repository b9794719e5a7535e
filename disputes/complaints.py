"""Writes of complaints: what a buyer can still do once an order's dispute windows closed.

A complaint goes to the administration, not to the seller; it carries text and photos or
videos (checked like any evidence) and waits in its own queue in admin until staff answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.deadlines import WindowStatus
from disputes.models import Complaint, ComplaintState
from disputes.services import MAX_TEXT, DisputeError
from disputes.validators import validate_latin_script
from evidence.services import Rejection, evidence_attach, evidence_store
from evidence.storage import delete_quietly
from orders.models import Order

if TYPE_CHECKING:
    from accounts.models import User


def complaint_allowed(*, order: Order, now: datetime) -> bool:
    """Complaints are the way left once the order's dispute windows have closed."""
    return order.dispute_window(now=now).status == WindowStatus.CLOSED


def check_complaint_text(body: str) -> str:
    body = body.strip()
    if len(body) < 20:
        raise DisputeError(
            _("Describe what happened in a few sentences (at least 20 characters)."),
            field="body",
        )
    if len(body) > MAX_TEXT:
        raise DisputeError(
            _("Keep the complaint under %(n)d characters.") % {"n": MAX_TEXT}, field="body"
        )
    if settings.PORTAL_REQUIRE_LATIN_DESCRIPTION:
        try:
            validate_latin_script(body)
        except ValidationError as exc:
            raise DisputeError(exc.messages[0], field="body") from exc
    return body


def complaint_open(
    *,
    order: Order,
    buyer: User,
    body: str,
    files: Sequence[Any] = (),
    now: datetime | None = None,
) -> Complaint:
    """The buyer complains about the order's seller to the administration. Files that
    cannot be read are refused by name (``complaint.rejections``); the others are kept."""
    now = now or timezone.now()
    if order.buyer_id != buyer.pk:
        raise DisputeError(_("Only the buyer of this order can complain about it."))
    if not complaint_allowed(order=order, now=now):
        raise DisputeError(
            _(
                "A complaint can be made once the order's dispute window has closed; "
                "until then, open a dispute on the item."
            )
        )
    body = check_complaint_text(body)
    stored, rejected = evidence_store(
        files=files, allowed=settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY
    )
    try:
        with transaction.atomic():
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
    except BaseException:
        delete_quietly([item.name for item in stored])
        raise
    complaint.rejections: list[Rejection] = rejected
    return complaint


def complaint_answer(
    *, complaint_id: int, user: User, answer: str, now: datetime | None = None
) -> Complaint:
    """Staff answer a complaint; the buyer reads the answer on their complaints page."""
    now = now or timezone.now()
    if not (user.is_staff and user.has_perm("disputes.change_complaint")):
        raise DisputeError(_("Only staff who handle complaints can answer one."))
    answer = answer.strip()
    if len(answer) < 10:
        raise DisputeError(_("Write an answer for the buyer."), field="answer")
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
        if complaint.state != ComplaintState.OPEN:
            raise DisputeError(_("This complaint has already been answered."))
        complaint.state = ComplaintState.ANSWERED
        complaint.answer = answer
        complaint.answered_by = user
        complaint.answered_at = now
        complaint.save(update_fields=["state", "answer", "answered_by", "answered_at"])
    return complaint
