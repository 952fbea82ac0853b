"""Evidence images on the local filesystem: /check's downscaled copies (the seed's image_storage module)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PIL import Image

#: Longest side of the kept copy, and its JPEG quality.
MAX_SIDE = 512
QUALITY = 85


class FilesystemImageStore:
    """:class:`services.scanner.ports.EvidenceImageStore` under one directory:
    ``images/<first two hex digits>/<sha256>.jpg``."""

    def __init__(self, root: Path):
        self.root = root

    async def keep(self, digest: str, image: Image.Image) -> str:
        relative = Path("images") / digest[:2] / f"{digest}.jpg"
        await asyncio.to_thread(self._write, self.root / relative, image)
        return str(relative)

    @staticmethod
    def _write(target: Path, image: Image.Image) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = image.copy()
        copy.thumbnail((MAX_SIDE, MAX_SIDE))
        copy.save(target, "JPEG", quality=QUALITY)
