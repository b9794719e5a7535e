from __future__ import annotations

import copy

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _g

from complaints.forms import AdminComplaintAnswerForm
from complaints.models import Complaint, ComplaintState
from complaints.services import ComplaintError, complaint_answer
from evidence.models import Evidence
from orders.admin import RecordAdmin, StoreFilter


def _complaint_file_urls(complaint_id: int, item_id: int) -> tuple[str | None, str | None]:
    """The checked URLs of a complaint's file and thumbnail, where the views exist."""
    urls: list[str | None] = []
    for name in ("complaints:evidence_file", "complaints:evidence_thumbnail"):
        try:
            urls.append(reverse(name, args=[complaint_id, item_id]))
        except NoReverseMatch:
            urls.append(None)
    file_url, thumb_url = urls
    return file_url, thumb_url or file_url


@admin.register(Complaint)
class ComplaintAdmin(RecordAdmin):
    """The complaints queue: open complaints first, the oldest first. Staff answer on the
    complaint's page (``complaint_answer``); nothing else is edited."""

    change_form_template = "admin/complaints/complaint/change_form.html"
    list_display = ["id", "buyer", "order", "store", "created_at", "state", "answered_at"]
    list_filter = ["state", StoreFilter]
    search_fields = [
        "order__number",
        "buyer__username",
        "buyer__email",
        "buyer__first_name",
        "buyer__last_name",
    ]
    list_select_related = ["buyer", "order", "store"]

    def get_ordering(self, request):
        open_first = Case(When(state=ComplaintState.OPEN, then=Value(0)), default=Value(1))
        return [open_first.asc(), "created_at", "id"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("buyer", "order", "store", "answered_by")
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _may_answer(self, request: HttpRequest) -> bool:
        return request.user.has_perm("complaints.change_complaint")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        complaint = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if complaint is not None and self.has_view_permission(request, complaint):
            items = Evidence.objects.filter(complaint=complaint).order_by("created_at", "id")
            may_answer = self._may_answer(request) and complaint.state == ComplaintState.OPEN
            extra = {
                "complaint": complaint,
                "complaint_evidence": [
                    (item, *_complaint_file_urls(complaint.pk, item.pk)) for item in items
                ],
                "may_answer": may_answer,
                "answer_form": extra.get("answer_form") or AdminComplaintAnswerForm(),
                **extra,
            }
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/answer/",
                self.admin_site.admin_view(self.answer_view),
                name="complaints_complaint_answer",
            ),
            *super().get_urls(),
        ]

    def answer_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self._may_answer(request):
            raise PermissionDenied
        complaint = self.get_object(request, unquote(object_id))
        if complaint is None:
            raise Http404
        form = AdminComplaintAnswerForm(request.POST)
        if form.is_valid():
            try:
                complaint_answer(
                    complaint_id=complaint.pk, user=request.user, answer=form.cleaned_data["answer"]
                )
            except ComplaintError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                self.message_user(
                    request, _g("The answer was sent to the buyer."), messages.SUCCESS
                )
                return redirect("admin:complaints_complaint_change", complaint.pk)
        page_request = copy.copy(request)
        page_request.method = "GET"
        response = self.change_view(page_request, object_id, extra_context={"answer_form": form})
        response.status_code = 400
        return response
