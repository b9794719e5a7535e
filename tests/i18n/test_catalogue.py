"""The Russian catalogue is whole: nothing missing, fuzzy or left in English, every
placeholder kept, the compiled file committed and in step, and no string of the code
missing from it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\([a-zA-Z_0-9]+\)[sdif]|%[sdif]")
CYRILLIC = re.compile(r"[а-яё]", re.I)
# Names that stay as they are in Russian.
NAMES = {"Maestro", "WebMoney", "Western Union", "QIWI"}


def entries() -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(PO)) if not entry.obsolete]


def test_every_language_of_the_settings_has_a_catalogue():
    for code, _name in settings.LANGUAGES:
        if code != settings.LANGUAGE_CODE:
            assert (ROOT / "locale" / code / "LC_MESSAGES" / "django.mo").is_file(), code


def test_nothing_is_missing_fuzzy_or_left_in_english():
    problems = []
    for entry in entries():
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid[:60]!r}")
        if not all(forms):
            problems.append(f"missing: {entry.msgid[:60]!r}")
        elif (
            not any(CYRILLIC.search(form) for form in forms)
            and re.search(r"[a-z]{3}", entry.msgid)
            and entry.msgid not in NAMES
        ):
            problems.append(f"in English: {entry.msgid[:60]!r}")
        wanted = sorted(set(PLACEHOLDER.findall(entry.msgid)))
        for form in forms:
            if not set(PLACEHOLDER.findall(form)) <= set(
                PLACEHOLDER.findall(entry.msgid + entry.msgid_plural)
            ):
                problems.append(f"unknown placeholder in {form[:60]!r}")
            if not entry.msgid_plural and sorted(set(PLACEHOLDER.findall(form))) != wanted:
                problems.append(f"placeholders differ: {entry.msgid[:60]!r}")
    assert problems == [], "\n".join(problems)


def test_the_committed_compiled_catalogue_is_the_source_compiled():
    assert MO.is_file(), "run make messages and commit locale/ru/LC_MESSAGES/django.mo"
    compiled = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(MO))}
    for entry in entries():
        got = compiled.get((entry.msgctxt, entry.msgid))
        assert got is not None, f"not compiled: {entry.msgid[:60]!r} (make messages)"
        if entry.msgid_plural:
            assert got.msgstr_plural == entry.msgstr_plural, entry.msgid[:60]
        else:
            assert got.msgstr == entry.msgstr, entry.msgid[:60]


def test_russian_plurals_are_right():
    with translation.override("ru"):
        words = [translation.ngettext("%d day", "%d days", n) % n for n in (1, 2, 5, 11, 21, 22)]
    assert words == ["1 день", "2 дня", "5 дней", "11 дней", "21 день", "22 дня"]


@pytest.mark.xdist_group("shared-services")
def test_no_string_of_the_code_is_missing_from_the_catalogue(tmp_path):
    """makemessages over the sources finds no msgid the catalogue lacks (run on a copy of
    the catalogue; the committed one is put back as it was)."""
    need(shutil.which("xgettext") is not None, "needs Debian's gettext (xgettext) to extract")
    saved = tmp_path / "django.po"
    shutil.copy(PO, saved)
    before = {(e.msgctxt, e.msgid) for e in entries()}
    try:
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "makemessages",
                "-l",
                "ru",
                "--ignore=.venv/*",
                "--ignore=tests/*",
                "--ignore=benchmarks/*",
                "--ignore=examples/*",
                "--ignore=staticfiles/*",
                "--ignore=var/*",
            ],
            cwd=ROOT,
            env={**__import__("os").environ, "DEBUG": "1"},
            check=True,
            capture_output=True,
            timeout=300,
        )
        after = {(e.msgctxt, e.msgid) for e in entries()}
    finally:
        shutil.copy(saved, PO)
    missing = sorted(msgid for _ctx, msgid in after - before)
    assert missing == [], "new strings, run make messages and translate them:\n" + "\n".join(
        m[:80] for m in missing
    )
