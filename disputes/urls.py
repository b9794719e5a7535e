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
    path("disputes/<int:pk>/return/ship/", views.ship_return, name="ship_return"),
    path("disputes/<int:pk>/return/arrived/", views.confirm_return, name="confirm_return"),
    path("disputes/<int:pk>/replacement/ship/", views.ship_replacement, name="ship_replacement"),
    path(
        "disputes/<int:pk>/replacement/arrived/",
        views.confirm_replacement,
        name="confirm_replacement",
    ),
    path(
        "disputes/<int:pk>/replacement/not-arrived/",
        views.replacement_not_arrived,
        name="replacement_not_arrived",
    ),
    path(
        "disputes/<int:pk>/refunds/<int:refund_id>/arrived/",
        views.refund_arrived,
        name="refund_arrived",
    ),
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
    path("disputes/<int:pk>/ruling/agree/", views.agree_ruling, name="agree_ruling"),
    path("disputes/<int:pk>/ruling/object/", views.object_ruling, name="object_ruling"),
    path("seller/disputes/", views.seller_list, name="seller_list"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
]

# Complaints about a seller once an order's dispute windows have closed (issue 7): their own
# module, appended here so that their names stay in this namespace.
from disputes.complaint_urls import urlpatterns as complaint_urlpatterns  # noqa: E402

urlpatterns += complaint_urlpatterns
