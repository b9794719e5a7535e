"""The deadline policy: the ONLY place that does deadline arithmetic (SPEC.md, "Deadlines").

Pure functions of their arguments and of the durations in settings (``PORTAL_*``): no
database, no clock of their own. Every caller passes ``now``. Services store what these
functions return in indexed columns (``protection_ends_at``, ``next_deadline_at``...);
pages, admin and sweeps read those columns.

A window is open while ``now < until``: at the very second it ends, it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from evidence.sizes import megabytes
from orders.states import OrderState


def protection_ends_at(*, shipped_at: datetime, protection_days: int) -> datetime:
    """Buyer protection runs for the order's own number of days from shipment."""
    return shipped_at + timedelta(days=protection_days)


def post_close_ends_at(*, completed_at: datetime) -> datetime:
    """After an order completes the buyer may still open a dispute for 15 more days."""
    return completed_at + settings.PORTAL_POST_CLOSE_WINDOW


def seller_response_due_at(*, opened_at: datetime) -> datetime:
    """The seller must answer a dispute within PORTAL_SELLER_RESPONSE_WINDOW of its opening."""
    return opened_at + settings.PORTAL_SELLER_RESPONSE_WINDOW


def negotiation_ends_at(*, first_answer_at: datetime) -> datetime:
    """Without agreement, the case is escalated PORTAL_NEGOTIATION_WINDOW after the seller's
    first answer."""
    return first_answer_at + settings.PORTAL_NEGOTIATION_WINDOW


def return_shipment_due_at(*, agreed_at: datetime) -> datetime:
    """After a return is agreed the buyer ships it, with tracking, within
    PORTAL_RETURN_SHIPMENT_WINDOW."""
    return agreed_at + settings.PORTAL_RETURN_SHIPMENT_WINDOW


def return_receipt_due_at(*, shipped_at: datetime) -> datetime:
    """Once the return's tracking is entered the seller confirms its arrival within
    PORTAL_RETURN_RECEIPT_WINDOW."""
    return shipped_at + settings.PORTAL_RETURN_RECEIPT_WINDOW


def replacement_shipment_due_at(*, agreed_at: datetime) -> datetime:
    """After a replacement is agreed the seller ships it within
    PORTAL_REPLACEMENT_SHIPMENT_WINDOW."""
    return agreed_at + settings.PORTAL_REPLACEMENT_SHIPMENT_WINDOW


def replacement_protection_ends_at(*, shipped_at: datetime, protection_days: int) -> datetime:
    """A replacement parcel is protected like the order was: the order's own number of
    days from the replacement's shipment. Accepting a replacement never costs the buyer
    their protection, even when the order's own period has run out meanwhile."""
    return protection_ends_at(shipped_at=shipped_at, protection_days=protection_days)


def arbitration_target_at(*, escalated_at: datetime) -> datetime:
    """Staff aim to rule within PORTAL_ARBITRATION_TARGET of the escalation..."""
    return escalated_at + settings.PORTAL_ARBITRATION_TARGET


def arbitration_limit_at(*, escalated_at: datetime) -> datetime:
    """...and must within 60."""
    return escalated_at + settings.PORTAL_ARBITRATION_LIMIT


def ruling_reply_due_at(*, ruled_at: datetime) -> datetime:
    """Each side agrees to a ruling or objects within PORTAL_RULING_REPLY_WINDOW; silence
    is agreement."""
    return ruled_at + settings.PORTAL_RULING_REPLY_WINDOW


def evidence_request_due_at(*, requested_at: datetime, days: int) -> datetime:
    """An arbitrator's request for more evidence runs for the days the arbitrator chose."""
    return requested_at + timedelta(days=days)


def reminder_at(*, kind: str, due: datetime) -> datetime:
    """When the person who must act is warned before a clock runs out: a day before the
    seller's answer or the buyer's return is due; two days before a case's arbitration
    target for the arbitrators."""
    from disputes.states import ReminderKind

    if kind == ReminderKind.ARBITRATION_TARGET:
        return due - settings.PORTAL_ARBITRATION_REMINDER_LEAD
    return due - settings.PORTAL_REMINDER_LEAD


def coupon_expires_at(*, issued_at: datetime) -> datetime:
    """A coupon can be spent in the same store for a fixed number of days."""
    return issued_at + settings.PORTAL_COUPON_VALIDITY


def held_files_expire_at(*, held_at: datetime) -> datetime:
    """Files sent with a refused questionnaire are kept for their sender for
    PORTAL_EVIDENCE_HOLD, then deleted."""
    return held_at + settings.PORTAL_EVIDENCE_HOLD


def incident_extended(*, due: datetime, days: int) -> datetime:
    """Incident mode: a clock (a protection end, a dispute's deadline) pushed ``days`` later
    when the incident starts."""
    return due + timedelta(days=days)


def incident_max_days() -> int:
    """The longest an incident may extend protection and pause clocks at once."""
    return getattr(settings, "PORTAL_INCIDENT_MAX_DAYS", 30)


def incident_days_paused(*, started_at: datetime, ended_at: datetime, days: int) -> int:
    """The days an incident kept the clocks paused when it ends: the whole days it lasted,
    a day begun counting as a day (in the buyer's favour), never more than it announced."""
    elapsed = max(ended_at - started_at, timedelta(0))
    whole, rest = divmod(elapsed, timedelta(days=1))
    return min(days, whole + (1 if rest else 0))


def incident_pull_back(*, due: datetime, days: int, days_paused: int) -> datetime:
    """An incident ended before its ``days``: a clock it pushed comes back by the days it
    did not last, so that on balance it was paused for ``days_paused``."""
    return due - timedelta(days=days - days_paused)


def incident_shipped_between(*, shipped_from: date, shipped_to: date) -> tuple[datetime, datetime]:
    """The shipment dates an incident covers, both days included, as the half-open range of
    instants ``[start, end)`` in UTC (the time zone every clock is stored in)."""
    start = datetime.combine(shipped_from, time.min, tzinfo=UTC)
    end = datetime.combine(shipped_to, time.min, tzinfo=UTC) + timedelta(days=1)
    return start, end


class WindowStatus(models.TextChoices):
    OPEN = "open", _("Protection is running")
    OPEN_AFTER_CLOSE = "open_after_close", _("Order completed: the post-close window is running")
    NOT_SHIPPED = "not_shipped", _("Not shipped yet")
    CANCELLED = "cancelled", _("Order cancelled")
    CLOSED = "closed", _("Dispute window closed")
    ALREADY_DISPUTED = "already_disputed", _("Already disputed")


@dataclass(frozen=True)
class DisputeWindow:
    """Whether a dispute may be opened on an order line now, until when, and why not."""

    status: WindowStatus
    until: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in (WindowStatus.OPEN, WindowStatus.OPEN_AFTER_CLOSE)

    @property
    def explanation(self) -> str:
        """One sentence for the buyer, naming the date where there is one (in the reader's
        language and time zone, as every date on a page)."""
        from orders.templatetags.clocks import absolute

        when = absolute(self.until)
        messages = {
            WindowStatus.OPEN: _("You can open a dispute until %(when)s."),
            WindowStatus.OPEN_AFTER_CLOSE: _(
                "The order is completed; you can still open a dispute until %(when)s."
            ),
            WindowStatus.NOT_SHIPPED: _(
                "A dispute can be opened once the seller has shipped the order."
            ),
            WindowStatus.CANCELLED: _("This order was cancelled; there is nothing to dispute."),
            WindowStatus.CLOSED: _(
                "The dispute window closed on %(when)s. You can still complain about the "
                "seller to the administration."
            ),
            WindowStatus.ALREADY_DISPUTED: _(
                "This item already has a dispute; an item can be disputed only once."
            ),
        }
        return str(messages[self.status]) % {"when": when}


def dispute_window(
    *,
    order_state: str,
    protection_ends_at: datetime | None,
    completed_at: datetime | None,
    now: datetime,
    already_disputed: bool = False,
) -> DisputeWindow:
    """Until when may a line of this order be disputed, and if not now, why not.

    - paid: not yet (protection starts at shipment); cancelled: never.
    - shipped: open; the latest it can stay open is the end of protection plus the
      post-close window (confirming receipt earlier brings that date forward).
    - completed: open until ``completed_at`` plus the post-close window, then closed for
      good (complaints only).
    - a line that already has a dispute, whatever its state, can never be disputed again.
    """
    if already_disputed:
        return DisputeWindow(WindowStatus.ALREADY_DISPUTED, None)
    if order_state == OrderState.CANCELLED:
        return DisputeWindow(WindowStatus.CANCELLED, None)
    if order_state == OrderState.PAID or protection_ends_at is None:
        return DisputeWindow(WindowStatus.NOT_SHIPPED, None)
    if order_state == OrderState.SHIPPED:
        until = post_close_ends_at(completed_at=protection_ends_at)
        if now < protection_ends_at:
            return DisputeWindow(WindowStatus.OPEN, until)
        # Protection has run out but the sweep has not completed the order yet: the
        # post-close window counts from the end of protection all the same.
        status = WindowStatus.OPEN_AFTER_CLOSE if now < until else WindowStatus.CLOSED
        return DisputeWindow(status, until)
    if order_state == OrderState.COMPLETED and completed_at is not None:
        until = post_close_ends_at(completed_at=completed_at)
        status = WindowStatus.OPEN_AFTER_CLOSE if now < until else WindowStatus.CLOSED
        return DisputeWindow(status, until)
    return DisputeWindow(WindowStatus.CLOSED, None)


@dataclass(frozen=True)
class Rules:
    """The durations and limits as pages and mails state them, read from settings: no
    template, mail, note or docstring writes one of these numbers itself."""

    seller_response_days: int
    negotiation_days: int
    post_close_days: int
    arbitration_target_days: int
    arbitration_limit_days: int
    ruling_reply_days: int
    replacement_days: int
    return_shipment_days: int
    return_receipt_days: int
    coupon_valid_days: int
    evidence_photo_mb: str  # decimal MB, as "15" or "15.5" (evidence/sizes.py)
    evidence_video_mb: str
    evidence_files: int


def rules() -> Rules:
    return Rules(
        seller_response_days=settings.PORTAL_SELLER_RESPONSE_WINDOW.days,
        negotiation_days=settings.PORTAL_NEGOTIATION_WINDOW.days,
        post_close_days=settings.PORTAL_POST_CLOSE_WINDOW.days,
        arbitration_target_days=settings.PORTAL_ARBITRATION_TARGET.days,
        arbitration_limit_days=settings.PORTAL_ARBITRATION_LIMIT.days,
        ruling_reply_days=settings.PORTAL_RULING_REPLY_WINDOW.days,
        replacement_days=settings.PORTAL_REPLACEMENT_SHIPMENT_WINDOW.days,
        return_shipment_days=settings.PORTAL_RETURN_SHIPMENT_WINDOW.days,
        return_receipt_days=settings.PORTAL_RETURN_RECEIPT_WINDOW.days,
        coupon_valid_days=settings.PORTAL_COUPON_VALIDITY.days,
        evidence_photo_mb=megabytes(settings.PORTAL_EVIDENCE_MAX_IMAGE_BYTES),
        evidence_video_mb=megabytes(settings.PORTAL_EVIDENCE_MAX_VIDEO_BYTES),
        evidence_files=settings.PORTAL_EVIDENCE_MAX_FILES_PER_PARTY,
    )
