"""The shipped Prometheus configuration, rendered for a running mesh's ports.

``deploy/prometheus/prometheus.yml`` names `make run`'s default ports. A mesh on other ports (the tests,
``CLEARFRAME_MESH_FREE_PORTS=1``) writes its ports to ``<mesh dir>/endpoints.json``; this module rewrites
each scrape target from that map — nothing else of the shipped file changes:

    .venv/bin/python -m clearframe_mesh.prometheus var/mesh/endpoints.json > var/mesh/prometheus.yml
    prometheus --config.file=var/mesh/prometheus.yml --storage.tsdb.path=var/prometheus

The ``rule_files`` are made absolute (they are relative to the shipped file).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
SCRAPE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"


def _host_port(url: str) -> str:
    return urlsplit(url).netloc


def target_of(endpoints: dict[str, Any], job: str, service: str) -> str:
    """``host:port`` of one scrape target of the shipped configuration, from ``endpoints.json``."""
    if job == "clearframe":
        return _host_port(endpoints["services"][service]["metrics"])
    if job == "envoy":
        return _host_port(endpoints["envoy_admin"]["metrics"])
    if job == "triton":
        return _host_port(endpoints["triton"]["metrics"])
    raise KeyError(f"scrape job {job!r} has no entry in endpoints.json")


def render(
    endpoints: dict[str, Any],
    template: dict[str, Any] | None = None,
    *,
    scrape_interval: str | None = None,
) -> dict[str, Any]:
    """The shipped configuration with every target taken from ``endpoints``."""
    config = copy.deepcopy(template if template is not None else yaml.safe_load(SCRAPE_CONFIG.read_text()))
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            service = static.get("labels", {}).get("service", "")
            static["targets"] = [target_of(endpoints, job["job_name"], service)]
    config["rule_files"] = [str((PROMETHEUS_DIR / path).resolve()) for path in config.get("rule_files", [])]
    if scrape_interval:
        config["global"]["scrape_interval"] = scrape_interval
        config["global"]["evaluation_interval"] = scrape_interval
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoints", type=Path, help="the mesh's endpoints.json")
    parser.add_argument("--scrape-interval", default=None, help="override the global scrape/evaluation interval")
    args = parser.parse_args(argv)
    endpoints = json.loads(args.endpoints.read_text())
    sys.stdout.write(yaml.safe_dump(render(endpoints, scrape_interval=args.scrape_interval), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
