"""The console's charts, drawn on the server as inline SVG (no script, no chart library,
nothing fetched): a person looks at them, and the numbers are in the tables beside them
for reading and for the tests.

Colours come from classes in ``static/console.css`` (the console's Content-Security-Policy
allows no inline style); every bar carries a ``<title>`` with its number, which a
browser shows on hover and a screen reader reads.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["hourly_bars", "horizontal_bars", "nice_ceiling"]


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def nice_ceiling(top: int) -> int:
    """The smallest of 1, 2, 5 × 10^k at least ``top`` (at least 1): the axis's end."""
    if top <= 1:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def _ticks(most: int) -> int:
    """How many equal steps divide the axis 0..``most`` (a :func:`nice_ceiling`) into
    whole numbers: each value up to 5, else 5 steps (4 for a 2 × 10^k)."""
    if most <= 5:
        return most
    return 4 if str(most).startswith("2") else 5


def hourly_bars(chart_id: str, title: str, series: Sequence[tuple[str, str, Sequence[int]]]) -> str:
    """Bars per hour of a day: ``series`` is (class, label, 24 values) each, drawn side by
    side within each hour, on one axis from 0 to a round number at least the highest."""
    width, height, left, bottom, top = 760, 220, 44, 28, 26
    plot_w, plot_h = width - left - 10, height - top - bottom
    most = nice_ceiling(max((max(v, default=0) for _, _, v in series), default=0))
    slot = plot_w / 24
    bar = (slot - 4) / max(1, len(series))
    parts = [
        f'<svg class="chart" id="{_esc(chart_id)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{_esc(chart_id)}-t">'
        f'<title id="{_esc(chart_id)}-t">{_esc(title)}</title>'
    ]
    ticks = _ticks(most)
    for i in range(ticks + 1):  # grid lines and their values, whole numbers
        value = most * i // ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    for hour in range(24):
        x0 = left + hour * slot + 2
        for k, (cls, label, values) in enumerate(series):
            n = values[hour]
            h = plot_h * n / most
            parts.append(
                f'<rect class="bar {_esc(cls)}" x="{x0 + k * bar:.1f}" '
                f'y="{top + plot_h - h:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}">'
                f"<title>{hour:02d}:00–{hour + 1:02d}:00 {_esc(label)}: {n}</title></rect>"
            )
        if hour % 3 == 0:
            parts.append(
                f'<text class="axis" x="{x0 + (slot - 4) / 2:.1f}" y="{height - 10}" '
                f'text-anchor="middle">{hour:02d}</text>'
            )
    x = left
    for cls, label, values in series:  # the legend, with each series' total
        parts.append(
            f'<rect class="bar {_esc(cls)}" x="{x}" y="6" width="12" height="12"/>'
            f'<text class="legend" x="{x + 16}" y="16">{_esc(label)} ({sum(values)})</text>'
        )
        x += 24 + 8 * (len(label) + len(str(sum(values))) + 3)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(chart_id: str, title: str, items: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar per (label, value), in the order given."""
    row, left, width = 24, 260, 760
    height = row * len(items) + 30
    most = nice_ceiling(max((v for _, v in items), default=0))
    plot_w = width - left - 60
    parts = [
        f'<svg class="chart" id="{_esc(chart_id)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{_esc(chart_id)}-t">'
        f'<title id="{_esc(chart_id)}-t">{_esc(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        w = plot_w * value / most
        shown = label if len(label) <= 40 else label[:39] + "…"
        parts.append(
            f'<text class="axis" x="{left - 8}" y="{y + 15}" text-anchor="end">{_esc(shown)}</text>'
            f'<rect class="bar refused" x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="16">'
            f"<title>{_esc(label)}: {value}</title></rect>"
            f'<text class="legend" x="{left + w + 6:.1f}" y="{y + 15}">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
