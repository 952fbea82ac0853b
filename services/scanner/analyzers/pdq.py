"""PDQ perceptual hash per frame, matched against hash banks; plus an imagehash pHash for near-duplicates.

Hash banks live in one folder (``AnalyzerSettings.hash_bank_dir``), one bank per file:

    <bank>.txt        one hash per line: ``<64 hex digits>[,<id>]``; ``#`` comments and blank lines ignored;
                      the id defaults to the line number. Hex is PDQ's canonical form (ThreatExchange's,
                      ``Hash256::format``), so exported industry lists load as they are.
    <bank>.disabled   marker file (any content): the bank is kept on disk but not matched.

The folder is re-read when any ``*.txt`` / ``*.disabled`` file appears, disappears or changes (mtime and
size are checked on every call; stat-ing a folder is far cheaper than hashing a frame). Malformed lines
are skipped and logged with their line number; a bank never fails the scan.

Both hashes are computed on one copy of the frame at most ``HASH_MAX_SIDE`` (512) pixels on its long
side; smaller frames are hashed as they are.

Output per frame:
    extra  {"pdq": hex, "quality": 0..100 (PDQ says hashes under 50 are unreliable), "phash": hex,
            "matches": [{"bank", "id", "hash", "distance", "threshold"}] (the entry's own hash; distance <=
            threshold, closest first)}
    scores {"pdq_match": 1.0 if any bank matched else 0.0, "pdq_quality": quality / 100}
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import imagehash
import numpy as np
import numpy.typing as npt
import pdqhash
import structlog
from PIL import Image

from services.scanner.analyzers.base import AnalysisContext, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

log = structlog.get_logger(__name__)

HASH_BITS = 256
_HEX_DIGITS = HASH_BITS // 4
#: At most this many matches are reported per frame (closest first): enough for review, bounded output.
MAX_MATCHES = 20
#: Both hashes are computed on a copy at most this many pixels on its long side. PDQ reduces the image to
#: 64x64 and pHash to 32x32 anyway; hashing the full resolution cost 30-140 ms a frame for the same bits
#: within a few (a 2048-px copy of a bank photo still matches it, see the tests).
HASH_MAX_SIDE = 512
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def pdq_hash(rgb: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ hash (canonical 64-digit hex) and quality (0..100) of an RGB uint8 image."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    # pdqhash returns bit 255 first, which is the most significant bit of the canonical hex.
    return bytes(np.packbits(np.asarray(bits, dtype=np.uint8))).hex(), int(quality)


def hashing_copy(image: Image.Image, max_side: int = HASH_MAX_SIDE) -> Image.Image:
    """``image`` in RGB at most ``max_side`` pixels on its long side (itself when already that small)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    if max(width, height) <= max_side:
        return rgb
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging (BOX) is what both hashes' own reductions approximate; reducing_gap makes it cheap.
    return rgb.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def hamming(hash_bytes: npt.NDArray[np.uint8], bank: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Hamming distances between one (32,) uint8 hash and an (M, 32) bank."""
    distances: npt.NDArray[np.uint64] = _POPCOUNT[np.bitwise_xor(bank, hash_bytes)].sum(axis=1)
    return distances


@dataclass(frozen=True)
class HashBank:
    name: str
    hashes: npt.NDArray[np.uint8]  # (M, 32)
    ids: tuple[str, ...]
    enabled: bool


def load_bank(path: Path, enabled: bool) -> HashBank:
    """Parse one ``<bank>.txt`` file (malformed lines are skipped and logged)."""
    rows: list[bytes] = []
    ids: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        hex_hash, _, ident = (part.strip() for part in line.partition(","))
        try:
            if len(hex_hash) != _HEX_DIGITS:
                raise ValueError(f"{len(hex_hash)} hex digits, expected {_HEX_DIGITS}")
            rows.append(bytes.fromhex(hex_hash))
        except ValueError as exc:
            log.warning("pdq.bank_line_invalid", bank=path.stem, file=str(path), line=number, error=str(exc))
            continue
        ids.append(ident or str(number))
    hashes = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, HASH_BITS // 8)
    return HashBank(name=path.stem, hashes=hashes, ids=tuple(ids), enabled=enabled)


class HashBanks:
    """The banks of one folder, reloaded when its files change."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._banks: tuple[HashBank, ...] = ()
        self._lock = threading.Lock()  # analyze() hashes in worker threads

    def _current_signature(self, folder: Path) -> tuple[tuple[str, int, int], ...]:
        if not folder.is_dir():
            return ()
        entries = []
        for path in sorted(folder.iterdir()):
            if path.suffix in (".txt", ".disabled") and path.is_file():
                stat = path.stat()
                entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(entries)

    def banks(self) -> tuple[HashBank, ...]:
        """All banks (enabled or not), re-read if anything in the folder changed."""
        folder = self._folder
        if folder is None:
            return ()
        with self._lock:
            signature = self._current_signature(folder)
            if signature != self._signature:
                banks = []
                for name, _, _ in signature:
                    path = folder / name
                    if path.suffix == ".txt":
                        enabled = not path.with_suffix(".disabled").exists()
                        banks.append(load_bank(path, enabled))
                self._banks = tuple(banks)
                self._signature = signature
                log.info("pdq.banks_loaded", banks={b.name: (len(b.ids), b.enabled) for b in banks})
            return self._banks

    def match(self, hex_hash: str, threshold: int) -> list[dict[str, Any]]:
        """Entries of enabled banks within ``threshold`` bits of the hash, closest first."""
        probe = np.frombuffer(bytes.fromhex(hex_hash), dtype=np.uint8)
        matches: list[dict[str, Any]] = []
        for bank in self.banks():
            if not bank.enabled or not len(bank.ids):
                continue
            distances = hamming(probe, bank.hashes)
            for index in np.flatnonzero(distances <= threshold):
                matches.append(
                    {
                        "bank": bank.name,
                        "id": bank.ids[index],
                        "hash": bank.hashes[index].tobytes().hex(),
                        "distance": int(distances[index]),
                        "threshold": threshold,
                    }
                )
        matches.sort(key=lambda match: (match["distance"], match["bank"], match["id"]))
        return matches[:MAX_MATCHES]


class PdqAnalyzer:
    """PDQ hash + bank matches + pHash per frame (no model, no Triton)."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: AnalyzerSettings, name: str = "pdq") -> None:
        self.name = name
        self.version = f"pdqhash-{pdqhash.__version__}+imagehash-phash"
        self.models: tuple[str, ...] = ()
        self._threshold = settings.pdq_match_threshold
        self.banks = HashBanks(settings.hash_bank_dir)

    def _one(self, frame: Frame) -> FrameOutput:
        image = hashing_copy(frame.image)  # resized once, shared by both hashes
        hex_hash, quality = pdq_hash(frame.rgb() if image is frame.image else np.asarray(image))
        matches = self.banks.match(hex_hash, self._threshold)
        return FrameOutput(
            scores={"pdq_match": 1.0 if matches else 0.0, "pdq_quality": quality / 100},
            extra={"pdq": hex_hash, "quality": quality, "phash": str(imagehash.phash(image)), "matches": matches},
        )

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        # CPU work (hashing, matching): off the event loop so other scans keep moving.
        return await asyncio.to_thread(lambda: [self._one(frame) for frame in frames])

    async def close(self) -> None:
        """Nothing to release."""


def create(settings: AnalyzerSettings, triton: Inference) -> PdqAnalyzer:
    return PdqAnalyzer(settings)
