from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, transition

from accounts.roles import is_arbitrator
from disputes import deadlines
from disputes.states import (
    FINISHED_STATES,
    NEGOTIATING_STATES,
    Closing,
    DeadlineKind,
    DisputeState,
    EventKind,
    OutcomeType,
    Party,
    Reason,
    ReminderKind,
    Reply,
    RequestedOutcome,
)
from orders.labels import ChoiceLabels
from orders.models import MONEY, Order, OrderLine, Store, SweepBookkeeping


# --- transition permissions: (dispute, user) -> bool -------------------------------------------
def _may_accept(dispute: Dispute, user: Any) -> bool:
    """The other side of whoever made the proposal on the table may accept it."""
    party = dispute.party_of(user)
    return party in (Party.BUYER, Party.SELLER) and party != dispute.proposal_by


def _may_propose(dispute: Dispute, user: Any) -> bool:
    """The seller answers (and revises) at any time while negotiating; the buyer counters
    once the seller has answered, never her own proposal (she waits for the seller's
    answer to it)."""
    party = dispute.party_of(user)
    if party == Party.SELLER:
        return True
    return (
        party == Party.BUYER
        and dispute.state == DisputeState.SELLER_RESPONDED
        and dispute.proposal_by != Party.BUYER
    )


def _may_decline(dispute: Dispute, user: Any) -> bool:
    """The other side of whoever made the proposal on the table may decline it."""
    party = dispute.party_of(user)
    return party in (Party.BUYER, Party.SELLER) and party != dispute.proposal_by


def _proposal_on_table(dispute: Dispute) -> bool:
    """Something to accept or decline: none after a decline, until someone proposes."""
    return bool(dispute.proposal_type)


def _is_buyer(dispute: Dispute, user: Any) -> bool:
    return dispute.party_of(user) == Party.BUYER


def _is_seller(dispute: Dispute, user: Any) -> bool:
    return dispute.party_of(user) == Party.SELLER


def _return_shipped(dispute: Dispute) -> bool:
    return dispute.return_shipped_at is not None


def _return_not_shipped(dispute: Dispute) -> bool:
    return dispute.return_shipped_at is None


def _replacement_shipped(dispute: Dispute) -> bool:
    return dispute.replacement_shipped_at is not None


def _replacement_not_shipped(dispute: Dispute) -> bool:
    return dispute.replacement_shipped_at is None


def _may_rule(dispute: Dispute, user: Any) -> bool:
    """Only arbitrators rule: staff holding the rule_dispute permission, and never on a
    dispute of their own (as its buyer or its store's owner)."""
    if user.pk in (dispute.buyer_id, dispute.store.owner_id):
        return False
    return is_arbitrator(user)


def _first_ruling(dispute: Dispute) -> bool:
    return dispute.ruling_round == 0


def _after_objection(dispute: Dispute) -> bool:
    return dispute.ruling_round == 1


def _may_reply(dispute: Dispute, user: Any) -> bool:
    """Each side replies to a ruling once."""
    party = dispute.party_of(user)
    if party == Party.BUYER:
        return not dispute.buyer_reply
    if party == Party.SELLER:
        return not dispute.seller_reply
    return False


def _after_agreement(dispute: Dispute, *args: Any, party: Party, **kwargs: Any) -> str:
    other = dispute.seller_reply if party == Party.BUYER else dispute.buyer_reply
    return DisputeState.AGREED if other == Reply.AGREE else DisputeState.RULED


def _not_saved_yet(dispute: Dispute) -> bool:
    return dispute.pk is None


def _deadline_only(dispute: Dispute, user: Any) -> bool:
    """Transitions that only a clock (or the platform) makes: no button for anyone."""
    return False


class Dispute(ChoiceLabels, ConcurrentTransitionMixin, SweepBookkeeping, models.Model):
    """A buyer's claim on one order line, for a quantity of it.

    ``state`` is protected and moves only through the transitions below, which change
    fields and nothing else; ``disputes.services`` calls them under a row lock, records one
    ``DisputeEvent`` per change and queues the mail after commit.
    """

    line = models.OneToOneField(
        OrderLine, on_delete=models.PROTECT, related_name="dispute", verbose_name=_("order line")
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("order")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="disputes",
        verbose_name=_("buyer"),
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("store")
    )

    # The questionnaire: block 1, the problem.
    received = models.BooleanField(_("parcel received"))
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    description = models.TextField(_("description"))
    # Block 2, what the buyer wants.
    quantity = models.PositiveIntegerField(_("quantity disputed"))
    requested_outcome = models.CharField(
        _("requested outcome"), max_length=32, choices=RequestedOutcome.choices
    )
    requested_amount = models.DecimalField(_("requested amount"), **MONEY)
    amount_cap = models.DecimalField(
        _("paid for the disputed quantity"),
        help_text=_("No amount on this dispute may be higher."),
        **MONEY,
    )
    currency = models.CharField(_("currency"), max_length=3)

    state = FSMField(
        _("state"), default=DisputeState.OPEN, choices=DisputeState.choices, protected=True
    )
    # Bumped by every change: a form carries the revision it was shown with, so a stale or
    # twice-submitted form is refused instead of acting on a dispute that moved.
    revision = models.PositiveIntegerField(_("revision"), default=0)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    first_answer_at = models.DateTimeField(_("seller first answered at"), null=True, blank=True)
    # The running clock, computed by disputes.deadlines and read by pages and sweeps.
    next_deadline_at = models.DateTimeField(_("next deadline"), null=True, blank=True)
    deadline_kind = models.CharField(
        _("deadline"), max_length=32, choices=DeadlineKind.choices, blank=True
    )

    # The proposal on the table (at first, the buyer's own request).
    proposal_type = models.CharField(
        _("proposal"), max_length=32, choices=OutcomeType.choices, blank=True
    )
    proposal_amount = models.DecimalField(_("proposed amount"), null=True, blank=True, **MONEY)
    proposal_by = models.CharField(
        _("proposed by"), max_length=16, choices=Party.choices, blank=True
    )
    proposal_note = models.TextField(_("proposal note"), blank=True)
    proposal_at = models.DateTimeField(_("proposed at"), null=True, blank=True)

    # The agreed or decided outcome.
    outcome_type = models.CharField(
        _("outcome"), max_length=32, choices=OutcomeType.choices, blank=True
    )
    outcome_amount = models.DecimalField(_("outcome amount"), null=True, blank=True, **MONEY)
    decided_by = models.CharField(_("decided by"), max_length=16, choices=Party.choices, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    closing = models.CharField(
        _("how it ended"), max_length=32, choices=Closing.choices, blank=True
    )

    # Return then refund: the buyer ships the item back, the seller confirms it arrived.
    return_carrier = models.CharField(_("return carrier"), max_length=80, blank=True)
    return_tracking = models.CharField(_("return tracking number"), max_length=80, blank=True)
    return_shipped_at = models.DateTimeField(_("return shipped at"), null=True, blank=True)
    return_received_at = models.DateTimeField(_("return received at"), null=True, blank=True)
    # Replacement: the seller ships a new parcel, the buyer confirms it arrived.
    replacement_carrier = models.CharField(_("replacement carrier"), max_length=80, blank=True)
    replacement_tracking = models.CharField(
        _("replacement tracking number"), max_length=80, blank=True
    )
    replacement_shipped_at = models.DateTimeField(
        _("replacement shipped at"), null=True, blank=True
    )

    # Arbitration: the clock of an escalated case, its arbitrator, and the ruling.
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    arbitration_target_at = models.DateTimeField(_("arbitration target"), null=True, blank=True)
    arbitration_limit_at = models.DateTimeField(_("arbitration limit"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_disputes",
        verbose_name=_("arbitrator"),
    )
    ruling_round = models.PositiveSmallIntegerField(_("rulings made"), default=0)
    ruling_type = models.CharField(
        _("ruling"), max_length=32, choices=OutcomeType.choices, blank=True
    )
    ruling_amount = models.DecimalField(_("ruled amount"), null=True, blank=True, **MONEY)
    ruling_reason = models.TextField(_("reasons for the ruling"), blank=True)
    ruled_at = models.DateTimeField(_("ruled at"), null=True, blank=True)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ruled by"),
    )
    buyer_reply = models.CharField(
        _("buyer's reply"), max_length=8, choices=Reply.choices, blank=True
    )
    seller_reply = models.CharField(
        _("seller's reply"), max_length=8, choices=Reply.choices, blank=True
    )
    # A warning before the running clock runs out, swept like the clocks.
    reminder_at = models.DateTimeField(_("reminder at"), null=True, blank=True)
    reminder_kind = models.CharField(
        _("reminder"), max_length=32, choices=ReminderKind.choices, blank=True
    )

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-opened_at", "-id"]
        permissions = [("rule_dispute", _("Can rule on escalated disputes"))]
        indexes = [
            # The staff dashboard's days: disputes opened, and ended (with what it reads).
            models.Index(fields=["opened_at"], name="dispute_opened"),
            models.Index(
                fields=["finished_at"],
                name="dispute_finished",
                include=["opened_at", "reason", "outcome_type"],
                condition=models.Q(finished_at__isnull=False),
            ),
            # The deadline sweeps' index: only running clocks.
            models.Index(
                fields=["next_deadline_at"],
                name="dispute_deadline_due",
                condition=Q(next_deadline_at__isnull=False),
            ),
            models.Index(fields=["store", "next_deadline_at"], name="dispute_store_deadline"),
            models.Index(fields=["buyer", "-opened_at"], name="dispute_buyer_recent"),
            models.Index(
                fields=["reminder_at"],
                name="dispute_reminder_due",
                condition=Q(reminder_at__isnull=False),
            ),
            # The arbitration queue: escalated cases, oldest first.
            models.Index(fields=["state", "escalated_at"], name="dispute_queue"),
            # The store's disputes by state tab, and the admin's list of every dispute.
            models.Index(
                fields=["store", "state", "next_deadline_at"], name="dispute_store_state_deadline"
            ),
            models.Index(fields=["-opened_at", "-id"], name="dispute_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="dispute_quantity_positive"),
            models.CheckConstraint(
                condition=Q(requested_amount__gt=0)
                & Q(requested_amount__lte=models.F("amount_cap")),
                name="dispute_requested_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(proposal_amount__isnull=True)
                | (Q(proposal_amount__gte=0) & Q(proposal_amount__lte=models.F("amount_cap"))),
                name="dispute_proposal_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(outcome_amount__isnull=True)
                | (Q(outcome_amount__gte=0) & Q(outcome_amount__lte=models.F("amount_cap"))),
                name="dispute_outcome_within_paid",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[s.value for s in FINISHED_STATES]) | ~Q(outcome_type=""),
                name="dispute_finished_has_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[s.value for s in FINISHED_STATES]) | ~Q(closing=""),
                name="dispute_finished_has_closing",
            ),
            # Escrow reads "finished" as finished_at being set: the two never disagree.
            models.CheckConstraint(
                condition=(
                    Q(state__in=[s.value for s in FINISHED_STATES]) & Q(finished_at__isnull=False)
                )
                | (~Q(state__in=[s.value for s in FINISHED_STATES]) & Q(finished_at__isnull=True)),
                name="dispute_finished_exactly_when_finished_at",
            ),
            models.CheckConstraint(
                condition=Q(ruling_amount__isnull=True)
                | (Q(ruling_amount__gte=0) & Q(ruling_amount__lte=models.F("amount_cap"))),
                name="dispute_ruling_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.line}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("disputes:detail", args=[self.pk])

    def requested_outcome_label(self) -> str:
        """What the buyer asked for, in words that fit: a parcel that never came has nothing
        to keep or send back, so it is simply a refund."""
        if not self.received and self.requested_outcome == RequestedOutcome.REFUND_ONLY:
            return str(_("Refund (the parcel never arrived)"))
        return self.get_requested_outcome_display()

    # --- who is who ------------------------------------------------------------------------
    def party_of(self, user: Any) -> Party | None:
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        if user.pk == self.buyer_id:
            return Party.BUYER
        if user.pk == self.store.owner_id:
            return Party.SELLER
        if is_arbitrator(user):
            return Party.STAFF  # only arbitrators write in a case; other staff only read
        return None

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def is_negotiating(self) -> bool:
        return self.state in NEGOTIATING_STATES

    def original_request(self) -> tuple[str, Decimal]:
        """The buyer's own request as the questionnaire recorded it: what is granted when
        the seller stays silent or a promised replacement fails."""
        if self.requested_outcome == RequestedOutcome.RETURN_AND_REFUND:
            return OutcomeType.RETURN_AND_REFUND, self.requested_amount
        if self.requested_amount == self.amount_cap:
            return OutcomeType.FULL_REFUND, self.requested_amount
        return OutcomeType.PARTIAL_REFUND, self.requested_amount

    # --- transitions: fields only; services record events and queue side effects -----------
    def _decide(self, outcome: str, amount: Decimal | None, party: Party, at: datetime) -> None:
        self.outcome_type = outcome
        self.outcome_amount = amount
        self.decided_by = party
        self.decided_at = at
        self._stop_clock()

    def _stop_clock(self) -> None:
        self.next_deadline_at = None
        self.deadline_kind = ""
        self._remind(None, None)

    def _remind(self, kind: ReminderKind | None, due: datetime | None) -> None:
        """Warn the person who must act before ``due`` (or cancel the warning)."""
        if kind is None or due is None:
            self.reminder_at, self.reminder_kind = None, ""
        else:
            self.reminder_at = deadlines.reminder_at(kind=kind, due=due)
            self.reminder_kind = kind

    @transition(
        field=state,
        source=DisputeState.OPEN,
        target=DisputeState.OPEN,
        permission=_deadline_only,
        conditions=[_not_saved_yet],
    )
    def open(self, *, at: datetime) -> None:
        """The buyer's questionnaire was accepted: their request is the proposal on the
        table, and the seller's clock starts, with a reminder before it runs out."""
        self.opened_at = at
        self.proposal_type, self.proposal_amount = self.original_request()
        self.proposal_by = Party.BUYER
        self.proposal_at = at
        due = deadlines.seller_response_due_at(opened_at=at)
        self._run_clock(DeadlineKind.SELLER_RESPONSE, due)
        self._remind(ReminderKind.SELLER_RESPONSE, due)

    @transition(
        field=state,
        source=list(NEGOTIATING_STATES),
        target=DisputeState.AGREED,
        permission=_may_accept,
        conditions=[_proposal_on_table],
        custom={"label": _("Accept"), "party": "other"},
    )
    def accept(self, *, party: Party, at: datetime) -> None:
        if party == Party.SELLER and self.first_answer_at is None:
            self.first_answer_at = at
        self._decide(self.proposal_type, self.proposal_amount, party, at)

    @transition(
        field=state,
        source=list(NEGOTIATING_STATES),
        target=DisputeState.SELLER_RESPONDED,
        permission=_may_propose,
        custom={"label": _("Propose something else")},
    )
    def propose(
        self, *, party: Party, outcome: str, amount: Decimal | None, note: str, at: datetime
    ) -> None:
        if party == Party.SELLER:
            self._seller_answered(at)
        self.proposal_type = outcome
        self.proposal_amount = amount
        self.proposal_by = party
        self.proposal_note = note
        self.proposal_at = at

    def _seller_answered(self, at: datetime) -> None:
        """The seller's first answer stops the answer clock and starts negotiation's."""
        if self.first_answer_at is None:
            self.first_answer_at = at
            due = deadlines.negotiation_ends_at(first_answer_at=at)
            self._run_clock(DeadlineKind.NEGOTIATION, due)
            self._remind(None, None)

    @transition(
        field=state,
        source=list(NEGOTIATING_STATES),
        target=DisputeState.SELLER_RESPONDED,
        permission=_may_decline,
        conditions=[_proposal_on_table],
        custom={"label": _("Decline"), "party": "other"},
    )
    def decline(self, *, party: Party, at: datetime) -> None:
        """The other side says no to the proposal on the table without proposing another:
        nothing is on the table until someone proposes, and the negotiation clock runs on
        toward escalation (a seller's decline of the buyer's request is their first
        answer, and starts it)."""
        if party == Party.SELLER:
            self._seller_answered(at)
        self.proposal_type = ""
        self.proposal_amount = None
        self.proposal_by = ""
        self.proposal_note = ""
        self.proposal_at = None

    @transition(
        field=state,
        source=list(NEGOTIATING_STATES),
        target=DisputeState.WITHDRAWN,
        permission=_is_buyer,
        custom={"label": _("Withdraw the dispute")},
    )
    def withdraw(self, *, at: datetime) -> None:
        self._decide(OutcomeType.WITHDRAWN, None, Party.BUYER, at)
        self._finish(Closing.WITHDRAWN, at)

    @transition(
        field=state,
        source=DisputeState.OPEN,
        target=DisputeState.AGREED,
        permission=_deadline_only,
    )
    def seller_silent(self, *, at: datetime) -> None:
        """No answer from the seller in time: the buyer's own request is granted."""
        self._decide(self.proposal_type, self.proposal_amount, Party.DEADLINE, at)

    @transition(
        field=state,
        source=DisputeState.SELLER_RESPONDED,
        target=DisputeState.ESCALATED,
        permission=_deadline_only,
    )
    def escalate(self, *, at: datetime) -> None:
        """Negotiation ended without agreement: the platform takes the case. Staff aim
        to rule by the target (the arbitrators are reminded before) and must by the limit
        (the clock below; when it passes the case is marked late)."""
        self.escalated_at = at
        self.arbitration_target_at = deadlines.arbitration_target_at(escalated_at=at)
        self.arbitration_limit_at = deadlines.arbitration_limit_at(escalated_at=at)
        self._arbitration_clock(at)

    def _arbitration_clock(self, at: datetime) -> None:
        if at < self.arbitration_limit_at:
            self._run_clock(DeadlineKind.ARBITRATION_LIMIT, self.arbitration_limit_at)
        else:  # already marked late once; back with the arbitrator, no second alarm
            self.next_deadline_at, self.deadline_kind = None, ""
        if at < deadlines.reminder_at(
            kind=ReminderKind.ARBITRATION_TARGET, due=self.arbitration_target_at
        ):
            self._remind(ReminderKind.ARBITRATION_TARGET, self.arbitration_target_at)
        else:
            self._remind(None, None)

    @transition(
        field=state,
        source=DisputeState.ESCALATED,
        target=DisputeState.ESCALATED,
        permission=_deadline_only,
    )
    def arbitration_overdue(self, *, at: datetime) -> None:
        """The arbitration limit passed without a ruling: the case is marked late (staff are
        told); it stays with its arbitrator."""
        self.next_deadline_at = None
        self.deadline_kind = ""

    # --- rulings and replies -----------------------------------------------------------------
    def _set_ruling(
        self, *, by: Any, outcome: str, amount: Decimal | None, reason: str, at: datetime
    ) -> None:
        self.ruling_round += 1
        self.ruling_type = outcome
        self.ruling_amount = amount
        self.ruling_reason = reason
        self.ruled_at = at
        self.ruled_by = by
        self.assignee = self.assignee or by

    @transition(
        field=state,
        source=DisputeState.ESCALATED,
        target=DisputeState.RULED,
        permission=_may_rule,
        conditions=[_first_ruling],
        custom={"label": _("Rule")},
    )
    def rule(
        self, *, by: Any, outcome: str, amount: Decimal | None, reason: str, at: datetime
    ) -> None:
        """The first ruling: each side may agree or object before the reply clock runs out."""
        self._set_ruling(by=by, outcome=outcome, amount=amount, reason=reason, at=at)
        self.buyer_reply = self.seller_reply = ""
        self._run_clock(DeadlineKind.RULING_REPLY, deadlines.ruling_reply_due_at(ruled_at=at))
        self._remind(None, None)

    @transition(
        field=state,
        source=DisputeState.ESCALATED,
        target=DisputeState.AGREED,
        permission=_may_rule,
        conditions=[_after_objection],
        custom={"label": _("Rule again (final)")},
    )
    def rule_final(
        self, *, by: Any, outcome: str, amount: Decimal | None, reason: str, at: datetime
    ) -> None:
        """After an objection, the arbitrator's second ruling is final and takes effect."""
        self._set_ruling(by=by, outcome=outcome, amount=amount, reason=reason, at=at)
        self._decide(outcome, amount, Party.STAFF, at)

    @transition(
        field=state,
        source=DisputeState.RULED,
        target=GET_STATE(_after_agreement, states=[DisputeState.RULED, DisputeState.AGREED]),
        permission=_may_reply,
        custom={"label": _("Agree to the ruling")},
    )
    def agree_ruling(self, *, party: Party, at: datetime) -> None:
        """One side agrees; once both have, the ruling takes effect."""
        if party == Party.BUYER:
            self.buyer_reply = Reply.AGREE
        else:
            self.seller_reply = Reply.AGREE
        if self.buyer_reply == Reply.AGREE and self.seller_reply == Reply.AGREE:
            self._decide(self.ruling_type, self.ruling_amount, Party.STAFF, at)

    @transition(
        field=state,
        source=DisputeState.RULED,
        target=DisputeState.ESCALATED,
        permission=_may_reply,
        custom={"label": _("Object to the ruling")},
    )
    def object_ruling(self, *, party: Party, at: datetime) -> None:
        """One side objects (once, with reasons): the case returns to its arbitrator,
        whose second ruling is final."""
        if party == Party.BUYER:
            self.buyer_reply = Reply.OBJECT
        else:
            self.seller_reply = Reply.OBJECT
        self.assignee = self.ruled_by or self.assignee
        self._arbitration_clock(at)

    @transition(
        field=state,
        source=DisputeState.RULED,
        target=DisputeState.AGREED,
        permission=_deadline_only,
    )
    def ruling_unanswered(self, *, at: datetime) -> None:
        """The reply clock ran out: silence counts as agreement and the ruling takes effect.
        A side that said nothing keeps no reply: the record shows who agreed and who was
        silent."""
        self._decide(self.ruling_type, self.ruling_amount, Party.STAFF, at)

    @transition(
        field=state,
        source=DisputeState.AGREED,
        target=DisputeState.RESOLVED,
        permission=_deadline_only,
    )
    def resolve(self, *, closing: Closing, at: datetime) -> None:
        """The agreed outcome took effect at once (a refund, a coupon, a rejection)."""
        self._finish(closing, at)

    def _finish(self, closing: Closing, at: datetime) -> None:
        self.closing = closing
        self.finished_at = at
        self._stop_clock()

    def _run_clock(self, kind: DeadlineKind, due: datetime) -> None:
        self.deadline_kind = kind
        self.next_deadline_at = due

    # --- return then refund ------------------------------------------------------------------
    @transition(
        field=state,
        source=DisputeState.AGREED,
        target=DisputeState.AWAITING_RETURN,
        permission=_deadline_only,
    )
    def start_return(self, *, at: datetime) -> None:
        """The buyer must now ship the item back in time (and is reminded before)."""
        due = deadlines.return_shipment_due_at(agreed_at=at)
        self._run_clock(DeadlineKind.RETURN_SHIPMENT, due)
        self._remind(ReminderKind.RETURN_SHIPMENT, due)

    @transition(
        field=state,
        source=DisputeState.AWAITING_RETURN,
        target=DisputeState.AWAITING_RETURN,
        permission=_is_buyer,
        conditions=[_return_not_shipped],
        custom={"label": _("I shipped the return")},
    )
    def ship_return(self, *, carrier: str, tracking: str, at: datetime) -> None:
        """The tracking is entered: the seller must now confirm the arrival in time."""
        self.return_carrier = carrier
        self.return_tracking = tracking
        self.return_shipped_at = at
        self._run_clock(DeadlineKind.RETURN_RECEIPT, deadlines.return_receipt_due_at(shipped_at=at))
        self._remind(None, None)

    @transition(
        field=state,
        source=DisputeState.AWAITING_RETURN,
        target=DisputeState.RESOLVED,
        permission=_is_seller,
        conditions=[_return_shipped],
        custom={"label": _("The returned parcel arrived")},
    )
    def confirm_return(self, *, at: datetime) -> None:
        self.return_received_at = at
        self._finish(Closing.RETURNED_REFUNDED, at)

    @transition(
        field=state,
        source=DisputeState.AWAITING_RETURN,
        target=DisputeState.RESOLVED,
        permission=_deadline_only,
        conditions=[_return_shipped],
    )
    def return_receipt_overdue(self, *, at: datetime) -> None:
        """The seller did not confirm the return in time: the refund goes out anyway."""
        self._finish(Closing.RETURNED_REFUNDED, at)

    @transition(
        field=state,
        source=DisputeState.AWAITING_RETURN,
        target=DisputeState.RESOLVED,
        permission=_deadline_only,
        conditions=[_return_not_shipped],
    )
    def return_lapsed(self, *, at: datetime) -> None:
        """The buyer did not ship the return in time: the claim lapses, no refund."""
        self._finish(Closing.RETURN_LAPSED, at)

    # --- replacement ---------------------------------------------------------------------------
    @transition(
        field=state,
        source=DisputeState.AGREED,
        target=DisputeState.AWAITING_REPLACEMENT,
        permission=_deadline_only,
    )
    def start_replacement(self, *, at: datetime) -> None:
        """The seller must now ship the replacement in time."""
        self._run_clock(
            DeadlineKind.REPLACEMENT_SHIPMENT, deadlines.replacement_shipment_due_at(agreed_at=at)
        )

    @transition(
        field=state,
        source=DisputeState.AWAITING_REPLACEMENT,
        target=DisputeState.AWAITING_REPLACEMENT,
        permission=_is_seller,
        conditions=[_replacement_not_shipped],
        custom={"label": _("Ship the replacement")},
    )
    def ship_replacement(
        self, *, carrier: str, tracking: str, protection_days: int, at: datetime
    ) -> None:
        """The new parcel is protected for the order's own number of days."""
        self.replacement_carrier = carrier
        self.replacement_tracking = tracking
        self.replacement_shipped_at = at
        self._run_clock(
            DeadlineKind.REPLACEMENT_ARRIVAL,
            deadlines.replacement_protection_ends_at(
                shipped_at=at, protection_days=protection_days
            ),
        )

    @transition(
        field=state,
        source=DisputeState.AWAITING_REPLACEMENT,
        target=DisputeState.RESOLVED,
        permission=_is_buyer,
        conditions=[_replacement_shipped],
        custom={"label": _("The replacement arrived")},
    )
    def confirm_replacement(self, *, at: datetime) -> None:
        self._finish(Closing.REPLACED, at)

    @transition(
        field=state,
        source=DisputeState.AWAITING_REPLACEMENT,
        target=DisputeState.RESOLVED,
        permission=_deadline_only,
        conditions=[_replacement_shipped],
    )
    def replacement_protection_ended(self, *, at: datetime) -> None:
        """The replacement's protection ran out without a report: it counts as delivered,
        as an order does when its protection runs out."""
        self._finish(Closing.REPLACED, at)

    @transition(
        field=state,
        source=DisputeState.AWAITING_REPLACEMENT,
        target=DisputeState.AGREED,
        permission=_is_buyer,
        conditions=[_replacement_shipped],
        custom={"label": _("The replacement did not arrive")},
    )
    def replacement_not_arrived(self, *, at: datetime) -> None:
        """The buyer reports, within the replacement's protection, that it never came: the
        buyer's original request is granted."""
        self._grant_original(Party.BUYER, at)

    @transition(
        field=state,
        source=DisputeState.AWAITING_REPLACEMENT,
        target=DisputeState.AGREED,
        permission=_deadline_only,
        conditions=[_replacement_not_shipped],
    )
    def replacement_not_shipped(self, *, at: datetime) -> None:
        """The seller did not ship the replacement in time: the original request holds."""
        self._grant_original(Party.DEADLINE, at)

    def _grant_original(self, party: Party, at: datetime) -> None:
        outcome, amount = self.original_request()
        self._decide(outcome, amount, party, at)


class DisputeMessage(ChoiceLabels, models.Model):
    """A message in the thread between buyer and seller (staff read and may write)."""

    dispute = models.ForeignKey(
        Dispute, on_delete=models.CASCADE, related_name="messages", verbose_name=_("dispute")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="dispute_messages",
        verbose_name=_("author"),
    )
    author_party = models.CharField(_("as"), max_length=16, choices=Party.choices)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dispute", "created_at"], name="message_dispute_time")]

    def __str__(self) -> str:
        return f"{self.author} on {self.dispute_id}"


class DisputeEvent(ChoiceLabels, models.Model):
    """The audit trail and the timeline: one row per change, message or proposal."""

    dispute = models.ForeignKey(
        Dispute, on_delete=models.CASCADE, related_name="events", verbose_name=_("dispute")
    )
    kind = models.CharField(_("what"), max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_party = models.CharField(_("as"), max_length=16, choices=Party.choices)
    from_state = models.CharField(
        _("from"), max_length=32, choices=DisputeState.choices, blank=True
    )
    to_state = models.CharField(_("to"), max_length=32, choices=DisputeState.choices)
    note = models.TextField(_("why"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    message = models.OneToOneField(
        DisputeMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="event"
    )
    # When it happened: for what a clock did, the clock's due time, however late the sweep
    # ran. ``processed_at`` is when the portal wrote it (operators compare the two).
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), default=timezone.now)

    class Meta:
        verbose_name = _("dispute event")
        verbose_name_plural = _("dispute events")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["dispute", "created_at"], name="event_dispute_time"),
            # The admin's audit trail, in the order it happened.
            models.Index(fields=["created_at", "id"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.from_state} → {self.to_state})"

    @property
    def is_transition(self) -> bool:
        return self.from_state != self.to_state

    @property
    def processed_late(self) -> bool:
        """Written well after the time it is dated (a clock applied by a late sweep)."""
        grace = timedelta(seconds=3 * settings.SWEEP_INTERVAL_SECONDS)
        return self.processed_at - self.created_at > grace


class Notification(models.Model):
    """The outbox: one row per person per change, written in the change's transaction.

    Celery delivers it after the commit; a periodic task delivers whatever is left
    (broker down, worker killed), so an outage delays mail but never loses it.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    event = models.ForeignKey(
        DisputeEvent,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("event"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # A sender claims a row for a few minutes; a claim that expires is taken up again.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("mailed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "event"], name="notification_once_per_person"
            )
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="notification_unsent",
                condition=Q(sent_at__isnull=True),
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            # The admin's outbox, newest first.
            models.Index(fields=["-created_at", "-id"], name="notification_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ← {self.event_id}"


class EvidenceRequest(ChoiceLabels, models.Model):
    """An arbitrator asks one side of an escalated case for more evidence, by a date."""

    dispute = models.ForeignKey(
        Dispute,
        on_delete=models.CASCADE,
        related_name="evidence_requests",
        verbose_name=_("dispute"),
    )
    party = models.CharField(_("asked of"), max_length=16, choices=Party.choices)
    note = models.TextField(_("what is asked"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("asked by"),
    )
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    due_at = models.DateTimeField(_("due by"))
    # Set when the side asked sends evidence after the request.
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("evidence request")
        verbose_name_plural = _("evidence requests")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(party__in=[Party.BUYER, Party.SELLER]),
                name="evidence_request_of_a_party",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_party_display()} · {self.dispute_id}"
