"""A person's notifications: the list, following one, marking all read."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from disputes.notifications import (
    notification_link,
    notification_mark_read,
    notifications_mark_all_read,
)
from disputes.selectors import notifications_for_user


@login_required
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; reading the list marks nothing read."""
    page = Paginator(notifications_for_user(user=request.user), settings.PORTAL_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {"page": page, "now": timezone.now()})


@login_required
@require_safe
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow one notification: it is marked read and the reader goes to its dispute."""
    row = get_object_or_404(notifications_for_user(user=request.user), pk=pk)
    notification_mark_read(notification_id=row.pk, user=request.user)
    dispute = row.event.dispute
    return redirect(notification_link(dispute=dispute, person=request.user))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications_mark_all_read(user=request.user)
    if count:
        messages.success(
            request,
            ngettext(
                "%(n)d notification marked as read.", "%(n)d notifications marked as read.", count
            )
            % {"n": count},
        )
    return redirect("disputes:notifications")
