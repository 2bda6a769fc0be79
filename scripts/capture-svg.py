#!/usr/bin/env python3
"""Renders a terminal capture (text, as `tmux capture-pane -p` prints it) as an SVG image: the
lines in a monospace font on a dark background, one text element per line, special characters
escaped. Used for the live view's picture in docs/monitoring.md:

  tmux new-session -d -x 100 -y 8 -s live "sluice run --monitor '...'; sleep 60"
  sleep 3; tmux capture-pane -p -t live > capture.txt
  scripts/capture-svg.py capture.txt docs/img/live-view.svg

Usage: capture-svg.py CAPTURE.txt OUT.svg [TITLE]
"""
import sys
from xml.sax.saxutils import escape


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.read().rstrip("\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    title = sys.argv[3] if len(sys.argv) == 4 else "sluice run --monitor"
    char_w, line_h, pad = 8.4, 18, 14
    cols = max((len(l) for l in lines), default=1)
    width = int(cols * char_w + 2 * pad)
    height = int(len(lines) * line_h + 2 * pad)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" rx="6" fill="#1e1e1e"/>',
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14" '
        'fill="#d4d4d4" xml:space="preserve">',
    ]
    for i, line in enumerate(lines):
        y = pad + (i + 1) * line_h - 4
        colour = ' fill="#f0c674"' if "<- bottleneck" in line else ""
        out.append(f'<text x="{pad}" y="{y}"{colour}>{escape(line)}</text>')
    out += ["</g>", "</svg>"]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
