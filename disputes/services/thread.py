"""The dispute's thread: messages and evidence from either side (or an arbitrator) while
the dispute is open. Staff who are not arbitrators have no side (``Dispute.party_of``) and
are refused, so they never write nor use up a side's files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import events
from disputes.models import Dispute, DisputeMessage, EvidenceRequest
from disputes.outcomes import Change
from disputes.services.guard import DisputeError, StaleDispute, clean_text, locked, party_of
from disputes.states import Party
from evidence.models import Evidence
from evidence.services import Rejection, StoredFile, evidence_attach, stored_evidence

if TYPE_CHECKING:
    from accounts.models import User


class EvidenceAdded(NamedTuple):
    evidence: list[Evidence]
    rejected: list[Rejection]  # files refused by name; the others were kept


class Posted(NamedTuple):
    message: DisputeMessage
    rejected: list[Rejection]


def evidence_allowance(*, dispute: Dispute, party: str) -> int:
    """How many more files this side may still send in this dispute."""
    sent = Evidence.objects.filter(dispute=dispute, party=party).count()
    return max(settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY - sent, 0)


def check_allowance(*, dispute: Dispute, party: str, count: int) -> None:
    """Re-checked under the dispute's lock: two uploads at once cannot pass the limit."""
    if count and evidence_allowance(dispute=dispute, party=party) < count:
        raise DisputeError(_("You have reached the limit of files for this dispute."))


def mark_evidence_requests_answered(*, dispute_id: int, party: str, now: datetime) -> int:
    """The side an arbitrator asked sent evidence: its open requests are answered."""
    return EvidenceRequest.objects.filter(
        dispute_id=dispute_id, party=party, answered_at__isnull=True
    ).update(answered_at=now)


def attach_evidence(
    *,
    dispute: Dispute,
    stored: Sequence[StoredFile],
    user: Any,
    party: str,
    now: datetime,
    **extra: Any,
) -> list[Evidence]:
    """Attach stored files to the locked dispute; they answer the side's open requests."""
    rows = evidence_attach(
        stored=stored, dispute_id=dispute.pk, uploaded_by=user, party=party, now=now, **extra
    )
    if rows:
        mark_evidence_requests_answered(dispute_id=dispute.pk, party=party, now=now)
    return rows


def _open_for_files(dispute_id: int, user: User, *, closed: str) -> tuple[Dispute, Party]:
    """The dispute and the person's side, before any file is stored (refused if finished)."""
    dispute = Dispute.objects.select_related("store").get(pk=dispute_id)
    party = party_of(dispute, user)
    if dispute.is_finished:
        raise StaleDispute(closed)
    return dispute, party


def dispute_add_evidence(
    *, dispute_id: int, user: User, files: Sequence[Any], now: datetime | None = None
) -> EvidenceAdded:
    """Either side (or an arbitrator) adds photos and videos while the dispute is not
    finished.

    Each file is judged alone: the good ones are kept, the others refused by name."""
    now = now or timezone.now()
    closed = _("This dispute is closed; nothing more can be added.")
    target, party = _open_for_files(dispute_id, user, closed=closed)
    if not files:
        raise DisputeError(_("Choose at least one photo or video."), field="files")
    allowed = evidence_allowance(dispute=target, party=party)
    with stored_evidence(files=files, allowed=allowed) as (stored, rejected):
        if not stored:
            return EvidenceAdded([], rejected)
        with transaction.atomic():
            dispute = locked(dispute_id)
            if dispute.is_finished:
                raise StaleDispute(closed)
            check_allowance(dispute=dispute, party=party, count=len(stored))
            rows = attach_evidence(dispute=dispute, stored=stored, user=user, party=party, now=now)
            change = Change()
            events.evidence_added(
                change.log, dispute, user=user, party=party, at=now, evidence=rows
            )
            change.flush(at=now)
    return EvidenceAdded(rows, rejected)


def dispute_post_message(
    *,
    dispute_id: int,
    user: User,
    body: str,
    files: Sequence[Any] = (),
    now: datetime | None = None,
) -> Posted:
    """Buyer, seller or an arbitrator write in the dispute's thread while it is not
    finished, with photos or videos attached if they like."""
    now = now or timezone.now()
    body = clean_text(
        body,
        field="body",
        too_short=_("Write a message first."),
        too_long=_("Keep the message under %(n)d characters."),
    )
    closed = _("This dispute is closed; no more messages can be added.")
    allowed = 0
    if files:
        target, party = _open_for_files(
            dispute_id, user, closed=_("This dispute is closed; nothing more can be added.")
        )
        allowed = evidence_allowance(dispute=target, party=party)
    with (
        stored_evidence(files=files, allowed=allowed) as (stored, rejected),
        transaction.atomic(),
    ):
        dispute = locked(dispute_id)
        party = party_of(dispute, user)
        if dispute.is_finished:
            raise StaleDispute(closed)
        check_allowance(dispute=dispute, party=party, count=len(stored))
        message = DisputeMessage.objects.create(
            dispute=dispute, author=user, author_party=party, body=body, created_at=now
        )
        rows = attach_evidence(
            dispute=dispute,
            stored=stored,
            user=user,
            party=party,
            now=now,
            message_id=message.pk,
        )
        change = Change()
        events.message_posted(
            change.log, dispute, message=message, party=party, at=now, evidence=rows
        )
        change.flush(at=now)
    return Posted(message, rejected)
