"""What every page's navigation needs from disputes: the person's unread notifications."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def notifications(request: HttpRequest) -> dict[str, object]:
    """The unread count for the badge in the navigation: one query, and only on a page
    that shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    from disputes.selectors import notifications_unread_count

    return {"unread_notifications": SimpleLazyObject(lambda: notifications_unread_count(user=user))}


def rules(request: HttpRequest) -> dict[str, object]:
    """The durations and limits every page states, from settings (``deadlines.rules``)."""
    from disputes.deadlines import rules as stated

    return {"rules": stated()}
