"""The HTTPS half of make bench-http: the island's site and nginx, the same certificate and TLS settings.

Both serve the same gzip bytes over HTTPS on one core each (the site: its own TLS port beside HTTP,
services/tls; nginx: ssl with the same protocols, cipher suites and EC P-256 certificate). Measured
with wrk on the other core: keep-alive requests per second, and new TLS handshakes per second
(one request per connection, `Connection: close`: every request a full handshake, as phones
opening the page anew).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from statistics import median

from services.tls.certificate import write_pair
from services.tls.context import TLS12_CIPHERS
from services.tls.small_ca import SmallCA

NAME = "krisinfo.kommun.example"


def certificate(folder: Path) -> tuple[Path, Path]:
    """A CA and a P-256 certificate for the crisis name, as Pebble issues; (roots, key-and-chain) files."""
    ca = SmallCA.make("bench CA", days=30)
    leaf = ca.leaf([NAME], days=30)
    roots = ca.write_root(folder / "roots.pem")
    pair = write_pair(folder / "tls", leaf.cert_pem, leaf.key_pem)
    pair.chmod(0o644)  # nginx's worker (www-data) reads it too
    return roots, pair


def site_config(folder: Path, roots: Path) -> Path:
    config = folder / "site-https.json"
    config.write_text(
        json.dumps({"tls": {"folder": "tls", "name": NAME, "roots": roots.name}}), encoding="utf-8"
    )
    return config


def nginx_ssl(pair: Path) -> str:  # the lines after `listen ... ssl`
    """nginx's TLS lines: the same certificate, protocols and cipher suites as services/tls/context.py."""
    return (
        f"    ssl_certificate {pair};\n"
        f"    ssl_certificate_key {pair};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n"
        f"    ssl_ciphers {TLS12_CIPHERS};\n"
        "    ssl_prefer_server_ciphers off;\n"  # OpenSSL's defaults otherwise, as the site's (session tickets on)
    )


def measure(
    wrk: Callable[..., tuple[float, float]],
    urls: dict[str, str],
    pids: dict[str, int],
    connections: int,
    seconds: int,
    rounds: int,
    cpu_cost: dict[str, list[float]],
) -> None:
    """Interleaved rounds; prints each, then the two summary lines (medians, and the median round ratio)."""
    keepalive: dict[str, list[float]] = {}
    handshakes: dict[str, list[float]] = {}
    for url in urls.values():
        wrk(url, 16, 2)  # warm-up
    for round_ in range(1, rounds + 1):
        for name, url in urls.items():
            rps, p99 = wrk(url, connections, seconds, pids[name])
            keepalive.setdefault(name, []).append(rps)
            new, _ = wrk(url, 16, seconds, None, ("Connection: close",))
            handshakes.setdefault(name, []).append(new)
            print(
                f"  round {round_} https {name:<6} c={connections:<4} {rps:>10.0f} req/s   p99 {p99:8.2f} ms   "
                f"new handshakes {new:8.0f}/s",
                flush=True,
            )
    ratios = [i / n for i, n in zip(keepalive["island"], keepalive["nginx"])]
    shake = [i / n for i, n in zip(handshakes["island"], handshakes["nginx"])]
    per_cpu = {name: median(cpu_cost[url]) for name, url in urls.items()}
    print(
        f"https crisis-page requests per CPU-second of the server (steadier on a busy machine): "
        f"island={per_cpu['island']:.0f} nginx={per_cpu['nginx']:.0f} ratio={per_cpu['island'] / per_cpu['nginx']:.2f}"
    )
    print(
        f"https new TLS handshakes per second: island={median(handshakes['island']):.0f} "
        f"nginx={median(handshakes['nginx']):.0f} ratio={median(shake):.2f}"
    )
    print(
        f"https crisis-page rps: island={median(keepalive['island']):.0f} nginx={median(keepalive['nginx']):.0f} "
        f"ratio={median(ratios):.2f}"
    )
