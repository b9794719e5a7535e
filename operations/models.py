from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SweepHeartbeat(models.Model):
    """When each periodic sweep last completed: one row per sweep, overwritten by each run
    (``operations.heartbeat.sweep_completed``, called through ``PORTAL_SWEEP_HOOK``). The
    health check reads it to tell whether the scheduler and a worker are alive."""

    name = models.CharField(_("sweep"), max_length=80, unique=True)
    completed_at = models.DateTimeField(_("last completed at"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), default=0)
    result = models.JSONField(_("what it did"), default=dict, blank=True)

    class Meta:
        verbose_name = _("sweep heartbeat")
        verbose_name_plural = _("sweep heartbeats")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} @ {self.completed_at:%Y-%m-%d %H:%M:%S}"
