"""The staff dashboard's two small forms: the window of days, and the CSV export's dates."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from operations.dashboard import DEFAULT_WINDOW, WINDOWS

# The longest range one export covers (the CSV streams, so this is for the reader's sake:
# a range typed with a wrong year is refused instead of exporting decades).
EXPORT_MAX_DAYS = 366


class WindowForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(str(days), str(days)) for days in WINDOWS], coerce=int, required=False
    )

    def window(self) -> int:
        if self.is_valid() and self.cleaned_data["days"]:
            return int(self.cleaned_data["days"])
        return DEFAULT_WINDOW


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class ExportForm(forms.Form):
    """Disputes opened from one day to another, both included, in the reader's zone."""

    date_from = forms.DateField(
        label=_("First day"),
        widget=DateInput(),
        error_messages={
            "required": _("Give the first day of the range."),
            "invalid": _("Write the first day as a date, such as 2026-11-01."),
        },
    )
    date_to = forms.DateField(
        label=_("Last day"),
        widget=DateInput(),
        error_messages={
            "required": _("Give the last day of the range."),
            "invalid": _("Write the last day as a date, such as 2026-11-30."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "export_%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last:
            if last < first:
                self.add_error("date_to", _("The last day comes before the first day."))
            elif (last - first).days + 1 > EXPORT_MAX_DAYS:
                self.add_error(
                    "date_to",
                    ngettext(
                        "One export covers at most %(days)d day.",
                        "One export covers at most %(days)d days.",
                        EXPORT_MAX_DAYS,
                    )
                    % {"days": EXPORT_MAX_DAYS},
                )
        return cleaned
