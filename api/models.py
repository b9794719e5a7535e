"""A marketplace's integration: its keys, the ids it knows our records by, the answers it
may replay, its webhook endpoints and deliveries, and the sign-in links it asked for.

The apps below never import these: an order, a store or a person belongs to an integration
through the ``External*`` rows here, so the orders app stays the bottom layer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import Order, Store


class Integration(models.Model):
    """One marketplace that pushes its orders in and hears about their disputes."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    contact_email = models.EmailField(
        _("contact e-mail"), help_text=_("Told when a webhook endpoint is disabled.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A key is shown once, when made: only its SHA-256 digest is kept, with a public
    prefix to tell keys apart."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="keys", verbose_name=_("integration")
    )
    name = models.CharField(_("name"), max_length=80, help_text=_("What uses this key."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ExternalStore(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=100)
    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="external")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "external_id"], name="external_store_once"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class ExternalPerson(models.Model):
    """A buyer or a seller as the marketplace knows them."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_ids"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "external_id"], name="external_person_once"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class ExternalOrder(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="orders")
    external_id = models.CharField(max_length=100)
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="external")
    # What was last sent, to tell "the same order again" from a change.
    digest = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "external_id"], name="external_order_once"
            )
        ]

    def __str__(self) -> str:
        return self.external_id


class IdempotentResponse(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, replayed for 24 hours."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)  # null while the first is running
    body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, default="application/json")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "key"], name="idempotency_key_once")
        ]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    """Where an integration hears about disputes, refunds and payouts."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(_("URL"), max_length=500)
    event_types = models.JSONField(
        _("event types"), default=list, blank=True, help_text=_("Empty: every event type.")
    )
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    # After a rotation, messages carry both signatures until the old secret expires.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["integration", "url"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(models.Model):
    """One message to one endpoint (the outbox): written in the transaction of the change it
    reports, sent by Celery after the commit, retried with backoff until it succeeds or its
    retry window ends. Per endpoint, the messages about one dispute go out in order."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The same for a replay of the message (receivers deduplicate on it).
    message_id = models.CharField(_("message id"), max_length=40, db_index=True)
    event_type = models.CharField(_("event type"), max_length=60)
    # Messages sharing a subject (a dispute, an order) are delivered in order.
    subject = models.CharField(_("subject"), max_length=60)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    abandoned_at = models.DateTimeField(_("given up at"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(_("last time taken (ms)"), null=True, blank=True)
    last_response = models.TextField(_("last response (excerpt)"), blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due",
                condition=models.Q(delivered_at__isnull=True, abandoned_at__isnull=True),
            ),
            models.Index(fields=["endpoint", "subject", "id"], name="webhook_subject_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint}"


class SignInLink(models.Model):
    """A one-time link that logs a buyer or a seller in and brings them to one page."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    next_path = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} → {self.next_path}"
