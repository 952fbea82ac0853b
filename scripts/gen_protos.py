"""Regenerate everything derived from protos/: Python stubs, the gateway's descriptor set and the
production Envoy configuration (deploy/envoy/envoy.json), which lists the contracts' services.

One command (`make protos`) runs this; `--check` regenerates into a scratch directory and fails when
the committed files differ, which is how the tests catch stale generated code.

The googleapis protos our contracts import (google/api, google/rpc) are not committed: they are copied
from the installed googleapis-common-protos package into build/protodeps, a module of the buf workspace.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import google.api.annotations_pb2
import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEPS = ROOT / "build" / "protodeps"
PY_OUT = ROOT / "gen" / "python"
DESCRIPTOR = ROOT / "services" / "gateway" / "generated" / "clearframe.binpb"
ENVOY_PRODUCTION = ROOT / "deploy" / "envoy" / "envoy.json"
BUF = ROOT / "node_modules" / ".bin" / "buf"
GOOGLE_FILES = (
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/httpbody.proto",
    "google/api/field_behavior.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/rpc/code.proto",
)


def copy_googleapis() -> None:
    """Copy the googleapis protos we import out of the installed package."""
    site_root = Path(google.api.annotations_pb2.__file__).resolve().parent.parent.parent
    if DEPS.exists():
        shutil.rmtree(DEPS)
    for name in GOOGLE_FILES:
        target = DEPS / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(site_root / name, target)


def run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")


def render_production_envoy(descriptor: Path, out: Path) -> None:
    """deploy/envoy/envoy.json lists the contracts' services, so it is regenerated with them."""
    from services.gateway.envoy_config import kubernetes_layout, write

    write(kubernetes_layout(descriptor), out)


def generate(py_out: Path, descriptor: Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    py_out.mkdir(parents=True, exist_ok=True)
    wkt = Path(grpc_tools.__file__).resolve().parent / "_proto"
    run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{DEPS}",
            f"-I{wkt}",
            f"--python_out={py_out}",
            f"--pyi_out={py_out}",
            f"--grpc_python_out={py_out}",
            *sources,
        ]
    )
    for package_dir in [p for p in py_out.rglob("*") if p.is_dir()]:
        (package_dir / "__init__.py").touch()
    descriptor.parent.mkdir(parents=True, exist_ok=True)
    run([str(BUF), "build", "--as-file-descriptor-set", "-o", str(descriptor)])


def tree_differs(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right)
    problems = [f"{left / n}" for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for name in cmp.common_dirs:
        problems += tree_differs(left / name, right / name)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed generated files are stale")
    args = parser.parse_args()
    copy_googleapis()
    run([str(BUF), "lint"])
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            py_out, descriptor = Path(scratch) / "python", Path(scratch) / "clearframe.binpb"
            generate(py_out, descriptor)
            envoy = Path(scratch) / "envoy.json"
            render_production_envoy(descriptor, envoy)
            stale = tree_differs(PY_OUT, py_out) if PY_OUT.exists() else [str(PY_OUT)]
            if not DESCRIPTOR.exists() or descriptor.read_bytes() != DESCRIPTOR.read_bytes():
                stale.append(str(DESCRIPTOR))
            if not ENVOY_PRODUCTION.exists() or envoy.read_bytes() != ENVOY_PRODUCTION.read_bytes():
                stale.append(str(ENVOY_PRODUCTION))
            if stale:
                raise SystemExit("generated files are stale, run `make protos`:\n  " + "\n  ".join(stale))
        return
    if PY_OUT.exists():
        shutil.rmtree(PY_OUT)
    generate(PY_OUT, DESCRIPTOR)
    render_production_envoy(DESCRIPTOR, ENVOY_PRODUCTION)


if __name__ == "__main__":
    main()
