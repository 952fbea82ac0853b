"""Fixtures of the scanner's tests: ONE local Triton (the real server, production model configs) per session.

Analyzer tests run real inferences through it; the Triton stop/restart test starts its own instance so
that stopping it cannot disturb the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from clearframe_mesh.process import free_port
from clearframe_mesh.triton import LocalTriton, TritonPorts
from services.scanner.adapters.triton import TritonInference
from services.scanner.analyzers.base import Frame


def new_local_triton(workdir: Path) -> LocalTriton:
    """A LocalTriton on free ports (not started)."""
    return LocalTriton(TritonPorts(http=free_port(), grpc=free_port(), metrics=free_port()), workdir=workdir)


@pytest.fixture(scope="session")
def local_triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    server = new_local_triton(tmp_path_factory.mktemp("scanner-triton"))
    server.start()
    try:
        server.wait_ready(timeout=120.0)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def triton(local_triton: LocalTriton) -> AsyncIterator[TritonInference]:
    inference = TritonInference(local_triton.grpc_url, timeout_s=30.0)
    await inference.wait_ready(["nudenet", "opennsfw", "age"], timeout_s=30.0)
    yield inference
    await inference.close()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())  # type: ignore[no-untyped-call]  # skimage.data is untyped


@pytest.fixture(scope="session")
def coffee() -> Image.Image:
    return Image.fromarray(skdata.coffee())  # type: ignore[no-untyped-call]


def frames(*images: Image.Image) -> list[Frame]:
    return [Frame(image=image, index=i) for i, image in enumerate(images)]
