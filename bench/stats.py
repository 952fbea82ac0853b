"""Small statistics shared by the benchmarks, and the CPU meter that says where a measurement's CPU went."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
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
    client), so that the report says where an event's cost goes on the shared cores. A group given as a
    callable is looked up again at the end: a process started meanwhile (a pool's new connection) counts
    whole."""

    def __init__(self, pids: Mapping[str, list[int] | Callable[[], list[int]]]):
        self._find = {name: group if callable(group) else (lambda group=group: group) for name, group in pids.items()}
        self._client = time.process_time()
        self._start = {name: {pid: cpu_s(pid) for pid in find()} for name, find in self._find.items()}

    def used(self) -> dict[str, float]:
        used = {}
        for name, find in self._find.items():
            start = self._start[name]
            now = {pid: cpu_s(pid) for pid in set(find()) | set(start)}
            # A process gone meanwhile reads 0: what it used is unknown, not negative.
            used[name] = sum(max(0.0, at - start.get(pid, 0.0)) for pid, at in now.items())
        return used | {"client": time.process_time() - self._client}
