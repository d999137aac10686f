"""make bench-http: the crisis page against nginx serving the same bytes, in the same run.

Each server is pinned to core 0 (the site: one uvicorn worker; nginx: one worker), wrk to
core 1. Both are measured as a phone asks: GET / with Accept-Encoding: gzip, so both send
the same compressed bytes (nginx from a .gz file with gzip_static) with the same headers.
These machines are shared and noisy: the ratio is what counts, never a bare number.

Prints per server and connection count the requests per second and p99 latency, then
    http crisis-page rps: island=N nginx=M ratio=R
and the same over HTTPS (bench/http/tls_bench.py), with new TLS handshakes per second:
    https new TLS handshakes per second: island=N nginx=M ratio=R
    https crisis-page rps: island=N nginx=M ratio=R
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

import tls_bench  # beside this file (the script's folder is on sys.path)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
ACCEPT = "Accept-Encoding: gzip"


def ensure_packages() -> None:
    """wrk and nginx from Debian's packages, installed when missing (needs root, as on CI)."""
    missing = [
        pkg
        for pkg, binary in (("wrk", "wrk"), ("nginx-light", "nginx"))
        if not shutil.which(binary) and not Path(f"/usr/sbin/{binary}").exists()
    ]
    if not missing:
        return
    print(f"installing {', '.join(missing)} from Debian's packages ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _unverified() -> ssl.SSLContext:
    """The bench's own certificate is not checked here (the tests check the real ones)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, insecure: bool = False) -> None:
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench-http: the server exited ({proc.returncode}) before it answered {url}")
        try:
            urllib.request.urlopen(url, timeout=1, context=_unverified() if insecure else None).read()
            return
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise SystemExit(f"bench-http: {url} did not answer within {timeout:g} s ({last})")


def fetch(url: str, insecure: bool = False) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=5, context=_unverified() if insecure else None) as response:
        return response.read(), {k.lower(): v for k, v in response.getheaders()}


def nginx_config(
    folder: Path, port: int, headers: dict[str, str], https: tuple[int, str] | None = None
) -> Path:
    # The same response headers as the site sends, so both move the same bytes.
    same = "".join(
        f'    add_header {name} "{headers[name]}" always;\n'
        for name in (
            "content-security-policy",
            "x-content-type-options",
            "referrer-policy",
            "x-frame-options",
            "content-language",
            "vary",
            "cache-control",
        )
        if name in headers
    )
    https_server = ""
    if https is not None:  # the same page over TLS (bench/http/tls_bench.py)
        https_server = (
            f"  server {{\n    listen {HOST}:{https[0]} ssl reuseport;\n{https[1]}    root {folder}/www;\n"
            f"    location = / {{\n      gzip_static on;\n      try_files /index.html =404;\n{same}    }}\n  }}"
        )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 65;
  etag on;
  client_body_temp_path {folder}/tmp; proxy_temp_path {folder}/tmp; fastcgi_temp_path {folder}/tmp;
  uwsgi_temp_path {folder}/tmp; scgi_temp_path {folder}/tmp;
  types {{ text/html html; }}
  charset utf-8;
  server {{
    listen {HOST}:{port} reuseport;
    root {folder}/www;
    location = / {{
      gzip_static on;
      try_files /index.html =404;
{same}    }}
  }}
{https_server}
}}
""",
        encoding="utf-8",
    )
    return conf


def _family(pid: int) -> list[int]:
    """The process and its children (nginx's worker)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server has used: what it costs, whatever the neighbours do."""
    total = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wrk_match(pattern: str, out: str) -> re.Match[str]:
    """The first match of ``pattern`` in wrk's output, which always prints these figures."""
    found = re.search(pattern, out)
    if found is None:
        raise SystemExit(f"bench-http: no {pattern!r} in wrk's output:\n{out}")
    return found


def wrk(
    url: str, connections: int, seconds: int, server_pid: int | None = None, headers: tuple[str, ...] = ()
) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from wrk pinned to core 1."""
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-H",
            ACCEPT,
            *(arg for header in headers for arg in ("-H", header)),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(_wrk_match(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if re.search(r"Non-2xx or 3xx responses", out) or re.search(r"Socket errors: connect [1-9]", out):
        print(out, file=sys.stderr)
        raise SystemExit("bench-http: errors during the run (see wrk's output above)")
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:  # read errors or timeouts on a loaded machine: counted and shown, not hidden
        print(f"    wrk: socket errors {errors.group(1)}", flush=True)
    value, unit = _wrk_match(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if server_pid:
        requests = int(_wrk_match(r"(\d+) requests in", out).group(1))
        CPU_COST.setdefault(url, []).append(requests / max(cpu_seconds(server_pid) - cpu_before, 1e-9))
    return rps, p99


CPU_COST: dict[str, list[float]] = {}
# wrk is one client address with hundreds of connections; the site's per-address cap is for phones.
BENCH_CLIENT_LIMIT = (
    "--connections-per-address",
    "1024",
)  # url -> requests per CPU-second of the server, per run


def start_site(folder: Path, port: int, *arguments: str, log: str = "site.log") -> subprocess.Popen[bytes]:
    """The crisis site on ``port`` (one uvicorn worker) pinned to core 0, as nginx is; wrk runs on core 1."""
    return subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "services.crisis_site",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        + list(arguments),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(folder / log).open("wb"),
    )


def http_rounds(site_url: str, nginx_url: str, pids: dict[str, int], args: argparse.Namespace) -> None:
    """The plain-HTTP half: interleaved rounds at two connection counts, then the summary lines."""
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    # Interleaved, so a noisy neighbour hurts both alike; a short warm-up first.
    for _name, url in (("island", site_url), ("nginx", nginx_url)):
        wrk(url, 16, 2)
    for round_ in range(1, args.rounds + 1):
        for connections in (args.connections, 256):
            for name, url in (("island", site_url), ("nginx", nginx_url)):
                rps, p99 = wrk(url, connections, args.seconds, pids[name])
                runs.setdefault((name, connections), []).append((rps, p99))
                print(
                    f"  round {round_} {name:<6} c={connections:<4} {rps:>10.0f} req/s   p99 {p99:8.2f} ms",
                    flush=True,
                )
    # Medians over the rounds, and the median of each round's own ratio: one lucky or unlucky
    # round (a neighbour's burst) cannot make the result.
    c = args.connections
    ratios = [i[0] / n[0] for i, n in zip(runs[("island", c)], runs[("nginx", c)])]
    island = median(r for r, _ in runs[("island", c)])
    ng = median(r for r, _ in runs[("nginx", c)])
    per_cpu = {name: median(CPU_COST[url]) for name, url in (("island", site_url), ("nginx", nginx_url))}
    print(f"median of {args.rounds} rounds of {args.seconds} s")
    print(
        f"http crisis-page requests per CPU-second of the server (steadier on a busy machine): "
        f"island={per_cpu['island']:.0f} nginx={per_cpu['nginx']:.0f} "
        f"ratio={per_cpu['island'] / per_cpu['nginx']:.2f}"
    )
    print(
        f"http crisis-page p99 at 256 connections: island={median(p for _, p in runs[('island', 256)]):.2f}ms "
        f"nginx={median(p for _, p in runs[('nginx', 256)]):.2f}ms"
    )
    print(f"http crisis-page rps: island={island:.0f} nginx={ng:.0f} ratio={median(ratios):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run (default 10)")
    parser.add_argument(
        "--connections", type=int, default=64, help="connections for the rps figure (default 64)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; figures are medians (default 3)"
    )
    parser.add_argument(
        "--https-only", action="store_true", help="skip the plain-HTTP rounds (measure the HTTPS half alone)"
    )
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("bench-http: needs two cores (server on one, wrk on the other)")
    ensure_packages()
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    folder = Path(tempfile.mkdtemp(prefix="bench-http-"))
    folder.chmod(0o755)  # nginx workers run as www-data when started by root
    procs: list[subprocess.Popen[bytes]] = []
    try:
        site_port, nginx_port = free_port(), free_port()
        tls_site_http, tls_site_port, nginx_tls_port = free_port(), free_port(), free_port()
        roots, pair = tls_bench.certificate(folder)
        site = start_site(folder, site_port, *BENCH_CLIENT_LIMIT)
        procs.append(site)
        site_url = f"http://{HOST}:{site_port}/"
        wait_up(site_url + "healthz", site)
        gz, headers = fetch(site_url)
        assert headers.get("content-encoding") == "gzip", "the site should answer gzip"
        import gzip as _gzip

        (folder / "www").mkdir()
        (folder / "tmp").mkdir()
        (folder / "www" / "index.html").write_bytes(_gzip.decompress(gz))
        (folder / "www" / "index.html.gz").write_bytes(gz)
        conf = nginx_config(folder, nginx_port, headers, (nginx_tls_port, tls_bench.nginx_ssl(pair)))
        nginx = subprocess.Popen(
            ["taskset", "-c", "0", nginx_bin, "-c", str(conf), "-p", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(nginx)
        nginx_url = f"http://{HOST}:{nginx_port}/"
        try:
            wait_up(nginx_url, nginx)
        except SystemExit:
            print((folder / "error.log").read_text(errors="replace"), file=sys.stderr)
            raise
        ngz, nheaders = fetch(nginx_url)
        assert ngz == gz and nheaders.get("content-encoding") == "gzip", "nginx must send the very same bytes"
        print(
            f"page: {len(gz)} bytes gzip ({len(_gzip.decompress(gz))} plain); "
            f"site headers {len(str(headers))} chars, nginx {len(str(nheaders))}"
        )

        if not args.https_only:
            http_rounds(site_url, nginx_url, {"island": site.pid, "nginx": nginx.pid}, args)

        # HTTPS: the island's TLS port (its own process, the same site) against nginx's, same certificate.
        tls_site = start_site(
            folder,
            tls_site_http,
            "--https-port",
            str(tls_site_port),
            "--config",
            str(tls_bench.site_config(folder, roots)),
            *BENCH_CLIENT_LIMIT,
            log="site-https.log",
        )
        procs.append(tls_site)
        wait_up(f"http://{HOST}:{tls_site_http}/healthz", tls_site)
        urls = {"island": f"https://{HOST}:{tls_site_port}/", "nginx": f"https://{HOST}:{nginx_tls_port}/"}
        for name, url in urls.items():
            wait_up(url, tls_site if name == "island" else nginx, insecure=True)
            body, _ = fetch(url, insecure=True)
            assert body == gz, f"{name} must send the same bytes over HTTPS"
        tls_bench.measure(
            wrk,
            urls,
            {"island": tls_site.pid, "nginx": nginx.pid},
            args.connections,
            args.seconds,
            args.rounds,
            CPU_COST,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
