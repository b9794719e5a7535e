"""Incident notices on pages: "Protection extended by N days: <reason>"."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.translation import ngettext

from orders.selectors import IncidentNote

register = template.Library()


@register.filter
def notes_for(notes: Any, order: Any) -> list[IncidentNote]:
    """The notes of one order, from the dict a list page read for all its orders at once
    (``incident_notes_for_orders``); nothing if the page did not read them."""
    if not isinstance(notes, dict) or order is None:
        return []
    return notes.get(getattr(order, "pk", order), [])


@register.filter
def notes_from_events(events: Any) -> list[IncidentNote]:
    """The notes of a dispute page, from its timeline already read (no query): each incident
    that paused the dispute, with the days it added (fewer if it ended early)."""
    started: dict[int, IncidentNote] = {}
    for event in events or ():
        data = getattr(event, "data", None) or {}
        if event.kind == "incident_started":
            started[data["incident"]] = IncidentNote(
                incident_id=data["incident"], days=data["days"], reason=event.note, running=True
            )
        elif event.kind == "incident_ended" and data.get("incident") in started:
            note = started[data["incident"]]
            started[note.incident_id] = IncidentNote(
                incident_id=note.incident_id,
                days=data["days_paused"],
                reason=note.reason,
                running=False,
            )
    return [note for note in started.values() if note.days]


@register.simple_tag
def incident_notice(order: Any, notes: Any = None, events: Any = None) -> str:
    """``{% incident_notice order notes=incident_notes %}`` on a list page (the notes it read
    for all its orders), ``{% incident_notice order events=timeline %}`` on a dispute page:
    one "Protection extended by N days: <reason>" line per incident. Built in Python: list
    pages show it on every row."""
    found = notes_from_events(events) if events is not None else notes_for(notes, order)
    order_id = getattr(order, "pk", order)
    return format_html_join(
        "",
        '<p class="incident-notice" role="status" id="incident-{}-{}"><strong>{}</strong> {}</p>',
        (
            (
                note.incident_id,
                order_id,
                ngettext(
                    "Protection extended by %(days)s day:",
                    "Protection extended by %(days)s days:",
                    note.days,
                )
                % {"days": note.days},
                note.reason,
            )
            for note in found
        ),
    )
