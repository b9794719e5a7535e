from django.urls import path

from disputes.views import actions, notifications, pages

app_name = "disputes"

urlpatterns = [
    path("lines/<int:line_id>/dispute/", pages.open_dispute, name="open"),
    path("disputes/", pages.buyer_list, name="buyer_list"),
    path("disputes/<int:pk>/", pages.detail, name="detail"),
    path("disputes/<int:pk>/accept/", actions.accept, name="accept"),
    path("disputes/<int:pk>/propose/", actions.propose, name="propose"),
    path("disputes/<int:pk>/decline/", actions.decline, name="decline"),
    path("disputes/<int:pk>/withdraw/", actions.withdraw, name="withdraw"),
    path("disputes/<int:pk>/messages/", actions.post_message, name="message"),
    path("disputes/<int:pk>/return/ship/", actions.ship_return, name="ship_return"),
    path("disputes/<int:pk>/return/arrived/", actions.confirm_return, name="confirm_return"),
    path("disputes/<int:pk>/replacement/ship/", actions.ship_replacement, name="ship_replacement"),
    path(
        "disputes/<int:pk>/replacement/arrived/",
        actions.confirm_replacement,
        name="confirm_replacement",
    ),
    path(
        "disputes/<int:pk>/replacement/not-arrived/",
        actions.replacement_not_arrived,
        name="replacement_not_arrived",
    ),
    path(
        "disputes/<int:pk>/refunds/<int:refund_id>/arrived/",
        actions.refund_arrived,
        name="refund_arrived",
    ),
    path("disputes/<int:pk>/evidence/", actions.add_evidence, name="evidence_add"),
    path(
        "disputes/<int:pk>/evidence/<int:evidence_id>/file/",
        pages.evidence_file,
        name="evidence_file",
    ),
    path(
        "disputes/<int:pk>/evidence/<int:evidence_id>/thumbnail/",
        pages.evidence_thumbnail,
        name="evidence_thumbnail",
    ),
    path("disputes/<int:pk>/ruling/agree/", actions.agree_ruling, name="agree_ruling"),
    path("disputes/<int:pk>/ruling/object/", actions.object_ruling, name="object_ruling"),
    path("seller/disputes/", pages.seller_list, name="seller_list"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path(
        "notifications/read/", notifications.notifications_read_all, name="notifications_read_all"
    ),
    path("notifications/<int:pk>/", notifications.notification_open, name="notification_open"),
]
