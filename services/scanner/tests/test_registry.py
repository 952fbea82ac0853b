"""AnalyzerRegistry: modules.cfg parsing, dependency order, broken plug-ins, hot reload without restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.scanner.adapters.triton import TritonInference
from services.scanner.analyzers.base import AnalysisContext
from services.scanner.analyzers.registry import DEFAULT_CONFIG, AnalyzerRegistry
from services.scanner.analyzers.settings import AnalyzerSettings

PLUGIN = '''
"""A test plug-in."""
from typing import ClassVar

from services.scanner.analyzers.base import FrameOutput

CLOSED = []


class Echo:
    scope: ClassVar[str] = "media"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.name = "echo"
        self.version = "{version}"

    async def analyze(self, frames, context):
        return [FrameOutput(extra={{"version": self.version}})]

    async def close(self) -> None:
        CLOSED.append(self.version)


def create(settings, triton):
    return Echo()
'''


@pytest.fixture
async def offline_triton() -> AsyncIterator[TritonInference]:
    # Creating analyzers never talks to Triton: a client to nowhere is enough here.
    inference = TritonInference("127.0.0.1:1")
    yield inference
    await inference.close()


def _write(path: Path, text: str) -> None:
    # Atomic replace, as editors and config management do; also guarantees a new mtime.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(textwrap.dedent(text))
    os.replace(tmp, path)


async def _until(condition: Callable[[], bool], within_s: float = 15.0) -> None:
    # Polling: the reload happens in the watcher task, which offers no hook to wait on (and needs none).
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_default_config_loads_the_builtins_in_dependency_order(offline_triton: TritonInference) -> None:
    registry = AnalyzerRegistry(DEFAULT_CONFIG, AnalyzerSettings(), offline_triton)
    await registry.load()
    try:
        names = [a.name for a in registry.analyzers()]
        assert sorted(names) == ["age", "nudenet", "opennsfw", "pdq", "text"]
        assert names.index("nudenet") < names.index("age")
        assert registry.failures() == {}
        assert registry.triton_models() == {"nudenet", "opennsfw", "age"}
    finally:
        await registry.close()


async def test_requires_come_first_and_broken_entries_are_reported(
    tmp_path: Path, offline_triton: TritonInference
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "syntax.py").write_text("def create(settings, triton):\n    return (\n")
    (plugins / "nocreate.py").write_text("VALUE = 1\n")
    (plugins / "raises.py").write_text("def create(settings, triton):\n    raise RuntimeError('no GPU today')\n")
    (plugins / "notanalyzer.py").write_text("def create(settings, triton):\n    return object()\n")
    (plugins / "echo.py").write_text(PLUGIN.format(version="1"))
    config = tmp_path / "modules.cfg"
    config.write_text(
        "# age before nudenet on purpose\nage\nnudenet   # detector\n\nplugins/syntax.py\nplugins/nocreate.py\n"
        "plugins/raises.py\nplugins/notanalyzer.py\nplugins/missing.py\nplugins/echo.py\nanime_tagger\nnsfw_classic\n"
    )
    registry = AnalyzerRegistry(config, AnalyzerSettings(), offline_triton)
    await registry.load()
    try:
        assert [a.name for a in registry.analyzers()] == ["nudenet", "age", "echo"]
        failures = registry.failures()
        assert set(failures) == {
            "syntax",
            "nocreate",
            "raises",
            "notanalyzer",
            "missing",
            "anime_tagger",
            "nsfw_classic",
        }
        assert "SyntaxError" in failures["syntax"]
        assert "no create" in failures["nocreate"]
        assert "RuntimeError: no GPU today" in failures["raises"]
        assert "Analyzer interface" in failures["notanalyzer"]
        assert "does not exist" in failures["missing"]
        assert "not configured" in failures["anime_tagger"]
        assert "unknown analyzer 'nsfw_classic'" in failures["nsfw_classic"]
    finally:
        await registry.close()


async def test_missing_requirement_is_a_failure(tmp_path: Path, offline_triton: TritonInference) -> None:
    config = tmp_path / "modules.cfg"
    config.write_text("age\ntext\n")
    registry = AnalyzerRegistry(config, AnalyzerSettings(), offline_triton)
    await registry.load()
    try:
        assert [a.name for a in registry.analyzers()] == ["text"]
        assert "requires 'nudenet'" in registry.failures()["age"]
    finally:
        await registry.close()


async def test_hot_reload_adds_edits_and_removes_a_plugin(tmp_path: Path, offline_triton: TritonInference) -> None:
    config = tmp_path / "modules.cfg"
    config.write_text("text\n")
    registry = AnalyzerRegistry(config, AnalyzerSettings(), offline_triton, close_grace_s=0.0, debounce_ms=100)
    await registry.load()
    watcher = asyncio.create_task(registry.watch())
    try:
        await asyncio.sleep(0.3)  # let the watcher start before the first change
        text_analyzer = registry.analyzers()[0]

        plugin = tmp_path / "echo.py"
        plugin.write_text(PLUGIN.format(version="1"))
        _write(config, "text\necho.py\n")
        await _until(lambda: [a.name for a in registry.analyzers()] == ["text", "echo"])
        echo = registry.analyzers()[1]
        (result,) = await echo.analyze([], AnalysisContext())
        assert result.extra == {"version": "1"}
        assert registry.analyzers()[0] is text_analyzer  # an unchanged builtin is kept, not rebuilt

        _write(plugin, PLUGIN.format(version="2"))  # editing the plug-in alone triggers a reload
        await _until(lambda: [a.version for a in registry.analyzers()] == [text_analyzer.version, "2"])
        (result,) = await registry.analyzers()[1].analyze([], AnalysisContext())
        assert result.extra == {"version": "2"}
        closed = _closed_of(echo)
        await _until(lambda: closed == ["1"])  # the replaced plug-in instance was closed

        _write(plugin, "def create(settings, triton):\n    raise ValueError('broken edit')\n")
        await _until(lambda: "echo" in registry.failures())
        assert [a.name for a in registry.analyzers()] == ["text"]
        assert "broken edit" in registry.failures()["echo"]

        _write(config, "# nothing but text\ntext\n")
        await _until(lambda: "echo" not in registry.failures())
        assert [a.name for a in registry.analyzers()] == ["text"]
    finally:
        await registry.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, 5.0)


def _closed_of(analyzer: object) -> list[str]:
    # The registry drops replaced plug-in modules from sys.modules; the method still knows its globals.
    return type(analyzer).close.__globals__["CLOSED"]  # type: ignore[attr-defined,no-any-return]
