from django import template

from disputes.states import OutcomeType

register = template.Library()


@register.filter
def outcome_label(value: str) -> str:
    try:
        return str(OutcomeType(value).label)
    except ValueError:
        return value
