"""The buyer's complaints about a seller: the form, the list, and their evidence files.

A complaint is what is left once an order's dispute windows have closed; before that the
page sends the buyer to the dispute form instead. Only the complaint's buyer and staff who
handle complaints see a complaint or its files: everyone else, the store's seller included,
gets a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from complaints.forms import ComplaintForm
from complaints.selectors import complaints_for_buyer, complaints_for_user
from complaints.services import ComplaintError, complaint_allowed, complaint_open
from evidence.models import Evidence
from evidence.views import file_response, thumbnail_response, visible_or_404
from orders.selectors import orders_for_buyer


@login_required
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(orders_for_buyer(user=request.user), number=number)
    now = timezone.now()
    window = order.dispute_window(now=now)
    context = {"order": order, "window": window, "now": now}
    if not complaint_allowed(order=order, now=now):
        # Too early (or never, for a cancelled order): a dispute is the way, not a complaint.
        return render(
            request,
            "complaints/new.html",
            {**context, "allowed": False},
            status=400 if request.method == "POST" else 200,
        )
    form = ComplaintForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint, rejected = complaint_open(
                order=order,
                buyer=request.user,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["evidence"],
                now=now,
            )
        except ComplaintError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(
                request,
                _("Your complaint about %(store)s was sent to the administration.")
                % {"store": order.store.name},
            )
            for rejection in rejected:
                messages.warning(request, _("Not added: %(why)s") % {"why": rejection})
            return redirect(f"{reverse('complaints:list')}#complaint-{complaint.pk}")
    if form.is_bound and form.errors and request.FILES and "evidence" not in form.errors:
        form.add_error(
            "evidence",
            _("Nothing was sent yet: please choose your photos and videos again."),
        )
    return render(
        request,
        "complaints/new.html",
        {**context, "allowed": True, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_safe
def complaint_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(complaints_for_buyer(user=request.user), settings.PORTAL_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "complaints/list.html", {"page": page})


def _visible_evidence(request: HttpRequest, pk: int, evidence_id: int) -> Evidence:
    """The item, if the person may see the complaint; hidden items only for staff."""
    complaint = get_object_or_404(complaints_for_user(user=request.user), pk=pk)
    item = get_object_or_404(Evidence, pk=evidence_id, complaint=complaint)
    return visible_or_404(item, user=request.user)


@login_required
@require_safe
def evidence_file(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_id)
    return file_response(item, prefix="complaint-evidence")


@login_required
@require_safe
def evidence_thumbnail(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_id)
    return thumbnail_response(
        item, file_url=reverse("complaints:evidence_file", args=[pk, evidence_id])
    )
