"""Carrying out a promise: the buyer returns the item, or the seller ships a replacement,
each step by the person whose move it is, on its own clock."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes import events
from disputes.events import outcome_data
from disputes.models import Dispute
from disputes.outcomes import Change, finish, take_effect
from disputes.services.guard import DisputeError, check_move, locked, save_transition
from disputes.states import EventKind
from orders.models import OrderLine

if TYPE_CHECKING:
    from accounts.models import User

MAX_TRACKING = 80


def check_tracking(*, carrier: str, tracking: str) -> tuple[str, str]:
    """A carrier's name and a tracking number, trimmed; refused with the field to fix."""
    carrier, tracking = carrier.strip(), tracking.strip().upper()
    if not carrier:
        raise DisputeError(_("Enter the carrier (the postal service or courier)."), field="carrier")
    if len(carrier) > MAX_TRACKING:
        raise DisputeError(_("Keep the carrier's name short."), field="carrier")
    if not tracking:
        raise DisputeError(_("Enter the tracking number."), field="tracking")
    if len(tracking) > MAX_TRACKING or not all(
        c.isascii() and (c.isalnum() or c in " -") for c in tracking
    ):
        raise DisputeError(
            _("A tracking number has only Latin letters, digits, spaces and dashes."),
            field="tracking",
        )
    return carrier, tracking


def _step(
    *,
    dispute_id: int,
    user: User,
    name: str,
    kind: str,
    expected_revision: int | None,
    now: datetime,
    with_outcome: bool = False,
    **kwargs: Any,
) -> tuple[Dispute, Change, str]:
    """Lock, check and apply one person's transition and record its (notifying) event,
    with the outcome the transition decided if asked. Returns the dispute, the change and
    the state it was in, for what follows."""
    dispute = locked(dispute_id)
    method = getattr(dispute, name)
    party = check_move(dispute, user, method, expected_revision, now)
    before = dispute.state
    method(at=now, **kwargs)
    change = Change()
    events.moved(
        change.log,
        dispute,
        kind=kind,
        user=user,
        party=party,
        before=before,
        at=now,
        **kwargs,
        **(outcome_data(dispute) if with_outcome else {}),
    )
    return dispute, change, before


def dispute_ship_return(
    *,
    dispute_id: int,
    user: User,
    carrier: str,
    tracking: str,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer shipped the item back: the seller's clock to confirm its arrival starts."""
    now = now or timezone.now()
    carrier, tracking = check_tracking(carrier=carrier, tracking=tracking)
    with transaction.atomic():
        dispute, change, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="ship_return",
            kind=EventKind.RETURN_SHIPPED,
            expected_revision=expected_revision,
            now=now,
            carrier=carrier,
            tracking=tracking,
        )
        save_transition(dispute)
        change.flush(at=now)
    return dispute


def dispute_confirm_return(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The seller got the returned parcel: the refund goes out."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, change, before = _step(
            dispute_id=dispute_id,
            user=user,
            name="confirm_return",
            kind=EventKind.RETURN_RECEIVED,
            expected_revision=expected_revision,
            now=now,
        )
        change.money.refund(dispute)
        save_transition(dispute)
        finish(dispute, before=before, at=now, change=change)
        change.flush(at=now)
    return dispute


def dispute_ship_replacement(
    *,
    dispute_id: int,
    user: User,
    carrier: str,
    tracking: str,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The seller shipped the replacement: it is protected for the order's own period."""
    now = now or timezone.now()
    carrier, tracking = check_tracking(carrier=carrier, tracking=tracking)
    with transaction.atomic():
        protection_days = (
            OrderLine.objects.filter(dispute__pk=dispute_id)
            .values_list("order__protection_days", flat=True)
            .get()
        )
        dispute, change, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="ship_replacement",
            kind=EventKind.REPLACEMENT_SHIPPED,
            expected_revision=expected_revision,
            now=now,
            carrier=carrier,
            tracking=tracking,
            protection_days=protection_days,
        )
        save_transition(dispute)
        change.flush(at=now)
    return dispute


def dispute_confirm_replacement(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer got the replacement: the dispute is resolved."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, change, before = _step(
            dispute_id=dispute_id,
            user=user,
            name="confirm_replacement",
            kind=EventKind.REPLACEMENT_RECEIVED,
            expected_revision=expected_revision,
            now=now,
        )
        save_transition(dispute)
        finish(dispute, before=before, at=now, change=change)
        change.flush(at=now)
    return dispute


def dispute_replacement_not_arrived(
    *,
    dispute_id: int,
    user: User,
    expected_revision: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """The buyer reports, within the replacement's protection, that it never came: the
    buyer's original request is granted and takes effect."""
    now = now or timezone.now()
    with transaction.atomic():
        dispute, change, _before = _step(
            dispute_id=dispute_id,
            user=user,
            name="replacement_not_arrived",
            kind=EventKind.REPLACEMENT_NOT_ARRIVED,
            expected_revision=expected_revision,
            now=now,
            with_outcome=True,
        )
        take_effect(dispute, at=now, change=change)
        save_transition(dispute)
        change.flush(at=now)
    return dispute
