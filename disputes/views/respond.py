"""The one place where a service's refusal becomes the page's answer.

A dispute view fetches the dispute through a selector scoped to the person, validates its
form, calls one service and hands the outcome here: a page that is out of date gets the
dispute as it is now (HTTP 409); a refusal of something typed is shown on the form that
was sent, beside the field, keeping what was typed (HTTP 400); any other refusal (a button,
a move that is not the person's) is a message on the dispute page; success is confirmed and
the person goes back to the dispute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Dispute
from disputes.selectors import disputes_for_user
from disputes.services import (
    DeadlinePassed,
    DisputeError,
    StaleDispute,
    dispute_process_deadline,
)
from disputes.views.context import detail_context


def conflict(request: HttpRequest, dispute_id: int, error: Exception) -> HttpResponse:
    """The dispute moved under the person's feet: show it as it is now (HTTP 409).

    If it was the clock that ran out, its consequence is applied now rather than at the
    next sweep, so the page shows what the deadline decided."""
    if isinstance(error, DeadlinePassed):
        dispute_process_deadline(dispute_id=dispute_id)
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=dispute_id)
    return render(
        request,
        "disputes/conflict.html",
        {"dispute": dispute, "error": str(error), "now": timezone.now()},
        status=409,
    )


def report_rejections(request: HttpRequest, rejected: Any) -> None:
    """Files refused by name, each with its reason (the others were kept)."""
    for rejection in rejected or ():
        messages.warning(request, _("Not added: %(why)s") % {"why": rejection})


def respond(
    request: HttpRequest,
    dispute: Dispute,
    action: Callable[[], Any],
    *,
    done: str | Callable[[Any], str],
    form: forms.Form | None = None,
    form_name: str = "",
    anchor: str = "",
    ask_files_again: bool = False,
    keep_typed: bool = False,
) -> HttpResponse:
    """Run ``action`` (one service call) and answer as every dispute action does.

    ``form`` is validated first; ``form_name`` is its name on the dispute page, where a
    refused form is shown again (a form without one, such as a button's revision, gets
    its refusal as a message). ``keep_typed``: a refusal that names no field of the form
    (a file limit reached meanwhile) is shown on the form too, so what was typed stays."""
    if form is not None and not form.is_valid():
        if "revision" in form.errors:
            return conflict(request, dispute.pk, StaleDispute(_("The form was incomplete.")))
        return _form_again(request, dispute, form, form_name, ask_files_again)
    try:
        result = action()
    except StaleDispute as exc:
        return conflict(request, dispute.pk, exc)
    except DisputeError as exc:
        on_form = [
            problem
            for problem in exc.problems
            if form and (keep_typed or problem.field in form.fields)
        ]
        if not (form_name and on_form):
            # A button, or a move that is not the person's to make: nothing typed to fix.
            messages.error(request, str(exc))
            return redirect(dispute.get_absolute_url())
        for problem in on_form:
            field = problem.field if problem.field in form.fields else None
            form.add_error(field, str(problem))
        return _form_again(request, dispute, form, form_name, ask_files_again)
    message = done(result) if callable(done) else done
    if message:
        messages.success(request, message)
    report_rejections(request, getattr(result, "rejected", None))
    return redirect(f"{dispute.get_absolute_url()}{anchor}")


def _form_again(
    request: HttpRequest, dispute: Dispute, form: forms.Form, form_name: str, ask_files_again: bool
) -> HttpResponse:
    if ask_files_again:
        ask_for_files_again(request, form, "files")
    return render(
        request,
        "disputes/detail.html",
        detail_context(request, dispute, **{form_name: form}),
        status=400,
    )


def ask_for_files_again(request: HttpRequest, form: forms.Form, field: str) -> None:
    """A refused form sent nothing: the files chosen must be chosen again."""
    if request.FILES and field not in form.errors:
        form.add_error(
            field, _("Nothing was sent yet: please choose your photos and videos again.")
        )
