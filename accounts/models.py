from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person using the portal.

    A buyer is any user with orders; a seller is a user who owns a store
    (``orders.Store.owner``); an arbitrator is active staff holding the permission
    ``disputes.rule_dispute`` (``accounts.roles``, the one definition).

    Each person reads the portal, and their mail, in their own language and time zone
    (``accounts.locale``); both empty until chosen, or guessed from the browser.
    """

    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username
