"""Sizes in templates, in decimal units as everywhere (``evidence.sizes``)."""

from __future__ import annotations

from django import template

from evidence import sizes

register = template.Library()


@register.filter
def size_label(value: int | None) -> str:
    """``{{ item.received_size|size_label }}``: "301 MB", "850 kB"."""
    return sizes.size_label(int(value or 0))
