"""What every dispute action shares: its refusals, the row lock, the check that the move
is legal for this person now, the guarded save, and the one rule for free text."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from disputes import validators
from disputes.models import Dispute
from disputes.states import DeadlineKind, Party
from orders.templatetags.clocks import absolute

CENT = Decimal("0.01")


class DisputeError(Exception):
    """A refused action, with a message for the person (and the form field it concerns).

    ``problems`` lists every refusal found at once (one per field at most); a single
    refusal is its own only problem."""

    def __init__(
        self, message: str, *, field: str | None = None, problems: list[DisputeError] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.problems = problems or [self]

    @classmethod
    def of(cls, problems: list[DisputeError]) -> DisputeError:
        """One error standing for several (its message and field are the first one's)."""
        first = problems[0]
        return cls(str(first), field=first.field, problems=problems)


class StaleDispute(DisputeError):
    """The dispute changed since the person's page was drawn: show them its state now."""


class DeadlinePassed(StaleDispute):
    """The running clock ran out: its consequence is due, not a person's action."""


def format_money(amount: Decimal, currency: str) -> str:
    """'1,234.50 USD', '1 234,50 USD': as the reader (the active language) writes numbers."""
    return f"{number_format(amount, decimal_pos=2)} {currency}"


def clean_text(text: str, **rule: Any) -> str:
    """The one rule for what people write (``disputes.validators.clean_text``), refused
    with a ``DisputeError`` naming the field."""
    return validators.clean_text(text, error=DisputeError, **rule)


def lock_dispute(dispute_id: int, *, skip_locked: bool = False) -> Dispute | None:
    """The dispute row, locked for this transaction (None if another one holds it and
    ``skip_locked`` was asked)."""
    return (
        Dispute.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("store", "line", "order", "buyer")
        .filter(pk=dispute_id)
        .first()
    )


def locked(dispute_id: int) -> Dispute:
    """The dispute row, locked for this transaction; it must exist."""
    dispute = lock_dispute(dispute_id)
    if dispute is None:
        raise Dispute.DoesNotExist(dispute_id)
    return dispute


def party_of(dispute: Dispute, user: Any) -> Party:
    """Which side this person is on in the dispute; refused if none."""
    party = dispute.party_of(user)
    if party is None:
        raise DisputeError(_("This dispute is not yours."))
    return party


def check_move(
    dispute: Dispute, user: Any, method: Any, expected_revision: int | None, now: datetime
) -> Party:
    """May this person make this transition on the locked row, now, from the page they
    saw? Returns their side; refuses with the reason otherwise."""
    party = party_of(dispute, user)
    if expected_revision is not None and dispute.revision != expected_revision:
        raise StaleDispute(_("This dispute changed while you were looking at it."))
    if not can_proceed(method):
        raise StaleDispute(
            _("This is no longer possible: the dispute is now “%(state)s”.")
            % {"state": dispute.get_state_display()}
        )
    if not has_transition_perm(method, user):
        raise DisputeError(_("You cannot do this on this dispute."))
    informational = dispute.deadline_kind == DeadlineKind.ARBITRATION_LIMIT
    if (
        dispute.next_deadline_at is not None
        and now >= dispute.next_deadline_at
        and not informational
    ):
        raise DeadlinePassed(
            _("Too late: the deadline passed on %(when)s and its outcome now applies.")
            % {"when": absolute(dispute.next_deadline_at)}
        )
    return party


def save_transition(dispute: Dispute) -> None:
    """Save a dispute whose state moved: the revision is bumped, and the save is refused if
    another transaction moved the state first (the concurrent-transition guard)."""
    dispute.revision += 1
    try:
        dispute.save()
    except ConcurrentTransition as exc:
        raise StaleDispute(_("This dispute changed while you were looking at it.")) from exc
