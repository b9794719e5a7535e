"""Who is shown the staff dashboard's link (the same rule as its view)."""

from typing import Any

from django import template

from accounts.roles import is_arbitrator

register = template.Library()


@register.filter
def sees_staff_dashboard(user: Any) -> bool:
    return is_arbitrator(user)
