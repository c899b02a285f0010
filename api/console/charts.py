"""Charts of the console as server-rendered SVG (no chart library): a line chart of a measure over time per
department, and a heat map of counts by district × category. Pure functions: data in, markup out."""

from __future__ import annotations

from html import escape

COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a")


def line_chart(series: dict[str, list[float | None]], labels: list[str], width: int = 640, height: int = 220,
               top: float = 1.0) -> str:
    """One line per series over the x labels (values 0–``top``; None leaves a gap), with a legend."""
    left, right, upper, lower = 40, 10, 10, 40
    w, h = width - left - right, height - upper - lower
    step = w / max(1, len(labels) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 20 * len(series)}" '
             f'class="chart" role="img" aria-label="趋势图">']
    for i in range(5):  # the grid and the y axis
        y = upper + h - h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{top * i / 4:.2f}</text>')
    for i, label in enumerate(labels):
        parts.append(f'<text x="{left + i * step:.1f}" y="{upper + h + 16}" text-anchor="middle" font-size="11">'
                     f'{escape(label)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [(left + i * step, upper + h - h * (v / top)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
        y = height + 20 * n
        parts.append(f'<rect x="{left}" y="{y - 9}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{left + 18}" y="{y - 4}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def heat_map(rows: list[tuple[str, str]], cols: list[tuple[str, str]], counts: dict[tuple[str, str], int],
             cell: int = 44) -> str:
    """A grid of (row, col) counts: the darker, the more (``rows``/``cols``: code and label)."""
    left, upper = 110, 90
    peak = max(counts.values(), default=0) or 1
    width, height = left + cell * len(cols) + 10, upper + cell * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'class="chart heat" '
             f'role="img" aria-label="热力图">']
    for j, (_, label) in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.1f}" y="{upper - 6}" font-size="11" transform="rotate(-45 {x:.1f} {upper - 6})"'
                     f'>{escape(label[:8])}</text>')
    for i, (row, label) in enumerate(rows):
        y = upper + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end" font-size="12">'
                     f'{escape(label)}</text>')
        for j, (col, _) in enumerate(cols):
            n = counts.get((row, col), 0)
            shade = 0.08 + 0.92 * n / peak if n else 0.0
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="rgba(209,36,47,{shade:.2f})" stroke="#d0d7de"><title>{escape(label)} × '
                         f'{escape(cols[j][1])}：{n}</title></rect>')
            if n:
                parts.append(f'<text x="{left + j * cell + cell / 2 - 1:.1f}" y="{y + cell / 2 + 4:.1f}" '
                             f'text-anchor="middle" font-size="11">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)
