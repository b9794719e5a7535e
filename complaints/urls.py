"""Complaints about a seller, once an order's dispute windows have closed."""

from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("orders/<str:number>/complain/", views.complaint_new, name="open"),
    path("complaints/", views.complaint_list, name="list"),
    path(
        "complaints/<int:pk>/evidence/<int:evidence_id>/",
        views.evidence_file,
        name="evidence_file",
    ),
    path(
        "complaints/<int:pk>/evidence/<int:evidence_id>/thumbnail/",
        views.evidence_thumbnail,
        name="evidence_thumbnail",
    ),
]
