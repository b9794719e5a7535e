"""The one page of the API app: a sign-in link, spent."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from api.services import sign_in_link_use


@require_GET
def sign_in(request, token: str):
    """Log the link's person in (once, while it is fresh) and open its page."""
    link = sign_in_link_use(token=token)
    if link is None or not link.user.is_active:
        return render(request, "api/sign_in_expired.html", status=410)
    login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("Welcome, %(name)s.") % {"name": link.user})
    target = link.next_path
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)
