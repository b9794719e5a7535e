"""Password reset and change: Django's own views, with the portal's templates and two additions."""

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import views as auth_views


class PasswordResetView(auth_views.PasswordResetView):
    """Mails a one-time link built on SITE_URL, like every other mail of the portal."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    def form_valid(self, form):
        self.extra_email_context = {"site_url": settings.SITE_URL.rstrip("/")}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the mailed link also lifts a log-in lock-out on the account."""

    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response
