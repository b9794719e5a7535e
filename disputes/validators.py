"""Pure checks of what a person typed (no database)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The longest text a person may write in any field (a description, a message, a reason).
MAX_TEXT = 5000


def _script_of(char: str) -> str:
    """'CYRILLIC' for 'П', 'CJK' for '中', 'LATIN' for 'é', a fullwidth A (U+FF21), the
    ordinal indicator 'º' or the modifier apostrophe (U+02BC)."""
    name = unicodedata.name(char, "")
    words = name.split()
    if "LATIN" in words or name.endswith("ORDINAL INDICATOR"):
        return "LATIN"
    if name.startswith("MODIFIER LETTER"):
        # U+02BC, U+02C6 and friends: apostrophes and accents that English text uses.
        return "LATIN"
    return words[0] if words else ""


def _script_label(script: str) -> str:
    return script if len(script) <= 3 else script.title()


def foreign_letters(text: str) -> list[str]:
    """The distinct letters of ``text`` that are not in the Latin script, in order of use.

    Digits, punctuation, symbols, emoji and spaces are all fine: only letters of another
    script (Cyrillic, Greek, CJK, Arabic...) make a text "not English".
    """
    seen: dict[str, None] = {}
    for char in text:
        if unicodedata.category(char).startswith("L") and _script_of(char) != "LATIN":
            seen.setdefault(char, None)
    return list(seen)


def validate_latin_script(text: str) -> None:
    """Refuse text written in another script, naming the characters that are the problem."""
    letters = foreign_letters(text)
    if not letters:
        return
    shown = letters[:12]
    scripts = sorted({_script_label(_script_of(c)) or "?" for c in letters})
    raise ValidationError(
        _(
            "Please write the description in English. These characters are not in the "
            "Latin alphabet: %(chars)s%(more)s (%(scripts)s)."
        )
        % {
            "chars": " ".join(f"“{c}”" for c in shown),
            "more": " …" if len(letters) > len(shown) else "",
            "scripts": ", ".join(scripts),
        },
        code="script",
    )


def clean_text(
    text: str,
    *,
    field: str,
    too_short: str,
    too_long: str,
    error: Callable[..., Exception],
    minimum: int = 1,
    english: bool = False,
) -> str:
    """The one rule for what people write: trimmed, at least ``minimum`` characters, at
    most ``MAX_TEXT``, and in the Latin script where the arbitrators must read it (if the
    portal requires it). ``too_long`` may use ``%(n)d`` for the limit. Refused with
    ``error(message, field=field)``: the caller's own kind of refusal."""
    text = text.strip()
    if len(text) < minimum:
        raise error(too_short, field=field)
    if len(text) > MAX_TEXT:
        raise error(too_long % {"n": MAX_TEXT}, field=field)
    if english and settings.PORTAL_REQUIRE_LATIN_DESCRIPTION:
        try:
            validate_latin_script(text)
        except ValidationError as exc:
            raise error(exc.messages[0], field=field) from exc
    return text
