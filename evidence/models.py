from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.labels import ChoiceLabels


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    VIDEO = "video", _("Video")


class Evidence(ChoiceLabels, models.Model):
    """A photo or video sent in a dispute. Nothing sent can be edited or deleted; staff may
    hide an item with a reason. The file lives in private storage under a random key and
    is served only through a view that checks who is asking."""

    # Evidence belongs to a dispute, or to a complaint about a seller (exactly one).
    dispute = models.ForeignKey(
        "disputes.Dispute",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
        verbose_name=_("dispute"),
    )
    complaint = models.ForeignKey(
        "complaints.Complaint",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
        verbose_name=_("complaint"),
    )
    message = models.ForeignKey(
        "disputes.DisputeMessage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("attached to message"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sent by"),
    )
    party = models.CharField(_("as"), max_length=16)
    kind = models.CharField(_("kind"), max_length=8, choices=EvidenceKind.choices)
    content_type = models.CharField(_("content type"), max_length=40)
    original_name = models.CharField(_("file name as sent"), max_length=200)
    # What was received, byte for byte (the stored copy is rewritten without metadata).
    received_sha256 = models.CharField(_("SHA-256 as received"), max_length=64)
    received_size = models.PositiveBigIntegerField(_("size as received (bytes)"))
    file = models.FileField(_("file"), max_length=200)
    stored_size = models.PositiveBigIntegerField(_("size stored (bytes)"))
    # What is stored: photos re-encoded, videos rewritten without their metadata (empty for
    # items stored before the stored copy was hashed).
    stored_sha256 = models.CharField(_("SHA-256 as stored"), max_length=64, blank=True)
    thumbnail = models.FileField(_("thumbnail"), max_length=200, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    duration = models.DecimalField(
        _("duration (s)"), max_digits=9, decimal_places=3, null=True, blank=True
    )
    codec = models.CharField(_("codec"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hidden by"),
    )
    hidden_reason = models.TextField(_("why hidden"), blank=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["created_at", "id"]
        permissions = [("hide_evidence", _("Can hide evidence with a reason"))]
        indexes = [models.Index(fields=["dispute", "party"], name="evidence_dispute_party")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hidden_at__isnull=True) | ~models.Q(hidden_reason=""),
                name="evidence_hidden_has_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(dispute__isnull=False, complaint__isnull=True)
                | models.Q(dispute__isnull=True, complaint__isnull=False),
                name="evidence_of_one_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class HeldFile(ChoiceLabels, models.Model):
    """A photo or video sent with a form that was refused, kept for the person who sent it
    so that the corrected form needs no new upload.

    It was checked and cleaned exactly as evidence is (``evidence_store``), and is stored
    under a random key; only its owner sees it, only in the form it was sent with
    (``scope``), and only until ``expires_at``. When the form is accepted it becomes
    evidence of the case in the same transaction (the same stored file); otherwise the
    sweep deletes the row and the file once the hold has run out."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("sent by"),
    )
    # The form it was sent with, named by the app that owns the form ("dispute-line:42").
    scope = models.CharField(_("form"), max_length=80)
    kind = models.CharField(_("kind"), max_length=8, choices=EvidenceKind.choices)
    content_type = models.CharField(_("content type"), max_length=40)
    original_name = models.CharField(_("file name as sent"), max_length=200)
    received_sha256 = models.CharField(_("SHA-256 as received"), max_length=64)
    received_size = models.PositiveBigIntegerField(_("size as received (bytes)"))
    file = models.FileField(_("file"), max_length=200)
    stored_size = models.PositiveBigIntegerField(_("size stored (bytes)"))
    stored_sha256 = models.CharField(_("SHA-256 as stored"), max_length=64)
    thumbnail = models.FileField(_("thumbnail"), max_length=200, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    duration = models.DecimalField(
        _("duration (s)"), max_digits=9, decimal_places=3, null=True, blank=True
    )
    codec = models.CharField(_("codec"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("kept until"), db_index=True)

    class Meta:
        verbose_name = _("held file")
        verbose_name_plural = _("held files")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "scope"], name="heldfile_owner_scope")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"
