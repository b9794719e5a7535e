"""Every string shown to people is marked for translation: template text outside
{% translate %}/{% blocktranslate %}, and messages, errors, labels and help texts written
as plain strings in Python, fail here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "accounts",
    "orders",
    "disputes",
    "evidence",
    "refunds",
    "complaints",
    "dashboards",
    "api",
    "portal",
]

# Text that is not language: codes, units, names, symbols.
ALLOWED = re.compile(
    r"^(USD|UTC|SHA-256|PO|ID|OK|HTTP|JSON|API|CSV|PNG|JPEG|MP4|MOV|WebM|HEIC|Pico|htmx|"
    r"Visa|Mastercard|dpk|whsec|msg|x|h|min|s|SHA-)$"
)
TAG = re.compile(r"<[^>]*>", re.S)
ENTITY = re.compile(r"&[#a-zA-Z0-9]+;")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")


def unmarked_in_template(path: Path) -> list[str]:
    """The template as a reader sees its fixed text: every template tag and variable, and
    everything inside {% blocktranslate %} or {% comment %}, becomes a blank; then HTML tags
    (whole, attributes included), scripts and styles go; any word left was never marked."""
    source = path.read_text()
    parts = []
    skip = 0
    for token in Lexer(source).tokenize():
        lines = token.contents.count("\n")
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in ("blocktranslate", "blocktrans", "comment", "verbatim"):
                skip += 1
            elif name in ("endblocktranslate", "endblocktrans", "endcomment", "endverbatim"):
                skip -= 1
            parts.append("\x00" + "\n" * lines)
        elif token.token_type == TokenType.TEXT and not skip:
            parts.append(token.contents)
        else:
            parts.append("\x00" + "\n" * lines)
    text = "".join(parts)
    text = re.sub(
        r"<(script|style)\b.*?</\1>",
        lambda m: "\n" * m.group(0).count("\n"),
        text,
        flags=re.S | re.I,
    )
    text = TAG.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = ENTITY.sub(" ", text)
    found = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        words = [w for w in WORD.findall(line) if not ALLOWED.match(w)]
        if words:
            found.append(f"{path.relative_to(ROOT)}:{lineno}: {' '.join(words)[:80]!r}")
    return found


def test_template_text_is_marked_for_translation():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in (".html", ".txt") and path.is_file():
            problems += unmarked_in_template(path)
    assert problems == [], "\n".join(problems)


# Calls whose string arguments people read, and keyword arguments that are labels.
SHOWN_CALLS = {
    "success",
    "info",
    "warning",
    "error",
    "add_message",
    "message_user",
    "ValidationError",
    "OrderError",
    "RefundError",
    "DisputeError",
    "ComplaintError",
    "EvidenceRejected",
    "StaleDispute",
    "DeadlinePassed",
    "HttpResponseForbidden",
}
SHOWN_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "description"}


def plain_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    developer_docs = path.relative_to(ROOT).parts[0] == "api"
    found = []

    def is_plain(node) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return bool(WORD.search(node.value))
        if isinstance(node, ast.JoinedStr):  # f"#{pk}: {exc}" adds no words of its own
            return any(is_plain(part) for part in node.values if isinstance(part, ast.Constant))
        return False

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in ("logger", "log"):
            continue  # logs are for operators, in English
        if name in SHOWN_CALLS:
            for arg in node.args:
                if is_plain(arg):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}(...) plain text")
        for keyword in node.keywords:
            if developer_docs and keyword.arg == "description":
                continue  # the API's schema is read by developers, in English
            if keyword.arg in SHOWN_KEYWORDS and is_plain(keyword.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {keyword.arg}= plain text")
    return found


def test_python_messages_labels_and_errors_are_marked_for_translation():
    problems = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            problems += plain_strings(path)
    assert problems == [], "\n".join(problems)
