"""Pure checks of what a person typed (no database)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The longest text a person may write in any field (a description, a message, a reason).
MAX_TEXT = 5000


# The scripts Unicode names its characters after (the first word of a letter's name, or a
# word of a letter-like symbol's: CIRCLED KATAKANA A, PARENTHESIZED HANGUL KIYEOK, BRAILLE
# PATTERN DOTS-1, MODIFIER LETTER CYRILLIC EN). Python's unicodedata has no script property.
SCRIPT_NAMES = (
    "ARABIC ARMENIAN BALINESE BENGALI BOPOMOFO BRAILLE BUGINESE BUHID CANADIAN CHAM "
    "CHEROKEE CJK COPTIC CYRILLIC DEVANAGARI ETHIOPIC GEORGIAN GLAGOLITIC GREEK GUJARATI "
    "GURMUKHI HANGUL HANUNOO HEBREW HIRAGANA IDEOGRAPHIC IDEOGRAPH JAVANESE KANGXI KANNADA "
    "KATAKANA KAYAH KHMER LAO LEPCHA LIMBU LISU MALAYALAM MANDAIC MEETEI MONGOLIAN MYANMAR "
    "NKO OGHAM OL ORIYA RUNIC SAMARITAN SAURASHTRA SINHALA SUNDANESE SYRIAC TAGALOG "
    "TAGBANWA TAMIL TELUGU THAANA THAI TIBETAN TIFINAGH VAI YI"
)
SCRIPTS = frozenset(SCRIPT_NAMES.split())
LETTER_LIKE = ("So", "Sk", "Lm", "Mn", "Mc", "Me", "No", "Nl")


def _script_of(char: str) -> str:
    """'CYRILLIC' for 'П' and for U+1D78 (MODIFIER LETTER CYRILLIC EN), 'KATAKANA' for a
    circled katakana, 'CJK' for '中', 'LATIN' for 'é', a fullwidth A (U+FF21), the ordinal
    indicator 'º' or the modifier apostrophe (U+02BC); '' for a symbol of no script."""
    name = unicodedata.name(char, "")
    words = name.split()
    if "LATIN" in words or name.endswith("ORDINAL INDICATOR"):
        return "LATIN"
    script = next((word for word in words if word in SCRIPTS), "")
    if script:
        return script
    if name.startswith("MODIFIER LETTER"):
        # U+02BC, U+02C6 and friends: apostrophes and accents that English text uses.
        return "LATIN"
    if unicodedata.category(char).startswith("L"):
        return words[0] if words else "?"
    return ""


def _script_label(script: str) -> str:
    return script if len(script) <= 3 else script.title()


def visible_text(text: str) -> str:
    """The text without its invisible format characters (zero-width spaces and joiners,
    bidirectional overrides and isolates, soft hyphens), trimmed: what every length rule
    and the stored text count."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf").strip()


def foreign_letters(text: str) -> list[str]:
    """The distinct letters of ``text`` that are not in the Latin script, in order of use,
    letter-like symbols of another script included (circled katakana, parenthesized
    hangul, Braille).

    Digits, punctuation, symbols, emoji and spaces are all fine: only the letters of
    another script (Cyrillic, Greek, CJK, Arabic...) make a text "not English".
    """
    seen: dict[str, None] = {}
    for char in text:
        category = unicodedata.category(char)
        if not (category.startswith("L") or category in LETTER_LIKE):
            continue
        script = _script_of(char)
        if script and script != "LATIN":
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
    """The one rule for what people write: visible characters only, trimmed, at least
    ``minimum`` characters, at most ``MAX_TEXT``, and in the Latin script where the
    arbitrators must read it (if the portal requires it). ``too_long`` may use ``%(n)d``
    for the limit. Refused with ``error(message, field=field)``: the caller's own kind of
    refusal. Invisible format characters are dropped first (``visible_text``): they count
    for nothing."""
    text = visible_text(text)
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
