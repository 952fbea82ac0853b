"""Small statistics shared by the benchmarks, and the CPU meter that says where a measurement's CPU went."""

from __future__ import annotations

import os
import time
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used meanwhile by named processes (the service, Envoy, the database's backends, this
    client), so that the report says where an event's cost goes on the shared cores."""

    def __init__(self, pids: dict[str, list[int]]):
        self._pids = pids
        self._client = time.process_time()
        self._start = {name: sum(cpu_s(pid) for pid in group) for name, group in pids.items()}

    def used(self) -> dict[str, float]:
        used = {name: sum(cpu_s(pid) for pid in group) - self._start[name] for name, group in self._pids.items()}
        return used | {"client": time.process_time() - self._client}
