from django.urls import path

from disputes import views

app_name = "disputes"

urlpatterns = [
    path("lines/<int:line_id>/dispute/", views.open_dispute, name="open"),
    path("disputes/", views.buyer_list, name="buyer_list"),
    path("disputes/<int:pk>/", views.detail, name="detail"),
    path("disputes/<int:pk>/accept/", views.accept, name="accept"),
    path("disputes/<int:pk>/propose/", views.propose, name="propose"),
    path("disputes/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("disputes/<int:pk>/messages/", views.post_message, name="message"),
    path("disputes/<int:pk>/evidence/", views.add_evidence, name="evidence_add"),
    path(
        "disputes/<int:pk>/evidence/<int:evidence_id>/file/",
        views.evidence_file,
        name="evidence_file",
    ),
    path(
        "disputes/<int:pk>/evidence/<int:evidence_id>/thumbnail/",
        views.evidence_thumbnail,
        name="evidence_thumbnail",
    ),
    path("seller/disputes/", views.seller_list, name="seller_list"),
]
