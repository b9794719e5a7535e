"""Password reset and change: Django's own views, with the portal's templates and two additions."""

from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from accounts.locale import zone_names


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


class SettingsForm(forms.Form):
    language = forms.ChoiceField(label=_lazy("Language"), choices=settings.LANGUAGES)
    time_zone = forms.ChoiceField(
        label=_lazy("Time zone"),
        help_text=_lazy("Every date and countdown is shown in this zone; mail too."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in sorted(zone_names())]


def _remember_language(response: HttpResponse, code: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
    )
    return response


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """The person's language and time zone."""
    user = request.user
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            user.language = form.cleaned_data["language"]
            user.time_zone = form.cleaned_data["time_zone"]
            user.save(update_fields=["language", "time_zone"])
            translation.activate(user.language)
            messages.success(request, _("Your settings are saved."))
            response = HttpResponseRedirect(reverse("settings"))
            return _remember_language(response, user.language)
    else:
        form = SettingsForm(
            initial={
                "language": user.language or translation.get_language(),
                "time_zone": user.time_zone or request.time_zone,
            }
        )
    return render(request, "accounts/settings.html", {"form": form})


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The switcher on every page: saved for the person, and in a cookie for anyone."""
    code = request.POST.get("language", "")
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if code not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated:
        request.user.language = code
        request.user.save(update_fields=["language"])
    return _remember_language(response, code)
