"""Charts for the staff dashboard, drawn on the server as inline SVG.

No script and no inline style (the Content-Security-Policy allows neither): colours are SVG
presentation attributes (``fill=``, ``stroke=``), and the text and axis colours also carry a
class that static/css/operations_dashboard.css points at the admin's theme colours (so the
charts follow its dark mode). Every chart has ``role="img"``, an ``aria-label`` and a
``<title>``; every point and bar has its own ``<title>`` (shown on hover) with its figure,
and the page puts a table of the same numbers beside each chart. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Each colour has a contrast of at least 4.5:1 against white and 4:1 against the admin's dark
# theme (#121212), so one palette serves both (tests/operations check it); neighbours differ
# in hue, and the lines also differ by dash and marker, never by colour alone.
PALETTE: tuple[str, ...] = (
    "#1f74d9",  # blue
    "#c55110",  # burnt orange
    "#0f873f",  # green
    "#b646b8",  # purple
    "#777906",  # olive
    "#da3059",  # crimson
    "#757575",  # grey
)
TEXT = "#333333"
QUIET = "#595959"
GRID = "#d9d9d9"
FONT = 12
WIDTH = 640


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str


def _number(value: float) -> str:
    """Figures as people write them: whole numbers without a decimal point."""
    if float(value).is_integer():
        return f"{int(value):d}"
    return f"{value:.1f}"


def nice_scale(top: float, *, ticks: int = 4) -> tuple[float, float]:
    """An axis end at or above ``top`` and a round step (1, 2 or 5 times a power of ten)
    that reaches it in about ``ticks`` steps."""
    top = max(float(top), 1.0)
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return math.ceil(top / step) * step, step


def _text(x: float, y: float, content: str, *, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text class="chart-text" x="{x:.1f}" y="{y:.1f}" fill="{TEXT}" font-size="{FONT}" '
        f'text-anchor="{anchor}"{extra}>{escape(content)}</text>'
    )


def _open(title: str, summary: str, height: float) -> list[str]:
    label = f"{title}. {summary}" if summary else title
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}">',
        f"<title>{escape(title)}</title>",
    ]


def _legend(series: Sequence[Series], *, y: float, markers: bool) -> tuple[list[str], float]:
    """Legend entries left to right, wrapping; returns the parts and the height used."""
    parts: list[str] = []
    x, row = 10.0, 0
    for index, item in enumerate(series):
        width = 28 + len(item.name) * FONT * 0.58
        if x + width > WIDTH - 10 and x > 10:
            x, row = 10.0, row + 1
        top = y + row * 18
        if markers:
            parts.append(
                f'<line x1="{x:.1f}" y1="{top + 6:.1f}" x2="{x + 18:.1f}" y2="{top + 6:.1f}" '
                f'stroke="{item.colour}" stroke-width="2.5"{_dash(index)}/>'
            )
            parts.append(_marker(index, x + 9, top + 6, item.colour, ""))
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="12" height="12" fill="{item.colour}"/>'
            )
        parts.append(_text(x + (24 if markers else 17), top + 10, item.name))
        x += width + 14
    return parts, (row + 1) * 18


def _dash(index: int) -> str:
    return "" if index == 0 else ' stroke-dasharray="6 3"'


def _marker(index: int, x: float, y: float, colour: str, title: str) -> str:
    hover = f"<title>{escape(title)}</title>" if title else ""
    if index % 2 == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">{hover}</circle>'
    return (
        f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}">'
        f"{hover}</rect>"
    )


def line_chart(
    *,
    title: str,
    summary: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    point_labels: Sequence[str] | None = None,
) -> SafeString:
    """Lines over a shared x axis (days), the y axis from zero; one marker per point with
    its value on hover. ``point_labels`` name each x position in full (hover text)."""
    point_labels = point_labels or x_labels
    legend, legend_height = _legend(series, y=8, markers=True)
    left, right, top = 44.0, 28.0, 14 + legend_height
    plot_height = 190.0
    height = top + plot_height + 34
    bottom = top + plot_height
    width = WIDTH - left - right
    highest, step = nice_scale(max((max(s.values, default=0) for s in series), default=0))
    count = len(x_labels)

    def x_at(index: int) -> float:
        return left + (width / 2 if count == 1 else width * index / (count - 1))

    def y_at(value: float) -> float:
        return bottom - plot_height * value / highest

    parts = _open(title, summary, height) + legend
    tick = 0.0
    while tick <= highest + 1e-9:
        y = y_at(tick)
        parts.append(
            f'<line class="chart-grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" '
            f'y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, _number(tick), anchor="end"))
        tick += step
    parts.append(
        f'<line class="chart-axis" x1="{left}" y1="{bottom}" x2="{WIDTH - right}" '
        f'y2="{bottom}" stroke="{QUIET}" stroke-width="1"/>'
    )
    every = max(1, math.ceil(count / 10))
    for index, label in enumerate(x_labels):
        # Counted back from the newest day, so the last (today) always has its label.
        if (count - 1 - index) % every == 0:
            x = x_at(index)
            parts.append(
                f'<line class="chart-axis" x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" '
                f'y2="{bottom + 4}" stroke="{QUIET}" stroke-width="1"/>'
            )
            parts.append(_text(x, bottom + 17, label, anchor="middle"))
    for index, item in enumerate(series):
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(item.values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{item.colour}" '
            f'stroke-width="2" stroke-linejoin="round"{_dash(index)}/>'
        )
        for i, value in enumerate(item.values):
            hover = f"{point_labels[i]}: {item.name}: {_number(value)}"
            parts.append(_marker(index, x_at(i), y_at(value), item.colour, hover))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def _wrap(label: str, *, chars: int, lines: int = 2) -> list[str]:
    """A category's name on at most ``lines`` lines of about ``chars`` characters."""
    words = label.split()
    out: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > chars:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: chars - 1].rstrip() + "…"
    return out


def bar_chart(
    *,
    title: str,
    summary: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[float], str] = _number,
    label_width: float = 230.0,
) -> SafeString:
    """Horizontal bars, one per category, stacked by series (a legend when there are
    several), the total at the bar's end, the value axis from zero."""
    legend: list[str] = []
    legend_height = 0.0
    if len(series) > 1:
        legend, legend_height = _legend(series, y=8, markers=False)
    row = 32.0
    left = label_width + 10
    right = 56.0
    top = 14 + legend_height
    plot_height = row * max(len(categories), 1)
    bottom = top + plot_height
    height = bottom + 30
    width = WIDTH - left - right
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    highest, step = nice_scale(max(totals, default=0))

    def x_at(value: float) -> float:
        return left + width * value / highest

    parts = _open(title, summary, height) + legend
    tick = 0.0
    while tick <= highest + 1e-9:
        x = x_at(tick)
        parts.append(
            f'<line class="chart-grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(x, bottom + 16, value_format(tick), anchor="middle"))
        tick += step
    chars = max(12, int(label_width / (FONT * 0.55)))
    for index, category in enumerate(categories):
        y = top + row * index
        lines = _wrap(category, chars=chars)
        first = y + row / 2 + 4 - (len(lines) - 1) * 6.5
        parts.append(f"<g><title>{escape(category)}</title>")
        for number, line in enumerate(lines):
            parts.append(_text(left - 8, first + number * 13, line, anchor="end"))
        parts.append("</g>")
        x = left
        for item in series:
            value = item.values[index]
            if value <= 0:
                continue
            bar = width * value / highest
            hover = f"{category}: {item.name}: {value_format(value)}"
            if len(series) == 1:
                hover = f"{category}: {value_format(value)}"
            parts.append(
                f'<rect class="chart-bar" x="{x:.1f}" y="{y + 6:.1f}" width="{bar:.1f}" '
                f'height="{row - 12:.1f}" '
                f'fill="{item.colour}" stroke="#ffffff" stroke-width="0.75">'
                f"<title>{escape(hover)}</title></rect>"
            )
            x += bar
        parts.append(_text(x + 5, y + row / 2 + 4, value_format(totals[index])))
    parts.append(
        f'<line class="chart-axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" '
        f'stroke="{QUIET}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()
