"""The replicator as its own process (`python -m services.region`), as the island runs it: set up
from a region file, three nats-servers, three replicators; state over HTTP and in a file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from region_helpers import free_port, plan

from services.crisis_site.registry import Registry
from services.region.plan import to_dict
from services.region.server import NatsServer

pytestmark = pytest.mark.e2e
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def metrics_at(address: str) -> str:
    with _LOCAL.open(f"http://{address}/metrics", timeout=5) as answer:
        return answer.read().decode()


def wait_for(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)
    return value


def test_replicator_processes_carry_a_registration_and_report_their_state(tmp_path):
    region = plan(["a", "b"])
    region_file = tmp_path / "region.yaml"
    region_file.write_text(yaml.safe_dump(to_dict(region)))
    base = [sys.executable, "-m", "services.region"]
    written = subprocess.run(
        [*base, "setup", str(region_file), str(tmp_path)], check=True, capture_output=True, text=True
    )
    assert len(written.stdout.split()) == 3
    monitors = {"hub-n1": region.hub[0], "a": region.island("a"), "b": region.island("b")}
    servers = [
        NatsServer(
            tmp_path / name / "nats.conf", tmp_path / name / "nats.log", f"{n.host}:{n.monitor_port}"
        ).start()
        for name, n in monitors.items()
    ]
    metrics_b = f"{region.island('b').host}:{free_port(region.island('b').host)}"
    processes = []
    try:
        for place in ("hub", "a", "b"):
            extra = ["--metrics", metrics_b] if place == "b" else []
            processes.append(
                subprocess.Popen(
                    [
                        *base,
                        "replicator",
                        str(region_file),
                        str(tmp_path),
                        "--place",
                        place,
                        "--registry",
                        str(tmp_path / f"{place}.sqlite"),
                        "--state-file",
                        str(tmp_path / f"{place}.state.json"),
                        *extra,
                    ]
                )
            )

        def metrics() -> str:
            return metrics_at(metrics_b)

        a, b = Registry(tmp_path / "a.sqlite"), Registry(tmp_path / "b.sqlite")
        a.register("Åsa Öberg", "0701234567", ["safe"])
        wait_for(lambda: b.lookup("Åsa Öberg", "070-123 45 67"))
        state = wait_for(
            lambda: (
                (tmp_path / "a.state.json").exists() and json.loads((tmp_path / "a.state.json").read_text())
            )
        )
        assert state["place"] == "a"
        wait_for(lambda: json.loads((tmp_path / "a.state.json").read_text())["connected"])
        text = wait_for(
            lambda: 'region_events_applied_total{place="b",kind="note"} 1' in metrics() and metrics()
        )
        assert 'region_connected{place="b"} 1' in text
    finally:
        for process in processes:
            process.terminate()
        codes = []
        for process in processes:
            try:
                codes.append(process.wait(timeout=15))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        for server in servers:
            server.stop()
    assert codes == [0, 0, 0]  # a clean stop on SIGTERM
