"""The names of a dispute's states and of the things recorded about it (SPEC.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DisputeState(models.TextChoices):
    # Opened by the buyer; the seller must give a first answer before the clock runs out.
    OPEN = "open", _("Waiting for the seller")
    # A proposal is on the table (the seller's, or the buyer's counter), or none since one
    # was declined (either side may then propose); from the seller's first answer the
    # negotiation clock runs, then the platform escalates the case.
    SELLER_RESPONDED = "seller_responded", _("Negotiating")
    # No agreement in time: staff arbitrate (a target, and a limit).
    ESCALATED = "escalated", _("With an arbitrator")
    # Staff ruled; each side may agree or object once before the reply clock runs out.
    RULED = "ruled", _("Ruled, awaiting replies")
    # An outcome is agreed or decided and is taking effect.
    AGREED = "agreed", _("Agreed")
    # The seller must bring a returned parcel to a close (refund after receipt).
    AWAITING_RETURN = "awaiting_return", _("Awaiting the return")
    # The seller must ship a replacement in time; the buyer confirms it arrived.
    AWAITING_REPLACEMENT = "awaiting_replacement", _("Awaiting the replacement")
    # Final: the outcome took effect.
    RESOLVED = "resolved", _("Resolved")
    # Final: the buyer withdrew; the line can never be disputed again.
    WITHDRAWN = "withdrawn", _("Withdrawn")


FINISHED_STATES = (DisputeState.RESOLVED, DisputeState.WITHDRAWN)
NEGOTIATING_STATES = (DisputeState.OPEN, DisputeState.SELLER_RESPONDED)


class Reason(models.TextChoices):
    NOT_RECEIVED = "not_received", _("I did not receive the parcel")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described (wrong colour, size or item)")
    INCOMPLETE = "incomplete", _("Incomplete (items or parts missing)")
    DAMAGED = "damaged", _("Damaged or defective")
    COUNTERFEIT = "counterfeit", _("Counterfeit")
    OTHER = "other", _("Something else")


class RequestedOutcome(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only (I keep the goods)")
    RETURN_AND_REFUND = "return_and_refund", _("Return the goods and get a refund")


class OutcomeType(models.TextChoices):
    FULL_REFUND = "full_refund", _("Full refund")
    PARTIAL_REFUND = "partial_refund", _("Partial refund")
    RETURN_AND_REFUND = "return_and_refund", _("Return, then refund")
    REPLACEMENT = "replacement", _("Replacement parcel")
    COUPON = "coupon", _("Coupon for a next purchase")
    REJECTED = "rejected", _("Claim rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn by the buyer")


# What each party may put on the table.
SELLER_PROPOSALS = (
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.REPLACEMENT,
    OutcomeType.COUPON,
    OutcomeType.REJECTED,
)
BUYER_PROPOSALS = (
    OutcomeType.FULL_REFUND,
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.RETURN_AND_REFUND,
)
# Outcomes that carry an amount of money.
AMOUNT_OUTCOMES = (
    OutcomeType.FULL_REFUND,
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.RETURN_AND_REFUND,
    OutcomeType.COUPON,
)


class Party(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    SELLER = "seller", _("Seller")
    STAFF = "staff", _("Staff")
    DEADLINE = "deadline", _("Deadline")
    PLATFORM = "platform", _("Platform")


class DeadlineKind(models.TextChoices):
    SELLER_RESPONSE = "seller_response", _("Seller's answer")
    NEGOTIATION = "negotiation", _("Negotiation")
    RETURN_SHIPMENT = "return_shipment", _("Buyer ships the return")
    RETURN_RECEIPT = "return_receipt", _("Seller confirms the return arrived")
    REPLACEMENT_SHIPMENT = "replacement_shipment", _("Seller ships the replacement")
    REPLACEMENT_ARRIVAL = "replacement_arrival", _("Replacement's protection")
    ARBITRATION_LIMIT = "arbitration_limit", _("Arbitration limit")
    RULING_REPLY = "ruling_reply", _("Replies to the ruling")


class ReminderKind(models.TextChoices):
    """A warning before a clock runs out, to the person who must act."""

    SELLER_RESPONSE = "seller_response", _("The seller's answer is due tomorrow")
    RETURN_SHIPMENT = "return_shipment", _("The return must ship soon")
    ARBITRATION_TARGET = "arbitration_target", _("The case nears its arbitration target")


class Reply(models.TextChoices):
    AGREE = "agree", _("Agrees")
    OBJECT = "object", _("Objects")


# What an arbitrator may rule.
RULINGS = (
    OutcomeType.FULL_REFUND,
    OutcomeType.PARTIAL_REFUND,
    OutcomeType.RETURN_AND_REFUND,
    OutcomeType.REJECTED,
)


class Closing(models.TextChoices):
    """How a finished dispute ended: what actually happened, money included."""

    REFUNDED = "refunded", _("Refunded")
    RETURNED_REFUNDED = "returned_refunded", _("Returned, then refunded")
    RETURN_LAPSED = "return_lapsed", _("Claim lapsed: the return was not shipped in time")
    REPLACED = "replaced", _("Replacement delivered")
    COUPON = "coupon", _("Coupon issued")
    REJECTED = "rejected", _("Claim rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn by the buyer")


class EventKind(models.TextChoices):
    OPENED = "opened", _("Dispute opened")
    ACCEPTED = "accepted", _("Proposal accepted")
    PROPOSED = "proposed", _("Proposal made")
    DECLINED = "declined", _("Proposal declined")
    WITHDRAWN = "withdrawn", _("Dispute withdrawn")
    RESOLVED = "resolved", _("Outcome took effect")
    ESCALATED = "escalated", _("Escalated to an arbitrator")
    DEADLINE_PASSED = "deadline_passed", _("Deadline passed")
    MESSAGE = "message", _("Message")
    EVIDENCE_ADDED = "evidence_added", _("Evidence added")
    EVIDENCE_HIDDEN = "evidence_hidden", _("Evidence hidden by staff")
    RETURN_STARTED = "return_started", _("Return requested")
    RETURN_SHIPPED = "return_shipped", _("Return shipped")
    RETURN_RECEIVED = "return_received", _("Return received")
    REPLACEMENT_STARTED = "replacement_started", _("Replacement promised")
    REPLACEMENT_SHIPPED = "replacement_shipped", _("Replacement shipped")
    REPLACEMENT_RECEIVED = "replacement_received", _("Replacement received")
    REPLACEMENT_NOT_ARRIVED = "replacement_not_arrived", _("Replacement did not arrive")
    REFUND_SENT = "refund_sent", _("Refund sent")
    REFUND_ARRIVED = "refund_arrived", _("Refund arrived")
    REFUND_FAILED = "refund_failed", _("Refund failed")
    ASSIGNED = "assigned", _("Arbitrator assigned")
    RULED = "ruled", _("Arbitrator ruled")
    RULING_AGREED = "ruling_agreed", _("Agreed to the ruling")
    RULING_OBJECTED = "ruling_objected", _("Objected to the ruling")
    EVIDENCE_REQUESTED = "evidence_requested", _("More evidence requested")
    REMINDER = "reminder", _("Reminder")
    ARBITRATION_LATE = "arbitration_late", _("Arbitration over its limit")
    # Incident mode: staff extended the order's protection and paused the case's clocks...
    INCIDENT_STARTED = "incident_started", _("Clocks paused by an incident")
    # ...and the incident ended: the clocks run again, the days paused added.
    INCIDENT_ENDED = "incident_ended", _("Incident ended, clocks resumed")
