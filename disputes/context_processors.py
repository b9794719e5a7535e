"""What every page's navigation needs from disputes: the person's unread notifications."""

from __future__ import annotations

import operator

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, new_method_proxy


class LazyCount(SimpleLazyObject):
    """A count worked out on first use, once, that works as a number: a plural rule reads it
    (Russian's takes ``n % 10``, which a plain lazy object cannot do)."""

    __int__ = new_method_proxy(int)
    __index__ = new_method_proxy(operator.index)
    __mod__ = new_method_proxy(operator.mod)


def notifications(request: HttpRequest) -> dict[str, object]:
    """The unread count for the badge in the navigation: one query, and only on a page
    that shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    from disputes.selectors import notifications_unread_count

    return {"unread_notifications": LazyCount(lambda: notifications_unread_count(user=user))}


def rules(request: HttpRequest) -> dict[str, object]:
    """The durations and limits every page states, from settings (``deadlines.rules``)."""
    from disputes.deadlines import rules as stated

    return {"rules": stated()}
