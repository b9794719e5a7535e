from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The demo data ``make run`` loads (``manage.py seed_demo``): every app's situations,
    made through the same services the pages use."""

    name = "demo"
    verbose_name = _("Demo data")
