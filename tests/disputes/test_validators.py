"""The Latin-script rule for dispute descriptions, pure: no database."""

import pytest
from django.core.exceptions import ValidationError

from disputes.validators import foreign_letters, validate_latin_script


def refusal(text: str) -> str:
    with pytest.raises(ValidationError) as excinfo:
        validate_latin_script(text)
    assert excinfo.value.code == "script"
    return excinfo.value.messages[0]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("The dress arrived torn along the left seam.", id="english"),
        pytest.param("Café crème, piñata, naïve, Straße, smørrebrød", id="accents"),
        pytest.param("Ordered 2, got 1; tracking RR123456789CN (42% off?!)", id="digits-punct"),
        pytest.param("It's broken 😡👎 -- “really” — 100 € / £ / $ ™ №", id="emoji-symbols"),
        pytest.param("Cafe\u0301 with a combining accent", id="decomposed-accent"),
        pytest.param("   \n\t  ", id="whitespace"),
        pytest.param("", id="empty"),
    ],
)
def test_latin_text_passes(text):
    validate_latin_script(text)
    assert foreign_letters(text) == []


@pytest.mark.parametrize(
    ("text", "script"),
    [
        pytest.param("Платье порвано", "Cyrillic", id="cyrillic"),
        pytest.param("Το φόρεμα είναι σκισμένο", "Greek", id="greek"),
        pytest.param("裙子破了", "CJK", id="cjk"),
        pytest.param("الفستان ممزق", "Arabic", id="arabic"),
    ],
)
def test_text_in_another_script_is_refused_naming_the_script(text, script):
    message = refusal(text)
    assert "English" in message
    assert f"({script})" in message


def test_the_refusal_names_the_offending_characters_and_only_those():
    message = refusal("The colour is красный, not blue")
    for char in "красный":
        assert f"“{char}”" in message
    for char in "The colour is not blue":
        if char != " ":
            assert f"“{char}”" not in message
    assert "(Cyrillic)" in message


def test_mixed_text_lists_each_distinct_character_once_in_order_of_use():
    text = "ааа bbb ббб ccc ааа ΩΩ"
    assert foreign_letters(text) == ["а", "б", "Ω"]
    message = refusal(text)
    assert message.count("“а”") == 1
    assert message.count("“б”") == 1
    assert message.count("“Ω”") == 1
    assert message.index("“а”") < message.index("“б”") < message.index("“Ω”")
    assert "(Cyrillic, Greek)" in message


def test_a_long_foreign_text_shows_the_first_twelve_characters_and_an_ellipsis():
    alphabet = "абвгдежзийклмнопрст"
    message = refusal(alphabet)
    for char in alphabet[:12]:
        assert f"“{char}”" in message
    for char in alphabet[12:]:
        assert f"“{char}”" not in message
    assert "…" in message


def test_a_single_latin_lookalike_from_another_script_is_caught():
    # A Cyrillic small o (U+043E) hidden in an English word.
    assert foreign_letters("G\u043eod morning") == ["\u043e"]
    assert "(Cyrillic)" in refusal("G\u043eod morning")


@pytest.mark.parametrize(
    "text",
    [
        # U+00BA / U+00AA sit next to "é" in Latin-1 and are Latin script in Unicode.
        pytest.param("Order nº 5, the 1ª size", id="ordinal-indicators"),
        # Fullwidth Latin, typed by a Chinese input method left in fullwidth mode.
        pytest.param("ＯＫ, the size is ＸＬ", id="fullwidth-latin"),
        # U+02BC, the apostrophe some keyboards and autocorrect produce.
        pytest.param("It doesnʼt close", id="modifier-apostrophe"),
    ],
)
def test_latin_letters_outside_the_basic_blocks_pass(text):
    validate_latin_script(text)


# --- letter-like symbols and invisible characters ---------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown", "script"),
    [
        pytest.param("The dress is \u32d0\u32d1\u32d2 torn", "\u32d0", "Katakana", id="circled"),
        pytest.param("Broken \u3200\u3201 seam on the left", "\u3200", "Hangul", id="parenth"),
        pytest.param("Torn \u2801\u2803\u2809 along the seam", "\u2801", "Braille", id="braille"),
        pytest.param("It is torn \u1d78 along the seam", "\u1d78", "Cyrillic", id="modifier"),
    ],
)
def test_letter_like_symbols_of_another_script_are_refused(text, shown, script):
    message = refusal(text)
    assert f"“{shown}”" in message
    assert f"({script})" in message


def test_invisible_characters_count_for_nothing():
    from disputes.validators import clean_text, visible_text

    class Refused(Exception):
        def __init__(self, message, *, field):
            super().__init__(message)

    rule = {"field": "description", "too_short": "short", "too_long": "long", "minimum": 10}
    with pytest.raises(Refused, match="short"):
        clean_text("\u200b" * 20, error=Refused, **rule)
    with pytest.raises(Refused, match="short"):
        clean_text("ab\u200b\u200c\u200d\u2060\ufeff\u00adcd" * 2, error=Refused, **rule)
    # A right-to-left override is dropped, the Latin letters it would reorder are kept.
    assert visible_text("\u202edesserd eht\u202c is torn") == "desserd eht is torn"
    assert clean_text("\u202eThe seam is torn\u202c", error=Refused, **rule) == ("The seam is torn")


def test_a_right_to_left_override_does_not_hide_another_script():
    message = refusal("\u202eПлатье\u202c torn")
    assert "“П”" in message
