"""File sizes as people read them: decimal units, as disks, phones and operating systems
other than Windows count them (1 kB = 1,000 bytes, 1 MB = 1,000,000 bytes). Every page,
message and limit states sizes through these, so that "200 MB" allows 200,000,000 bytes
and a file of 301,000,000 bytes is called "301 MB"."""

from __future__ import annotations

from django.utils.translation import gettext as _

KB = 1_000
MB = 1_000_000
GB = 1_000_000_000


def _number(value: float, places: int) -> str:
    """``value`` with at most ``places`` decimals, without trailing zeros."""
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def megabytes(size: int, *, places: int = 1) -> str:
    """The number of MB in ``size`` bytes, as written beside "MB" ("15", "287.1")."""
    return _number(size / MB, places)


def size_label(size: int, *, places: int = 1) -> str:
    """A size with its unit: "850 bytes", "12.3 kB", "301 MB", "1.2 GB"."""
    if size < KB:
        return _("%(n)d bytes") % {"n": size} if size != 1 else _("1 byte")
    if size < MB:
        return _("%(n)s kB") % {"n": _number(size / KB, places)}
    if size < GB:
        return _("%(n)s MB") % {"n": _number(size / MB, places)}
    return _("%(n)s GB") % {"n": _number(size / GB, places)}


def over_limit_labels(size: int, limit: int) -> tuple[str, str]:
    """A size above a limit and the limit, with enough decimals to tell them apart
    (200,000,001 bytes is not "200 MB" next to a limit of 200 MB)."""
    for places in range(1, 10):
        said, allowed = size_label(size, places=places), size_label(limit, places=places)
        if said != allowed:
            return said, allowed
    return _("%(n)d bytes") % {"n": size}, _("%(n)d bytes") % {"n": limit}
