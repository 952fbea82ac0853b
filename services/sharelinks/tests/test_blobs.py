"""The BlobStore contract, run against the in-memory fake, the folder store and S3 (a real SeaweedFS), plus
what only one of them can get wrong: crashes mid-write on disk, outages and refused credentials on S3."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clearframe_runtime.errors import Unavailable
from services.sharelinks.adapters.blobs_fs import TEMP_MARK, FsBlobStore
from services.sharelinks.adapters.blobs_s3 import S3BlobStore
from services.sharelinks.ports import BlobInfo, BlobNotFound, BlobStore
from services.sharelinks.tests.fake_blobs import MemoryBlobStore
from services.sharelinks.tests.seaweedfs import S3Endpoint, SeaweedFSFailed, running_seaweedfs, weed_binary

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA = bytes(range(256)) * 4 + b"tail"  # 1028 bytes, every byte value, so offsets are visible


def s3_store(target: S3Endpoint, **overrides: object) -> S3BlobStore:
    options: dict[str, object] = {
        "endpoint": target.endpoint,
        "bucket": target.bucket,
        "access_key": target.access_key,
        "secret_key": target.secret_key,
        "region": target.region,
    }
    options.update(overrides)
    return S3BlobStore(**options)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "fs", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    if request.param == "fs":
        return FsBlobStore(tmp_path / "blobs")
    # One bucket for the session (in SeaweedFS each bucket takes volumes of its own), emptied per test.
    s3 = s3_store(request.getfixturevalue("seaweedfs"))
    async for info in s3.list():
        await s3.delete(info.key)
    return s3


async def listed(store: BlobStore, prefix: str = "") -> dict[str, BlobInfo]:
    return {info.key: info async for info in store.list(prefix)}


# The contract


async def test_put_then_get_returns_the_bytes_and_size(store: BlobStore) -> None:
    await store.put("originals/a1", DATA)
    assert await store.get("originals/a1") == DATA
    assert await store.size("originals/a1") == len(DATA)
    await store.check()


async def test_missing_blob_is_blob_not_found_and_has_no_size(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("originals/never")
    with pytest.raises(BlobNotFound):
        await store.get("originals/never", 5, 10)
    assert await store.size("originals/never") is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, DATA[:1]),
        (2, 5, DATA[2:6]),
        (1000, len(DATA) - 1, DATA[1000:]),  # ends at the last byte
        (1000, len(DATA) + 50, DATA[1000:]),  # an end past the last byte means the last byte
        (len(DATA) - 1, None, DATA[-1:]),
        (300, None, DATA[300:]),
        (0, None, DATA),
    ],
)
async def test_range_reads_are_inclusive(store: BlobStore, start: int, end: int | None, expected: bytes) -> None:
    await store.put("originals/r", DATA)
    assert await store.get("originals/r", start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [(len(DATA), None), (len(DATA), len(DATA) + 10), (len(DATA) + 100, None), (-1, None), (10, 9)],
)
async def test_unsatisfiable_ranges_are_value_errors(store: BlobStore, start: int, end: int | None) -> None:
    await store.put("originals/r", DATA)
    with pytest.raises(ValueError):
        await store.get("originals/r", start, end)


async def test_empty_blob_reads_whole_but_has_no_byte_ranges(store: BlobStore) -> None:
    await store.put("originals/empty", b"")
    assert await store.get("originals/empty") == b""
    assert await store.size("originals/empty") == 0
    with pytest.raises(ValueError):
        await store.get("originals/empty", 0, 0)


async def test_put_replaces_the_previous_blob(store: BlobStore) -> None:
    await store.put("renditions/a1/mp4", b"first version, longer")
    await store.put("renditions/a1/mp4", b"second")
    assert await store.get("renditions/a1/mp4") == b"second"
    assert await store.size("renditions/a1/mp4") == 6
    assert list(await listed(store)) == ["renditions/a1/mp4"]


async def test_delete_removes_and_is_idempotent(store: BlobStore) -> None:
    await store.put("originals/d", b"x")
    await store.put("originals/keep", b"y")
    await store.delete("originals/d")
    with pytest.raises(BlobNotFound):
        await store.get("originals/d")
    assert await store.size("originals/d") is None
    await store.delete("originals/d")
    await store.delete("originals/never-written")
    await store.delete("nothing/here/at/all")
    assert await store.get("originals/keep") == b"y"


async def test_list_filters_by_string_prefix(store: BlobStore) -> None:
    blobs = {
        "originals/a1": b"1",
        "originals/b2": b"22",
        "renditions/a1/mp4": b"333",
        "renditions/a1/poster": b"4444",
        "renditions/a10/mp4": b"55555",
    }
    for key, data in blobs.items():
        await store.put(key, data)

    everything = await listed(store)
    assert {key: info.size for key, info in everything.items()} == {key: len(data) for key, data in blobs.items()}
    for info in everything.values():
        assert info.modified.utcoffset() == timedelta(0)
        assert abs(info.modified - datetime.now(UTC)) < timedelta(hours=1)  # a real time, not a placeholder

    assert set(await listed(store, "originals/")) == {"originals/a1", "originals/b2"}
    assert set(await listed(store, "renditions/a1/")) == {"renditions/a1/mp4", "renditions/a1/poster"}
    assert set(await listed(store, "renditions/a1")) == {
        "renditions/a1/mp4",
        "renditions/a1/poster",
        "renditions/a10/mp4",
    }
    assert set(await listed(store, "orig")) == {"originals/a1", "originals/b2"}
    assert await listed(store, "nothing/") == {}


INVALID_KEYS = [
    "",
    "/absolute",
    "a//b",
    "a/./b",
    "../escape",
    "a/..",
    ".",
    "trailing/",
    "back\\slash",
    "space here",
    "ümlaut",
    "new\nline",
    "a" * 256,
    "a/" * 600 + "a",
]


@pytest.mark.parametrize("key", INVALID_KEYS)
async def test_invalid_keys_are_refused_everywhere(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, b"x")
    with pytest.raises(ValueError):
        await store.get(key)
    with pytest.raises(ValueError):
        await store.size(key)
    with pytest.raises(ValueError):
        await store.delete(key)
    assert await listed(store) == {}


async def test_large_blob_round_trips_whole_and_in_ranges(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    await store.put("originals/large", data)
    assert await store.size("originals/large") == len(data)
    assert await store.get("originals/large") == data
    assert await store.get("originals/large", 1_500_000, 1_500_099) == data[1_500_000:1_500_100]
    assert await store.get("originals/large", len(data) - 10) == data[-10:]


async def test_concurrent_puts_of_different_keys_all_land(store: BlobStore) -> None:
    payloads = {f"renditions/c{i}/webp": os.urandom(1000 + i) for i in range(24)}
    await asyncio.gather(*(store.put(key, data) for key, data in payloads.items()))
    assert {key: await store.get(key) for key in payloads} == payloads
    assert set(await listed(store, "renditions/")) == set(payloads)


async def test_memory_store_down_is_unavailable() -> None:
    store = MemoryBlobStore()
    await store.put("originals/a", b"x")
    store.down = True
    with pytest.raises(Unavailable):
        await store.get("originals/a")
    with pytest.raises(Unavailable):
        await store.check()


# The folder store


async def test_fs_blob_lies_at_its_key_path(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    await store.put("originals/ab12", DATA)
    assert (tmp_path / "originals" / "ab12").read_bytes() == DATA
    assert [p.name for p in (tmp_path / "originals").iterdir()] == ["ab12"]  # no temporary file left


async def test_fs_failed_write_leaves_nothing_visible_and_keeps_the_old_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsBlobStore(tmp_path)
    await store.put("originals/old", b"old bytes")
    written: list[int] = []

    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return real_fsync(fd)  # folders sync as usual; the blob's own file fails
        written.append(os.fstat(fd).st_size)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(Unavailable):
        await store.put("originals/new", DATA)
    with pytest.raises(Unavailable):
        await store.put("originals/old", DATA)
    monkeypatch.undo()

    assert written == [len(DATA), len(DATA)]  # the temporary files did hold the data when the write failed
    with pytest.raises(BlobNotFound):
        await store.get("originals/new")
    assert await store.get("originals/old") == b"old bytes"
    assert set(await listed(store)) == {"originals/old"}
    assert sorted(p.name for p in (tmp_path / "originals").iterdir()) == ["old"]


WRITER = textwrap.dedent(
    """
    import asyncio, os, stat, sys, time
    from pathlib import Path
    from services.sharelinks.adapters import blobs_fs

    real_fsync = os.fsync

    def stall(fd):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return real_fsync(fd)
        sys.stdout.write(f"{os.fstat(fd).st_size}\\n")
        sys.stdout.flush()
        time.sleep(120)

    os.fsync = stall
    asyncio.run(blobs_fs.FsBlobStore(Path(sys.argv[1])).put("originals/crash", b"z" * 100_000))
    """
)


@pytest.fixture
def killed_writer(tmp_path: Path) -> Iterator[Path]:
    """A process that wrote a blob's bytes and was SIGKILLed before the rename; yields the store's root."""
    root = tmp_path / "blobs"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "100000"  # all bytes are in the temporary file
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        yield root
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=30)
        if writer.stdout is not None:
            writer.stdout.close()


async def test_fs_writer_killed_mid_write_leaves_nothing_visible(killed_writer: Path) -> None:
    leftovers = [p for p in (killed_writer / "originals").iterdir()]
    assert len(leftovers) == 1 and TEMP_MARK in leftovers[0].name and leftovers[0].stat().st_size == 100_000

    now = datetime.now(UTC)
    store = FsBlobStore(killed_writer, clock=lambda: now)
    with pytest.raises(BlobNotFound):
        await store.get("originals/crash")
    assert await store.size("originals/crash") is None
    assert await listed(store) == {}

    assert await store.sweep_temp(3600) == 0  # a fresh temporary file may belong to a live writer
    assert leftovers[0].exists()
    later = FsBlobStore(killed_writer, clock=lambda: now + timedelta(hours=2))
    assert await later.sweep_temp(3600) == 1
    assert list((killed_writer / "originals").iterdir()) == []
    await later.put("originals/crash", b"retried")
    assert await later.get("originals/crash") == b"retried"


async def test_fs_key_cannot_be_both_blob_and_folder(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    await store.put("a", b"blob a")
    with pytest.raises(ValueError):
        await store.put("a/b", b"x")
    await store.put("c/d", b"blob c/d")
    with pytest.raises(ValueError):
        await store.put("c", b"x")
    with pytest.raises(BlobNotFound):
        await store.get("a/b")
    with pytest.raises(BlobNotFound):
        await store.get("c")
    assert await store.size("c") is None
    await store.delete("c")
    assert await store.get("a") == b"blob a"
    assert await store.get("c/d") == b"blob c/d"


async def test_fs_delete_removes_emptied_folders(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    await store.put("x/y/z", b"deep")
    await store.put("x/other", b"sibling")
    await store.delete("x/y/z")
    assert not (tmp_path / "x" / "y").exists()
    assert (tmp_path / "x" / "other").exists()
    await store.put("x/y", b"now a blob")
    assert await store.get("x/y") == b"now a blob"


async def test_fs_unusable_root_is_unavailable(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"")
    store = FsBlobStore(not_a_folder / "blobs")
    with pytest.raises(Unavailable, match="blob folder"):
        await store.check()
    with pytest.raises(Unavailable):
        await store.put("originals/a", b"x")


# The S3 store

OUTER_BOUND_S = 30.0  # only catches a hang: each store below is configured to give up after 1 s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def assert_unavailable(store: S3BlobStore, reason: str = "BLOB_STORE_UNAVAILABLE") -> list[Unavailable]:
    """Every operation raises Unavailable naming the endpoint and bucket, never the secret."""
    errors: list[Unavailable] = []

    async def drain() -> None:
        async for _ in store.list("originals/"):
            pass

    calls = [
        store.put("originals/a", b"x"),
        store.get("originals/a"),
        store.get("originals/a", 1, 2),
        store.size("originals/a"),
        store.delete("originals/a"),
        drain(),
        store.check(),
    ]
    for call in calls:
        with pytest.raises(Unavailable) as caught:
            await asyncio.wait_for(call, OUTER_BOUND_S)
        assert caught.value.reason == reason, caught.value.message
        assert store.endpoint in caught.value.message and store.bucket in caught.value.message
        assert "secret" not in caught.value.message
        errors.append(caught.value)
    return errors


async def test_s3_wrong_port_is_unavailable(seaweedfs: S3Endpoint) -> None:
    store = s3_store(seaweedfs, endpoint=f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    errors = await assert_unavailable(store)
    assert "cannot connect" in errors[0].message


async def test_s3_stopped_server_is_unavailable(tmp_path: Path) -> None:
    with running_seaweedfs(tmp_path / "short-lived") as target:
        store = s3_store(target, timeout_s=1.0)
        await store.put("originals/a", b"x")
        assert await store.get("originals/a") == b"x"
    await assert_unavailable(store)


async def test_s3_wrong_credentials_are_rejected_clearly(seaweedfs: S3Endpoint) -> None:
    store = s3_store(seaweedfs, secret_key="secret-but-wrong", timeout_s=1.0)
    errors = await assert_unavailable(store, reason="BLOB_STORE_CREDENTIALS_REJECTED")
    assert "refused the configured credentials" in errors[0].message


async def test_s3_missing_bucket_fails_the_health_check(seaweedfs: S3Endpoint) -> None:
    store = s3_store(seaweedfs, bucket="no-such-bucket-here", timeout_s=1.0)
    with pytest.raises(Unavailable, match="no such bucket"):
        await store.check()


@pytest.fixture
async def fake_http_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback HTTP server whose behaviour each test sets: ``behaviour[0]`` is "503" or "silent"."""
    behaviour: list[str] = ["503"]
    connections: set[asyncio.StreamWriter] = set()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if behaviour[0] == "silent":
                    await asyncio.sleep(3600)
                body = b"<Error><Code>ServiceUnavailable</Code></Error>"
                writer.write(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            connections.discard(writer)
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", behaviour
    finally:
        server.close()
        for writer in list(connections):
            writer.close()
        await server.wait_closed()


async def test_s3_server_errors_are_unavailable(fake_http_server: tuple[str, list[str]]) -> None:
    endpoint, _behaviour = fake_http_server
    store = S3BlobStore(endpoint=endpoint, bucket="b", access_key="k", secret_key="secret", timeout_s=1.0)
    errors = await assert_unavailable(store)
    assert "5xx" in errors[0].message


async def test_s3_silent_server_is_unavailable_after_the_timeout(fake_http_server: tuple[str, list[str]]) -> None:
    endpoint, behaviour = fake_http_server
    behaviour[0] = "silent"
    store = S3BlobStore(endpoint=endpoint, bucket="b", access_key="k", secret_key="secret", timeout_s=1.0)
    with pytest.raises(Unavailable, match="no answer within 1 s"):
        await asyncio.wait_for(store.get("originals/a"), OUTER_BOUND_S)
    with pytest.raises(Unavailable, match="no answer within 1 s"):
        await asyncio.wait_for(store.put("originals/a", b"x"), OUTER_BOUND_S)


def test_seaweedfs_binary_is_the_installed_one() -> None:
    binary = weed_binary()
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=True)
    assert "version" in version.stdout


def test_seaweedfs_that_cannot_start_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "weed"
    broken.write_text("#!/bin/sh\necho 'cannot open data folder' >&2\nexit 3\n")
    broken.chmod(0o755)
    with (
        pytest.raises(SeaweedFSFailed, match=r"exited with 3(.|\n)*cannot open data folder"),
        running_seaweedfs(tmp_path / "server", binary=broken),
    ):
        pytest.fail("a server that exited must not be yielded")
