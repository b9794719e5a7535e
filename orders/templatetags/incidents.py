"""Incident notices on pages: "Protection extended by N days: <reason>"."""

from __future__ import annotations

from typing import Any

from django import template

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
