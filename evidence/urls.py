"""The evidence app's own pages: the files held for a person's refused form (their previews).

Evidence of a case is served by the app that owns the case (disputes, complaints)."""

from django.urls import path

from evidence import views

app_name = "evidence"

urlpatterns = [
    path("evidence/held/<int:held_id>/file/", views.held_file, name="held_file"),
    path("evidence/held/<int:held_id>/thumbnail/", views.held_thumbnail, name="held_thumbnail"),
]
