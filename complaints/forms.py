"""The buyer's complaint about a seller (text in English, photos and videos), and the
staff answer in admin."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from complaints.services import ComplaintError, check_complaint_text
from disputes.validators import MAX_TEXT
from evidence.forms import EvidenceField, limits_help


class ComplaintForm(forms.Form):
    body = forms.CharField(
        label=_("What went wrong (in English)"),
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_TEXT}),
    )
    evidence = EvidenceField(
        label=_("Photos and videos (optional)"),
        help_text=limits_help(),
    )

    def clean_body(self) -> str:
        """Checked here as the service checks it, so a refused text stores no file."""
        try:
            return check_complaint_text(self.cleaned_data["body"])
        except ComplaintError as exc:
            raise forms.ValidationError(str(exc)) from exc


class AdminComplaintAnswerForm(forms.Form):
    """Only carries what staff typed: ``complaint_answer`` decides and names the field."""

    answer = forms.CharField(
        label=_("Answer (the buyer reads it)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MAX_TEXT}),
    )
