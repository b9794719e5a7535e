"""Complaints about a seller (issue 7), in the ``disputes`` namespace: disputes/urls.py
appends these patterns, so their names read ``disputes:complaint_...``."""

from django.urls import path

from disputes import complaint_views

urlpatterns = [
    path("orders/<str:number>/complain/", complaint_views.complaint_new, name="complaint_open"),
    path("complaints/", complaint_views.complaint_list, name="complaint_list"),
    path(
        "complaints/<int:pk>/evidence/<int:evidence_id>/",
        complaint_views.complaint_evidence_file,
        name="complaint_evidence_file",
    ),
    path(
        "complaints/<int:pk>/evidence/<int:evidence_id>/thumbnail/",
        complaint_views.complaint_evidence_thumbnail,
        name="complaint_evidence_thumbnail",
    ),
]
