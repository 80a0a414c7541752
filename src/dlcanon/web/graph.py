"""A paper's neighbourhood as inline SVG, drawn on the server: builds-on on the left, led-to on the right.

No JavaScript and no layout library: three columns of boxes joined by straight lines. Every text is escaped
here (the SVG is inserted into the page as markup), and styling lives in guide.css (classes only, so the
Content-Security-Policy needs no inline styles).
"""

from __future__ import annotations

from markupsafe import Markup, escape

BOX_W, BOX_H, ROW, GAP, PAD = 260, 30, 38, 90, 6
MAX_PER_SIDE = 12
LABEL_CHARS = 34


def _label(entry, chars: int) -> str:
    text = f"{entry.id} · {entry.title}"
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _column(ids: list[str]) -> list[str | int]:
    """The ids drawn in a column; a trailing int counts the ones left out."""
    if len(ids) <= MAX_PER_SIDE:
        return list(ids)
    return [*ids[: MAX_PER_SIDE - 1], len(ids) - (MAX_PER_SIDE - 1)]


def _box(x: float, y: float, item, cat, css: str, chars: int = LABEL_CHARS) -> str:
    if isinstance(item, int):
        return (f'<g class="g-more"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5"/>'
                f'<text x="{x + 10}" y="{y + BOX_H / 2 + 4}">+ {item} more (listed above)</text></g>')
    e = cat.papers[item]
    return (f'<a href="/paper/{escape(e.id)}" class="{css}"><title>{escape(e.title)} ({e.year})</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5"/>'
            f'<text x="{x + 10}" y="{y + BOX_H / 2 + 4}">{escape(_label(e, chars))}</text></a>')


def neighbourhood_svg(cat, paper_id: str) -> Markup:
    left, right = _column(list(cat.papers[paper_id].builds_on)), _column(cat.led_to(paper_id))
    rows = max(len(left), len(right), 1)
    height = rows * ROW + 2 * PAD
    xs = (PAD, PAD + BOX_W + GAP, PAD + 2 * (BOX_W + GAP))
    width = xs[2] + BOX_W + PAD
    top = lambda n, i: PAD + (rows - n) * ROW / 2 + i * ROW      # centre a column of n boxes vertically
    cy = height / 2
    parts = [f'<svg class="lineage" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="builds on and led to">']
    for i in range(len(left)):                                    # edges first, so boxes sit on top of them
        y = top(len(left), i) + BOX_H / 2
        parts.append(f'<line class="g-edge" x1="{xs[0] + BOX_W}" y1="{y}" x2="{xs[1]}" y2="{cy}"/>')
    for i in range(len(right)):
        y = top(len(right), i) + BOX_H / 2
        parts.append(f'<line class="g-edge" x1="{xs[1] + BOX_W}" y1="{cy}" x2="{xs[2]}" y2="{y}"/>')
    for items, x in ((left, xs[0]), (right, xs[2])):
        parts += [_box(x, top(len(items), i), item, cat, "g-node") for i, item in enumerate(items)]
    parts.append(_box(xs[1], cy - BOX_H / 2, paper_id, cat, "g-node g-centre", LABEL_CHARS - 5))  # bold text
    if not left:
        parts.append(f'<text class="g-none" x="{xs[0] + 10}" y="{cy + 4}">builds on nothing listed</text>')
    if not right:
        parts.append(f'<text class="g-none" x="{xs[2] + 10}" y="{cy + 4}">nothing listed builds on it</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
