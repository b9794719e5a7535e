"""``get_FOO_display()`` without rebuilding a field's choices on every call.

Django's own builds a dict of the field's (lazily translated) choices each time it is called:
about 40 µs for the dispute's states, on every badge of every row of a list. The mixin builds
that dict once per field; the labels in it stay lazy, so each call still answers in the
reader's language.
"""

from __future__ import annotations

from typing import Any

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


class ChoiceLabels:
    """Put first in a model's bases: ``class Order(ChoiceLabels, ..., models.Model)``."""

    def _get_FIELD_display(self, field: Any) -> str:
        labels = field.__dict__.get("_portal_choice_labels")
        if labels is None:
            labels = dict(make_hashable(field.flatchoices))
            field.__dict__["_portal_choice_labels"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)
