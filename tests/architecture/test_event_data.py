"""The keys of an event's data are defined by its writer in ``disputes.events``: every key a
template or the notification code reads is one a writer puts there."""

from __future__ import annotations

import re
from pathlib import Path

from disputes.events import DATA_KEYS

ROOT = Path(__file__).resolve().parents[2]
READ_IN_TEMPLATES = re.compile(r"event\.data\.([a-z_]+)")
READ_IN_PYTHON = re.compile(r"event\.data(?:\.get\(|\[)\"([a-z_]+)\"")


def keys_read() -> dict[str, set[str]]:
    read: dict[str, set[str]] = {}
    for path in (ROOT / "templates").rglob("*"):
        if path.suffix in (".html", ".txt"):
            for key in READ_IN_TEMPLATES.findall(path.read_text()):
                read.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    for package in ("disputes", "complaints", "dashboards"):
        for path in (ROOT / package).rglob("*.py"):
            for key in READ_IN_PYTHON.findall(path.read_text()):
                read.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return read


def test_every_key_read_is_written_by_an_event():
    written = {key for keys in DATA_KEYS.values() for key in keys}
    read = keys_read()
    assert len(read) >= 15  # the scan found the timeline's keys
    unknown = {key: sorted(where) for key, where in read.items() if key not in written}
    assert unknown == {}


def test_every_kind_of_event_has_its_keys_declared():
    from disputes.states import EventKind

    assert set(DATA_KEYS) == set(EventKind.values)
