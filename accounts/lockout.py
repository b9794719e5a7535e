"""What a locked-out log-in sees, and which address a try is counted against (django-axes).

Both log-in pages (the portal's and the admin's) answer a locked-out try with their own page
and form, status 429, and one error saying until when the account is locked on this connection.
"""

from __future__ import annotations

from datetime import datetime

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

LOCKED_STATUS = 429


def client_ip(request: HttpRequest) -> str | None:
    """The address a log-in try comes from.

    Behind the TLS proxy (LOGIN_TRUST_X_FORWARDED_FOR, on with HTTPS=1) every connection comes
    from the proxy, so the client is the address the proxy appended last to X-Forwarded-For; any
    address before it was sent by the client and is not believed.
    """
    if getattr(settings, "LOGIN_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def locked_until(request: HttpRequest, credentials: dict | None) -> datetime:
    """When the lock on these credentials from this address ends."""
    cool_off = get_cool_off(request)
    querysets = AxesDatabaseHandler().get_user_attempts(request, credentials)
    latest = max(
        (
            last
            for queryset in querysets
            if (last := queryset.aggregate(last=Max("attempt_time"))["last"]) is not None
        ),
        default=None,
    )
    return (latest or timezone.now()) + cool_off


def lockout_message(until: datetime) -> str:
    local = timezone.localtime(until)
    return _(
        "Too many wrong passwords: for your safety, log-in to this account from here is locked "
        "until %(time)s (in %(wait)s). Try again then, or reset your password by mail."
    ) % {
        "time": f"{date_format(local, 'j M Y, H:i')} {local.tzname()}",
        "wait": timeuntil(until),
    }


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The log-in page the person was on, with the lock-out as the form's one error."""
    until = locked_until(request, credentials)
    message = lockout_message(until)
    if (
        isinstance(original_response, TemplateResponse)
        and original_response.context_data
        and "form" in original_response.context_data
    ):
        template = original_response.template_name
        context = dict(original_response.context_data)
        form = context["form"]
        if form.is_bound:  # the view validated it already: no second authentication
            form.errors.clear()
            form.errors[NON_FIELD_ERRORS] = form.error_class([message], error_class="nonfield")
    else:
        template = "accounts/login.html"
        username = (credentials or {}).get("username") or request.POST.get("username", "")
        context = {"form": AuthenticationForm(request, initial={"username": username})}
    context.update({"locked_until": until, "lockout_message": message})
    response = TemplateResponse(request, template, context, status=LOCKED_STATUS)
    response.render()
    return response
