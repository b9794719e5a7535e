from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from disputes.states import Closing, DisputeState, OutcomeType, Party, Reply
from orders.payment import PaymentMethod
from orders.templatetags.clocks import absolute, timeleft

register = template.Library()


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def outcome_label(value: str) -> str:
    return _label(OutcomeType, value)


@register.filter
def closing_label(value: str) -> str:
    return _label(Closing, value)


@register.filter
def method_label(value: str) -> str:
    """A payment method's name, as the buyer knows it ("Card (Visa, Mastercard)")."""
    return _label(PaymentMethod, value)


@register.filter
def iso_absolute(value: str | None) -> str:
    """An ISO date and time kept in an event's data, written as the pages write dates."""
    if not value:
        return ""
    try:
        return absolute(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value)


@register.filter
def iso_timeleft(value: str | None) -> str:
    """How long until an ISO date and time kept in an event's data ('20 hours')."""
    if not value:
        return ""
    try:
        return timeleft(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return ""


@register.simple_tag
def event_refund(event: Any) -> Any:
    """The refund an event is about (for the mail: one query, only for refund events)."""
    from refunds.models import Refund

    refund_id = (event.data or {}).get("refund")
    if not refund_id:
        return None
    return Refund.objects.filter(pk=refund_id).first()


@register.filter
def iso_passed(value: str | None) -> bool:
    """Whether an ISO date and time kept in an event's data is now past (a sentence about
    it then speaks in the past tense)."""
    if not value:
        return False
    try:
        return datetime.fromisoformat(value) <= timezone.now()
    except (TypeError, ValueError):
        return False


def _money(amount: Any, currency: str) -> str:
    try:
        # As the reader writes numbers ("28,00 USD" in Russian), from the string kept in data.
        return f"{number_format(Decimal(str(amount)), decimal_pos=2)} {currency}"
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"


@register.filter
def money(amount: Any, currency: str) -> str:
    """'28.00 USD' from an amount kept in an event's data."""
    return "" if amount in (None, "") else _money(amount, currency)


@register.filter
def outcome_phrase(data: dict[str, Any] | None, currency: str) -> str:
    """An outcome as a sentence says it ('a full refund of 28.00 USD'), from an event's
    ``outcome`` and ``amount``."""
    data = data or {}
    outcome, amount = data.get("outcome"), data.get("amount")
    money_text = _money(amount, currency) if amount not in (None, "") else ""
    phrases = {
        OutcomeType.FULL_REFUND: _("a full refund of %(money)s"),
        OutcomeType.PARTIAL_REFUND: _("a partial refund of %(money)s"),
        OutcomeType.RETURN_AND_REFUND: _("a refund of %(money)s once the item is returned"),
        OutcomeType.REPLACEMENT: _("a replacement parcel"),
        OutcomeType.COUPON: _("a coupon worth %(money)s"),
        OutcomeType.REJECTED: _("the claim rejected"),
        OutcomeType.WITHDRAWN: _("the dispute withdrawn"),
    }
    phrase = phrases.get(outcome)
    if phrase is None:
        return outcome_label(outcome or "")
    return phrase % {"money": money_text} if "%(money)s" in phrase else phrase


@dataclass(frozen=True)
class EventView:
    """An event as one reader sees it: whether they made it (a receipt then says "you"),
    their side in the dispute (the sentences of clocks and reminders speak to it), and who
    stayed silent on a ruling."""

    you: bool
    side: str
    store: str
    assigned_to_you: bool
    buyer_silent: bool
    seller_silent: bool


@register.simple_tag(takes_context=True)
def event_view(context: Any, event: Any) -> EventView:
    """The reader is the mail's recipient (``viewer``/``person``) or the page's ``user``.
    ``by_name`` (the dispute page's timeline, a shared record) names every actor, the
    reader too; mails and the notifications list say "you"."""
    reader = context.get("viewer") or context.get("person") or context.get("user")
    pk = getattr(reader, "pk", None)
    dispute = event.dispute
    if pk is not None and pk == dispute.buyer_id:
        side = Party.BUYER
    elif pk is not None and pk == dispute.store.owner_id:
        side = Party.SELLER
    else:
        side = Party.STAFF
    data = event.data or {}
    return EventView(
        you=pk is not None and event.actor_id == pk and not context.get("by_name"),
        side=str(side),
        store=dispute.store.name,
        assigned_to_you=pk is not None and data.get("assignee") == pk,
        buyer_silent=not dispute.buyer_reply,
        seller_silent=not dispute.seller_reply,
    )


@dataclass(frozen=True)
class RulingReply:
    text: str
    waiting: bool  # the reply window still runs: the page shows its countdown


@register.simple_tag
def ruling_reply(dispute: Any, side: str, now: datetime | None = None) -> RulingReply:
    """What one side said to the first ruling: its reply, "No reply yet" while the window
    runs, and once it has passed, silence as what it is (it counts as agreement), never as
    an agreement the person did not give."""
    now = now or timezone.now()
    mine, other = (
        (dispute.buyer_reply, dispute.seller_reply)
        if side == Party.BUYER
        else (dispute.seller_reply, dispute.buyer_reply)
    )
    if mine:
        return RulingReply(str(Reply(mine).label), False)
    if dispute.state == DisputeState.RULED and (
        dispute.next_deadline_at is None or now < dispute.next_deadline_at
    ):
        return RulingReply(_("No reply yet"), True)
    if other == Reply.OBJECT:
        return RulingReply(_("No reply (the other side objected)"), False)
    return RulingReply(_("No reply (counts as agreement)"), False)
