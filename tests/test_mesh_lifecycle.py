"""`make run`'s launcher: a stopped mesh leaves no process behind, and starts again in the same place."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from clearframe_mesh.launcher import Mesh, MeshOptions


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_stop_leaves_no_orphans_and_restart_reuses_the_workdir(tmp_path: Path) -> None:
    options = MeshOptions.free(tmp_path, extra_env={"CLEARFRAME_ADMIN_KEY": "cfk_lifecycle-admin-key-0123456789"})
    for attempt in range(2):
        second = Mesh(options)
        second.start()
        try:
            second.wait_ready(timeout=120)
            assert httpx.get(f"{second.gateway_url}/healthz", timeout=10).status_code == 200
            pids = [p.pid for p in second.processes.values()]
            assert second.triton.process is not None
            pids.append(second.triton.process.pid)
        finally:
            second.stop()
        assert not [pid for pid in pids if _alive(pid)], f"attempt {attempt}: processes outlived stop()"
