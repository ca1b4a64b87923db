"""Inline SVG charts: the report must be one offline file, so charts are drawn here, not by a JS library.

Every text placed in an SVG goes through :func:`markupsafe.escape`; the returned :class:`Markup` is then
safe to embed in autoescaped HTML. Charts are deliberately plain (axes, ticks, one or two series): they
must survive printing in greyscale, so series differ by dash pattern as well as colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _nice_ticks(value: float, *, integer: bool = False, most: int = 6) -> list[float]:
    """Ticks from 0 past ``value`` at 1, 2 or 5 times a power of ten, at most ``most`` intervals: an axis of
    11 steps reads 0, 2, 4 … 12, never 0, 2.75, 5.5 rounded to 0, 3, 6, 8, 11."""
    value = max(value, 1.0 if integer else 1e-9)
    exponent = math.floor(math.log10(value / most))
    for power in (exponent, exponent + 1, exponent + 2):
        for mult in (1.0, 2.0, 5.0):
            step = mult * 10.0**power
            if integer and step < 1:
                continue
            count = math.ceil(value / step - 1e-9)
            if count <= most:
                return [round(step * i, 10) for i in range(count + 1)]
    return [0.0, value]  # pragma: no cover - the loop always finds a step


def epsilon_chart(steps: Sequence[int], series: Sequence[tuple[str, Sequence[float]]],
                  limit: float | None, *, width: int = 640, height: int = 260) -> Markup:
    """ε after each optimizer step, one polyline per accountant, and the allowed ε as a red rule."""
    left, right, top, bottom = 56, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs]
    y_ticks = _nice_ticks(max([*values, limit or 0.0, 1e-9]) * 1.02)
    x_ticks = _nice_ticks(max([*steps, 1]), integer=True)
    y_max, x_max = y_ticks[-1], x_ticks[-1]

    def x(step: float) -> float:
        return left + plot_w * (step / x_max)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="Privacy loss epsilon over training steps">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>',
    ]
    for tick in y_ticks:
        ty = y(tick)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{_fmt(tick)}</text>')
    for step in x_ticks:
        tx = x(step)
        parts.append(f'<text x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">'
                     f'{step:.0f}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
                 'optimizer step</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">ε spent</text>')
    if limit is not None:
        ly = y(limit)
        parts.append(f'<line x1="{left}" y1="{ly:.1f}" x2="{left + plot_w}" y2="{ly:.1f}" stroke="#b00020" '
                     'stroke-width="1.5" stroke-dasharray="6 3"/>')
        parts.append(f'<text x="{left + plot_w - 4}" y="{ly - 5:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#b00020">allowed ε = {escape(_fmt(limit))}</text>')
    styles = [("#1f4e79", ""), ("#d08000", ' stroke-dasharray="3 2"')]
    for index, (name, vs) in enumerate(series):
        colour, dash = styles[index % len(styles)]
        points = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in zip(steps, vs, strict=False))
        if points:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>')
        ky = top + 14 + 16 * index
        parts.append(f'<line x1="{left + 10}" y1="{ky - 4}" x2="{left + 34}" y2="{ky - 4}" stroke="{colour}" '
                     f'stroke-width="2"{dash}/>')
        parts.append(f'<text x="{left + 40}" y="{ky}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(rows: Sequence[tuple[str, int]], *, label: str, width: int = 640, bar: int = 18) -> Markup:
    """Horizontal bars (entity or category counts), largest first, with the count printed at the end."""
    rows = sorted(rows, key=lambda r: (-r[1], r[0]))[:20]
    left, right, top = 190, 70, 8
    height = top * 2 + max(len(rows), 1) * (bar + 6)
    plot_w = width - left - right
    top_value = max([c for _, c in rows] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{escape(label)}">']
    if not rows:
        parts.append(f'<text x="{left}" y="{top + bar}" font-size="12">nothing detected</text>')
    for index, (name, count) in enumerate(rows):
        by = top + index * (bar + 6)
        bw = max(plot_w * count / top_value, 1.0)
        parts.append(f'<text x="{left - 8}" y="{by + bar - 5}" text-anchor="end" font-size="11">'
                     f'{escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{by}" width="{bw:.1f}" height="{bar}" fill="#1f4e79"/>')
        parts.append(f'<text x="{left + bw + 6:.1f}" y="{by + bar - 5}" font-size="11">{count:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def roc_chart(curve: Sequence[tuple[float, float]], negatives: int, *, width: int = 420,
              height: int = 300) -> Markup:
    """The canaries' ROC curve with the false-positive rate on a log axis (where an attacker who must not be
    wrong works), and the chance line; FPRs below the smallest one the non-members can show are clamped."""
    left, right, top, bottom = 56, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    low = 10.0 ** math.floor(math.log10(1.0 / max(negatives, 1))) if negatives else 1e-3
    low = min(low, 1e-2)
    decades = round(-math.log10(low))

    def x(fpr: float) -> float:
        return left + plot_w * (math.log10(max(fpr, low)) - math.log10(low)) / decades

    def y(tpr: float) -> float:
        return top + plot_h * (1 - tpr)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="ROC curve of membership inference on the canaries">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>']
    for k in range(decades + 1):
        fpr = low * 10**k
        tx = x(fpr)
        parts.append(f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{top + plot_h}" stroke="#e3e3e3"/>')
        label = f"{fpr:g}" if fpr >= 0.01 else f"1e{round(math.log10(fpr))}"
        parts.append(f'<text x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">{label}</text>')
    for tpr in (0.0, 0.25, 0.5, 0.75, 1.0):
        ty = y(tpr)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{_fmt(tpr)}</text>')
    chance = " ".join(f"{x(f):.1f},{y(f):.1f}" for f in (low * 10 ** (k / 4) for k in range(4 * decades + 1)))
    parts.append(f'<polyline fill="none" stroke="#888" stroke-width="1.2" stroke-dasharray="4 3" points="{chance}"/>')
    points = " ".join(f"{x(f):.1f},{y(t):.1f}" for f, t in curve if f > 0 or t > 0)
    if points:
        parts.append(f'<polyline fill="none" stroke="#1f4e79" stroke-width="2" points="{points}"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
                 'false-positive rate (log scale)</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">true-positive rate</text>')
    parts.append(f'<text x="{left + plot_w - 6}" y="{y(0.06):.1f}" text-anchor="end" font-size="11" fill="#666">'
                 'dashed: chance</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram_chart(counts: Sequence[int], *, label: str, x_label: str, width: int = 420,
                    height: int = 240) -> Markup:
    """Vertical bars, one per bin ``0, 1, 2 …`` (exposure in whole bits), with each count above its bar."""
    left, right, top, bottom = 44, 12, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    bins = max(len(counts), 1)
    y_ticks = _nice_ticks(max([*counts, 1]), integer=True, most=4)
    slot = plot_w / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{escape(label)}">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>']
    for tick in y_ticks:
        ty = top + plot_h * (1 - tick / y_ticks[-1])
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{tick:.0f}</text>')
    for index, count in enumerate(counts):
        bh = plot_h * count / y_ticks[-1]
        bx = left + index * slot + slot * 0.15
        parts.append(f'<rect x="{bx:.1f}" y="{top + plot_h - bh:.1f}" width="{slot * 0.7:.1f}" height="{bh:.1f}" '
                     'fill="#1f4e79"/>')
        if slot >= 14:
            parts.append(f'<text x="{left + (index + 0.5) * slot:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                         f'font-size="10">{index}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="12">'
                 f'{escape(x_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
