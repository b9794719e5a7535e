"""The dispute pages: opening one, reading one, the lists, and its evidence files."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from disputes.forms import (
    OpenDisputeForm,
)
from disputes.models import Dispute
from disputes.selectors import (
    disputes_for_buyer,
    disputes_for_store,
    disputes_for_user,
    store_dispute_counts,
)
from disputes.services import DisputeError, dispute_open
from disputes.services.opening import (
    dispute_hold_files,
    dispute_remove_held_file,
    questionnaire_scope,
)
from disputes.states import DisputeState
from disputes.views.context import detail_context
from disputes.views.respond import report_rejections
from evidence.forms import held_ids
from evidence.models import Evidence
from evidence.selectors import held_files
from evidence.services import Hold
from evidence.views import file_response, thumbnail_response, visible_or_404
from orders.models import OrderLine
from orders.selectors import store_for_seller


@login_required
@require_http_methods(["GET", "POST"])
def open_dispute(request: HttpRequest, line_id: int) -> HttpResponse:
    """The questionnaire. Files sent with it are kept for the buyer at once: a refused form
    shows them as already sent (each with a "Remove" box), and the corrected one attaches
    them without a new upload."""
    line = get_object_or_404(
        OrderLine.objects.select_related("order", "order__store"),
        pk=line_id,
        order__buyer=request.user,
    )
    now = timezone.now()
    posted = request.method == "POST"
    existing = Dispute.objects.filter(line=line).only("pk", "state", "finished_at").first()
    if existing is not None and existing.state == DisputeState.WITHDRAWN:
        # Said plainly, with the way to it: a withdrawn dispute cannot be opened again.
        return render(
            request,
            "disputes/open.html",
            {"line": line, "order": line.order, "withdrawn": existing, "now": now},
            status=409 if posted else 200,
        )
    if existing is not None:
        messages.info(request, _("This item already has a dispute; here it is."))
        return redirect("disputes:detail", existing.pk)
    window = line.order.dispute_window(now=now)
    form = OpenDisputeForm(request.POST or None, line=line)
    sent = Hold([], [])
    removed: list[int] = []
    if posted and window.is_open:
        # The files come first: kept for the buyer whatever becomes of the answers, and
        # those the buyer ticked "Remove" are taken back.
        sent = dispute_hold_files(
            line=line, buyer=request.user, files=request.FILES.getlist("evidence"), now=now
        )
        for held_id in held_ids(request.POST.getlist("remove_held")) or []:
            if dispute_remove_held_file(line=line, buyer=request.user, held_id=held_id):
                removed.append(held_id)
    if posted and window.is_open and form.is_valid():
        try:
            opened = dispute_open(
                line=line,
                buyer=request.user,
                request=form.request,
                held=[
                    *(pk for pk in form.cleaned_data["held"] if pk not in removed),
                    *(item.pk for item in sent.held),
                ],
                now=now,
            )
        except DisputeError as exc:
            for problem in exc.problems:
                field = problem.field if problem.field in form.fields else None
                form.add_error(field, str(problem))
        else:
            messages.success(
                request,
                _("Your dispute is open. The seller has been told and must answer."),
            )
            report_rejections(request, sent.rejected)
            return redirect("disputes:detail", opened.dispute.pk)
    for rejection in sent.rejected:
        form.add_error("evidence", _("Not added: %(why)s") % {"why": rejection})
    held = list(held_files(owner=request.user, scope=questionnaire_scope(line), now=now))
    if held:
        form["evidence"].label = _("Add more photos or videos")
    refused = posted and (bool(form.errors) or not window.is_open)
    return render(
        request,
        "disputes/open.html",
        {
            "line": line,
            "order": line.order,
            "form": form,
            "window": window,
            "held": held if window.is_open else [],
            "now": now,
        },
        status=400 if refused else 200,
    )


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    return render(request, "disputes/detail.html", detail_context(request, dispute))


@login_required
def buyer_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(disputes_for_buyer(user=request.user), settings.PORTAL_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "disputes/list.html",
        {"page": page, "title": _("My disputes"), "now": timezone.now(), "seller": False},
    )


@login_required
def seller_list(request: HttpRequest) -> HttpResponse:
    store = store_for_seller(user=request.user)
    if store is None:
        raise Http404(_("You do not own a store."))
    state = request.GET.get("state") or ""
    if state not in DisputeState.values:
        state = ""
    page = Paginator(
        disputes_for_store(store=store, state=state or None), settings.PORTAL_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "disputes/list.html",
        {
            "page": page,
            "title": _("Disputes against %(store)s") % {"store": store.name},
            "store": store,
            "state": state,
            "states": DisputeState,
            "counts": store_dispute_counts(store=store),
            "now": timezone.now(),
            "seller": True,
        },
    )


def _visible_evidence(request: HttpRequest, pk: int, evidence_id: int) -> Evidence:
    """The item, if the person may see the dispute (hidden items: staff only)."""
    dispute = get_object_or_404(disputes_for_user(user=request.user), pk=pk)
    item = get_object_or_404(Evidence, pk=evidence_id, dispute=dispute)
    return visible_or_404(item, user=request.user)


@login_required
@require_safe
def evidence_file(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    return file_response(_visible_evidence(request, pk, evidence_id))


@login_required
@require_safe
def evidence_thumbnail(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponse:
    item = _visible_evidence(request, pk, evidence_id)
    return thumbnail_response(
        item, file_url=reverse("disputes:evidence_file", args=[pk, evidence_id])
    )
