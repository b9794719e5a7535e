from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

from disputes.states import Closing, OutcomeType
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
