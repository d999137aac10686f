"""The probe agent (and the containers' cheap DNS healthcheck) against a real resolver on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from island_test_helpers import island_net

from island.compose.health import dns_ok


def _wait_until_healthy(check: Callable[[], None], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except OSError:  # not listening yet (a refusal or a timeout)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_probe_agent_answers_each_request_by_id_from_a_real_resolver(tmp_path: Path) -> None:
    host = f"{island_net(7)}.3.1"
    port = _free_port(host)
    config = tmp_path / "resolver.json"
    config.write_text(
        json.dumps(
            {
                "listen": {"host": host, "port": port},
                "local_zones": [{"name": "krisinfo.kommun.example", "data": "@ 30 IN A 10.9.3.2\n"}],
            }
        )
    )
    resolver = subprocess.Popen(
        [sys.executable, "-m", "services.resolver", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The containers' cheap healthcheck, on the same resolver: it answers once the resolver is up.
        _wait_until_healthy(lambda: dns_ok("krisinfo.kommun.example", host, port), within=15.0)
        with pytest.raises(RuntimeError, match="rcode 3, 0 answers"):
            dns_ok("nope.krisinfo.kommun.example", host, port)
        requests = [
            {
                "id": 1,
                "probe": {"name": "crisis-dns", "dns": {"name": "{crisis_name}", "address": "10.9.3.2"}},
            },
            {
                "id": 2,
                "probe": {
                    "name": "other",
                    "dns": {"name": "nope.krisinfo.kommun.example", "rcode": "NXDOMAIN"},
                },
            },
            {
                "id": 3,
                "probe": {
                    "name": "page",
                    "http": {"url": f"http://{island_net(7)}.3.9:{port}/"},
                    "timeout": 2,
                },
            },
        ]
        agent = subprocess.run(
            [
                sys.executable,
                "-m",
                "island.compose.probe_agent",
                "--resolver",
                host,
                "--dns-port",
                str(port),
                "--crisis-name",
                "krisinfo.kommun.example",
            ],
            input="".join(json.dumps(r) + "\n" for r in requests),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        resolver.terminate()
        resolver.wait(10)
    lines = [json.loads(line) for line in agent.stdout.splitlines()]
    assert lines[0] == {"ready": True}, agent.stderr
    answers = {a["id"]: a for a in lines[1:]}
    assert set(answers) == {1, 2, 3}, agent.stderr
    assert answers[1]["status"] == "ok" and "10.9.3.2" in answers[1]["detail"]
    assert answers[2]["status"] == "ok" and answers[2]["detail"].startswith("NXDOMAIN")
    assert answers[3]["status"] == "fail" and "HTTP" in answers[3]["detail"], "nothing listens there"
    assert all(a["latency_ms"] > 0 for a in answers.values())
