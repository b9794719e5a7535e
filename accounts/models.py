from django.contrib.auth.models import AbstractUser
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person using the portal.

    A buyer is any user with orders; a seller is a user who owns a store
    (``orders.Store.owner``); an arbitrator is active staff holding the permission
    ``disputes.rule_dispute`` (``accounts.roles``, the one definition).
    """

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username
