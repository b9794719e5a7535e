from django import forms
from django.utils.translation import gettext_lazy as _


class ShipForm(forms.Form):
    carrier = forms.CharField(
        label=_("Carrier"),
        max_length=80,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. China Post, DHL"), "list": "carriers"}
        ),
    )
    tracking_number = forms.CharField(
        label=_("Tracking number"),
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_tracking_number(self) -> str:
        value = self.cleaned_data["tracking_number"].strip().replace(" ", "")
        if not value.isascii() or not value.isalnum():
            raise forms.ValidationError(
                _("A tracking number has only letters and digits, like RR123456789CN.")
            )
        return value.upper()
