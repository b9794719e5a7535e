"""Reads of complaints, scoped to the person asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet

from accounts.roles import staff_may
from complaints.models import Complaint
from evidence.models import Evidence

if TYPE_CHECKING:
    from accounts.models import User


def complaints_for_user(*, user: User) -> QuerySet[Complaint]:
    """The buyer's own complaints; every complaint for staff who handle complaints."""
    qs = Complaint.objects.select_related("order", "store").prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.order_by("created_at", "id"))
    )
    if staff_may(user, "complaints.view_complaint"):
        return qs
    return qs.filter(buyer_id=user.pk)


def complaints_for_buyer(*, user: User) -> QuerySet[Complaint]:
    """What "My complaints" lists: the person's own complaints, newest first."""
    return complaints_for_user(user=user).filter(buyer_id=user.pk)
