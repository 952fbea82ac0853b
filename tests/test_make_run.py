"""`make run` as a person uses it: the launcher in the foreground, its console, Ctrl-C, and a hard kill.

The mesh runs on free ports (CLEARFRAME_MESH_FREE_PORTS=1) in a temporary folder, with no admin key
configured: the auth service must generate one and print it once on the console.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


class Launcher:
    def __init__(self, workdir: Path):
        env = {k: v for k, v in os.environ.items() if k not in ("CLEARFRAME_ADMIN_KEY", "DATABASE_URL")}
        env.update({"CLEARFRAME_MESH_FREE_PORTS": "1", "CLEARFRAME_MESH_DIR": str(workdir), "PYTHONUNBUFFERED": "1"})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clearframe_mesh"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "clearframe: ready." in line:
                self.ready.set()

    def close(self) -> None:
        """Kill the launcher if it still runs, reap it, and close its console pipe once read to the end."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> str:
        assert self.ready.wait(180), self.output
        time.sleep(0.2)  # the rest of the summary
        match = re.search(r"gateway \(REST \+ gRPC\)\s+(http://127\.0\.0\.1:\d+)", self.output)
        assert match, self.output
        return match.group(1)

    def children(self) -> list[int]:
        """Every process below the launcher (services, Envoy, Triton and its backend stubs)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            kids = [child for child, parent in parents.items() if parent == pid]
            found += kids
            frontier += kids
        return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    started = Launcher(tmp_path)
    try:
        yield started
    finally:
        started.close()


def test_make_run_serves_prints_the_admin_key_once_and_stops_cleanly(launcher: Launcher) -> None:
    gateway = launcher.wait_ready()
    assert httpx.get(f"{gateway}/healthz", timeout=10).status_code == 200
    keys = re.findall(r"^\s+(cfk_\S+)\s*$", launcher.output, re.MULTILINE)
    assert len(keys) == 1, launcher.output
    caller = httpx.get(f"{gateway}/v1/caller", headers={"X-API-Key": keys[0]}, timeout=10)
    assert caller.status_code == 200
    # The endpoint map: printed, machine-readable, and every metrics endpoint in it answers.
    printed = re.search(r"endpoint map \(JSON\)\s+(\S+)", launcher.output)
    assert printed, launcher.output
    endpoints = json.loads(Path(printed.group(1)).read_text())
    assert endpoints["gateway"]["http"] == gateway
    metrics = [s["metrics"] for s in endpoints["services"].values()]
    metrics += [endpoints["envoy_admin"]["metrics"], endpoints["triton"]["metrics"]]
    assert all(httpx.get(url, timeout=10).status_code == 200 for url in metrics), metrics
    # The local trace keeper holds the request's trace; one command shows it (Envoy exports every ~5 s).
    assert endpoints["traces"]["query"].startswith("http://127.0.0.1:"), endpoints
    command = [sys.executable, "-m", "clearframe_mesh.trace", caller.headers["x-trace-id"], "--mesh"]
    deadline, shown = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        shown = subprocess.run(
            [*command, str(printed.group(1)).removesuffix("/endpoints.json")], capture_output=True, text=True
        )
        if shown.returncode == 0 and "envoy " in shown.stdout and "auth " in shown.stdout:
            break
        time.sleep(1)
    assert shown is not None and shown.returncode == 0 and "envoy " in shown.stdout, shown
    assert "auth " in shown.stdout, shown.stdout
    children = launcher.children()
    assert len(children) >= 10  # 7 services, Envoy, Triton, the trace keeper
    launcher.process.send_signal(signal.SIGINT)
    assert launcher.process.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], launcher.output
    assert "clearframe: stopped." in launcher.output


def test_a_killed_launcher_leaves_no_orphans(launcher: Launcher) -> None:
    launcher.wait_ready()
    children = launcher.children()
    launcher.process.kill()
    launcher.process.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not [pid for pid in children if _alive(pid)]
