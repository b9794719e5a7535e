from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts import views as account_views
from dashboards.views import home
from operations.metrics import metrics_view
from operations.views import HealthView
from operations.views_dashboard import disputes_csv_view, staff_dashboard_view

# The portal's own error pages (portal/errors.py), also with DEBUG on.
handler400 = "portal.errors.bad_request"
handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"

admin.site.site_header = _("Dispute portal: staff")
admin.site.site_title = _("Dispute portal")
admin.site.index_title = _("Arbitration and records")

urlpatterns = [
    path("", home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by mail and change, Django's views in the portal's look.
    path("password/reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change_form.html"),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("settings/", account_views.settings_page, name="settings"),
    path("language/", account_views.language_switch, name="language_switch"),
    # For load balancers and monitors (README, "Health and metrics").
    path("health/", HealthView.as_view(), name="health"),
    path("metrics", metrics_view, name="metrics"),
    # The staff dashboard (arbitrators), before the admin's own catch-all.
    path(
        "admin/dashboard/",
        admin.site.admin_view(staff_dashboard_view),
        name="staff_dashboard",
    ),
    path(
        "admin/dashboard/disputes.csv",
        admin.site.admin_view(disputes_csv_view),
        name="staff_dashboard_csv",
    ),
    path("admin/", admin.site.urls),
    path("", include("dashboards.urls")),
    path("", include("orders.urls")),
    path("", include("disputes.urls")),
    path("", include("complaints.urls")),
    path("", include("evidence.urls")),
    path("", include("api.urls")),
]
