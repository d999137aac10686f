"""What the editors' page says about the island's HTTPS: off (and why), or expiring within three weeks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.tls.certificate import CertificateInfo

WARN_DAYS_LEFT = 21

_current: str | None = None  # one site per process; set by the TLS keeper (services/crisis_site/tls.py)


def editor_notice() -> str | None:
    return _current


def update(name: str, info: CertificateInfo | None, reason: str, renewal_error: str) -> None:
    global _current
    _current = notice(name, info, reason, renewal_error)


def notice(name: str, info: CertificateInfo | None, reason: str, renewal_error: str) -> str | None:
    if info is None:
        return f"HTTPS är avstängt på ön: {reason}. Krissidan nås bara över HTTP."
    days = info.days_left()
    if days > WARN_DAYS_LEFT:
        return None
    text = (
        f"Öns certifikat för {name} går ut om {days} dagar ({info.not_after:%Y-%m-%d}). "
        "Telefoner som har besökt kommunens webbplats når sedan inte krissidan över HTTPS. "
        "Förnya det medan förbindelsen fungerar (island site install-cert)."
    )
    return text + (f" Förnyelsen misslyckas just nu: {renewal_error}" if renewal_error else "")
