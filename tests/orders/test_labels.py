"""``ChoiceLabels``: the cached labels say what Django's own ``get_FOO_display`` says, for
every choice of every model that uses it, in each language, and for values not in the
choices."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation

from orders.labels import ChoiceLabels

MODELS = [model for model in apps.get_models() if issubclass(model, ChoiceLabels)]


def test_the_models_whose_labels_are_shown_use_it():
    names = {model.__name__ for model in MODELS}
    assert {"Dispute", "DisputeEvent", "Order", "Refund", "Complaint", "Evidence"} <= names


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_choice_reads_as_djangos_own(model, language):
    fields = [field for field in model._meta.concrete_fields if field.choices]
    assert fields
    with translation.override(language):
        for field in fields:
            for value in [*(value for value, _ in field.flatchoices), "not-a-choice"]:
                row = model(**{field.attname: value})  # a protected state is set once
                ours = getattr(row, f"get_{field.name}_display")()
                assert ours == models.Model._get_FIELD_display(row, field), (field, value)


def test_a_label_follows_the_language_of_the_moment():
    from disputes.models import Dispute
    from disputes.states import DisputeState

    dispute = Dispute(state=DisputeState.ESCALATED)
    with translation.override("en"):
        english = dispute.get_state_display()
    with translation.override("ru"):
        russian = dispute.get_state_display()
    assert english != russian and english == str(DisputeState.ESCALATED.label)
