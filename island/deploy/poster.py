"""``island deploy poster SITE``: a printable A4 poster per trygghetspunkt (SVG).

Swedish first, large: join the Wi-Fi, open the crisis name, or scan the code. Below it the same
instruction in one line in each of the crisis page's other languages. The QR code is made by
segno (a maintained, dependency-free QR encoder); this module only lays it out.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import segno

from .site import SiteFile, Trygghetspunkt

# A4 in millimetres; the SVG's user unit is one millimetre.
_WIDTH, _HEIGHT = 210, 297
_QR_SIZE = 90

# One line each, the crisis page's other languages (fi, ar and so need a native speaker's review,
# like the site's own texts). {ssid} and {name} are filled in.
_OTHER_LANGUAGES: tuple[tuple[str, str, str], ...] = (
    ("sv-x-lattlast", "ltr", "Lättläst: Koppla mobilen till wifi {ssid}. Skriv {name}."),
    ("en", "ltr", "English: Join the Wi-Fi {ssid} and open {name}."),
    ("fi", "ltr", "Suomi: Yhdistä wifiin {ssid} ja avaa {name}."),
    ("ar", "rtl", "العربية: اتصل بشبكة الواي فاي {ssid} وافتح {name}"),
    ("so", "ltr", "Soomaali: Ku xidh Wi-Fi-ga {ssid} oo fur {name}."),
)


def _qr_path(data: str, x: float, y: float, size: float) -> str:
    code = segno.make(data, error="m")
    rows = [list(row) for row in code.matrix_iter(border=4)]
    module = size / len(rows)
    parts = []
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                parts.append(
                    f"M{x + start * module:.3f} {y + r * module:.3f}h{(c - start) * module:.3f}v{module:.3f}h{-(c - start) * module:.3f}z"
                )
            else:
                c += 1
    return f'<path d="{"".join(parts)}" fill="#000"/>'


def _text(
    x: float,
    y: float,
    size: float,
    text: str,
    *,
    weight: str = "normal",
    anchor: str = "middle",
    lang: str = "sv",
    direction: str = "ltr",
) -> str:
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" text-anchor="{anchor}" '
        f'xml:lang="{lang}" direction="{direction}">{escape(text)}</text>'
    )


def crisis_url(site: SiteFile) -> str:
    # With a certificate the island serves HTTPS; without one, plain HTTP is what works.
    scheme = "http" if site.certificate.source == "none" else "https"
    return f"{scheme}://{site.crisis_name}/"


def poster_svg(site: SiteFile, place: Trygghetspunkt) -> str:
    mid = _WIDTH / 2
    ssid = place.wifi.ssid
    facilities = [
        label
        for label, present in (
            ("Dricksvatten", place.water),
            ("Värme", place.heat),
            ("Toaletter", place.toilets),
            ("Laddning av mobil", place.charging),
            ("Telefon för 112", place.phone_112),
        )
        if present
    ]
    body = [
        f'<rect x="0" y="0" width="{_WIDTH}" height="28" fill="#0b3d91"/>',
        f'<g fill="#fff">{_text(mid, 18, 10, "KRISINFORMATION", weight="bold")}</g>',
        _text(mid, 40, 8, site.municipality.name, weight="bold"),
        _text(mid, 52, 7, f"Trygghetspunkt: {place.name}"),
        _text(mid, 70, 9, "1. Anslut till wifi", weight="bold"),
        _text(mid, 82, 11, ssid, weight="bold"),
        _text(mid, 94, 6, "Öppet nät, inget lösenord."),
        _text(mid, 110, 9, "2. Öppna", weight="bold"),
        _text(mid, 122, 10, site.crisis_name, weight="bold"),
        _text(mid, 133, 6, "eller skanna koden. Fungerar även när internet inte gör det."),
        _qr_path(crisis_url(site), mid - _QR_SIZE / 2, 138, _QR_SIZE),
        _text(mid, 238, 5.5, f"{place.address} · {place.opening_hours}"),
        _text(mid, 246, 5.5, " · ".join(facilities) if facilities else ""),
        _text(mid, 254, 5.5, "Vid nödläge ring 112. Information: 113 13. Lyssna på Sveriges Radio P4."),
    ]
    y = 264.0
    for lang, direction, line in _OTHER_LANGUAGES:
        filled = line.format(ssid=ssid, name=site.crisis_name)
        body.append(_text(mid, y, 4.6, filled, lang=lang, direction=direction))
        y += 6
    content = "\n  ".join(part for part in body if part)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}mm" height="{_HEIGHT}mm" viewBox="0 0 {_WIDTH} {_HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" xml:lang="sv">
  <title>Krisinformation – {escape(place.name)}</title>
  <rect width="{_WIDTH}" height="{_HEIGHT}" fill="#fff"/>
  {content}
</svg>
"""


def write_posters(site: SiteFile, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for place in site.trygghetspunkter:
        path = out / f"poster-{place.id}.svg"
        path.write_text(poster_svg(site, place), encoding="utf-8")
        written.append(path)
    return written
