"""The buyer's complaint about a seller: text in English, photos and videos."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from disputes.complaints import check_complaint_text
from disputes.forms import EvidenceField
from disputes.services import MAX_TEXT, DisputeError


class ComplaintForm(forms.Form):
    body = forms.CharField(
        label=_("What went wrong (in English)"),
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_TEXT}),
    )
    evidence = EvidenceField(
        label=_("Photos and videos (optional)"),
        help_text=_("JPEG, PNG, WebP up to 15 MB; MP4, MOV, WebM up to 200 MB; up to 10 files."),
    )

    def clean_body(self) -> str:
        """Checked here as the service checks it, so a refused text stores no file."""
        try:
            return check_complaint_text(self.cleaned_data["body"])
        except DisputeError as exc:
            raise forms.ValidationError(str(exc)) from exc
