from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from dashboards.views import home

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
    path("admin/", admin.site.urls),
    path("", include("dashboards.urls")),
    path("", include("orders.urls")),
    path("", include("disputes.urls")),
    path("", include("complaints.urls")),
]
