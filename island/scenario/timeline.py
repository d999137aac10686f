"""The timeline picture: every operation as a dot (latency over time, coloured by outcome), one row per
probe, with the fault windows shaded. Hand-written SVG, so it needs nothing beyond the standard library."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from .journal import Journal

_COLOURS = {"ok": "#1a7f37", "fail": "#cf222e", "unknown": "#9a6700"}
_ROW_HEIGHT = 90
_LEFT, _RIGHT, _TOP = 150, 20, 40
_WIDTH = 900


def fault_windows(journal: Journal) -> list[tuple[float, float, str, bool]]:
    """(start, end, what, inner) for each fault, and for each down-time of a flapping link (inner)."""
    end_of_run = max([e.t for e in journal.events] + [o.t for o in journal.operations] + [0.0])
    windows: list[tuple[float, float, str, bool]] = []
    open_: dict[tuple[str, str], float] = {}
    for event in journal.events:
        key = ("flap" if event.kind.startswith("flap") else "fault", event.detail)
        if event.kind in ("fault-on", "flap-down"):
            open_[key] = event.t
        elif event.kind in ("fault-off", "rollback", "flap-up") and key in open_:
            windows.append((open_.pop(key), event.t, event.detail, key[0] == "flap"))
    windows += [(t, end_of_run, what, kind == "flap") for (kind, what), t in open_.items()]
    return windows


def render_svg(journal: Journal) -> str:
    probes = list(dict.fromkeys(o.probe for o in journal.operations))
    duration = max([e.t for e in journal.events] + [o.t for o in journal.operations] + [1.0])
    plot_width = _WIDTH - _LEFT - _RIGHT
    height = _TOP + _ROW_HEIGHT * max(1, len(probes)) + 40

    def x(t: float) -> float:
        return _LEFT + plot_width * t / duration

    # Latency on a log scale from 0.1 ms to the largest seen, so a 1 ms answer and a 2 s one both show.
    top_ms = max([o.latency_ms for o in journal.operations] + [10.0])

    def y(row: int, ms: float) -> float:
        share = math.log10(max(ms, 0.1) / 0.1) / math.log10(top_ms / 0.1)
        return _TOP + row * _ROW_HEIGHT + (_ROW_HEIGHT - 12) * (1 - share) + 4

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(journal.title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{_LEFT}" y="20" font-size="14" font-weight="bold">{escape(journal.title)}</text>',
    ]
    for start, end, what, inner in fault_windows(journal):
        fill = "#cf222e" if inner else "#fd8c73"
        opacity = 0.25 if inner else 0.15
        out.append(
            f'<rect class="fault" x="{x(start):.1f}" y="{_TOP}" width="{max(1.0, x(end) - x(start)):.1f}" '
            f'height="{_ROW_HEIGHT * len(probes)}" fill="{fill}" fill-opacity="{opacity}">'
            f"<title>{escape(what)}: {start:.1f}–{end:.1f} s</title></rect>"
        )
    for event in journal.events:
        if event.kind == "phase-start":
            out.append(
                f'<line x1="{x(event.t):.1f}" x2="{x(event.t):.1f}" y1="{_TOP - 8}" '
                f'y2="{_TOP + _ROW_HEIGHT * len(probes)}" stroke="#57606a" stroke-dasharray="3,3"/>'
            )
            out.append(
                f'<text x="{x(event.t) + 3:.1f}" y="{_TOP - 10}" fill="#57606a">{escape(event.phase)}</text>'
            )
    for row, probe in enumerate(probes):
        base = _TOP + row * _ROW_HEIGHT
        out.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{base + _ROW_HEIGHT}" '
            f'y2="{base + _ROW_HEIGHT}" stroke="#d0d7de"/>'
        )
        out.append(f'<text x="8" y="{base + _ROW_HEIGHT / 2:.0f}">{escape(probe)}</text>')
        out.append(
            f'<text x="{_LEFT - 6}" y="{y(row, top_ms) + 4:.0f}" text-anchor="end" fill="#57606a" '
            f'font-size="10">{top_ms:.0f} ms</text>'
        )
        out.append(
            f'<text x="{_LEFT - 6}" y="{y(row, 0.1):.0f}" text-anchor="end" fill="#57606a" '
            f'font-size="10">0.1 ms</text>'
        )
        for op in journal.operations:
            if op.probe == probe:
                out.append(
                    f'<circle class="{op.status}" cx="{x(op.t):.1f}" cy="{y(row, op.latency_ms):.1f}" r="2.2" '
                    f'fill="{_COLOURS[op.status]}"/>'
                )
    axis = _TOP + _ROW_HEIGHT * len(probes) + 16
    for second in range(0, int(duration) + 1, max(1, int(duration) // 10 or 1)):
        out.append(
            f'<text x="{x(second):.1f}" y="{axis}" text-anchor="middle" fill="#57606a">{second} s</text>'
        )
    legend = "  ".join(f"{name}" for name in _COLOURS)
    out.append(
        f'<text x="{_LEFT}" y="{axis + 18}" fill="#57606a">dots: {legend} (green, red, amber); '
        "shaded: fault on (darker: flapping link down)</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
