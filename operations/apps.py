from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """What operators watch: health checks, metrics, the sweeps' heartbeats, JSON logs and
    the staff dashboard."""

    name = "operations"
    verbose_name = _("Operations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import beat_init, worker_init
        from django.conf import settings

        from operations.heartbeat import sweep_at_beat_start
        from operations.logging import connect_worker_logging

        if getattr(settings, "DJANGO_STRUCTLOG_CELERY_ENABLED", False):
            worker_init.connect(connect_worker_logging, weak=False)
        beat_init.connect(sweep_at_beat_start, weak=False)
