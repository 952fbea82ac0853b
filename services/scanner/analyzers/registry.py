"""The analyzers a scanner runs, read from ``modules.cfg`` and hot-reloaded when it or a plug-in changes.

Seed 000's ModuleManager, done properly. The config file lists one analyzer per line (``#`` starts a
comment):

- a builtin name (:data:`BUILTINS`: nudenet, opennsfw, age, pdq, text, anime_tagger), or
- a path to a plug-in ``.py`` file, relative to the config file's folder (or absolute), whose module
  defines ``create(settings: AnalyzerSettings, triton: Inference) -> Analyzer``.

Every plug-in is imported from its file under a new, unique module name at every load, so an edited
plug-in really runs its new code (``importlib.reload`` would keep stale state and sys.modules entries).
A broken entry (unknown name, unreadable file, syntax or import error, no ``create``, ``create`` raising,
an object that is not an :class:`~services.scanner.analyzers.base.Analyzer`, a duplicate name, a missing
or circular ``requires``) never stops the others: it is skipped and reported in :meth:`failures`, keyed by
the name its results would have had, so the scan result can carry its ``error`` entry as the seed did.

:meth:`watch` follows the config file and the plug-in files (their folders, so atomic renames by editors
are seen) with ``watchfiles`` and reloads on change. Analyzers that a reload replaces or removes are
closed after ``close_grace_s`` (scans that already hold them finish first); builtins that stay listed are
kept as they are, plug-ins are always re-created.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog
from watchfiles import Change, awatch

from services.scanner.analyzers.base import Analyzer
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

log = structlog.get_logger(__name__)

#: Builtin analyzer names → their modules (each defines ``create(settings, triton)``).
BUILTINS: dict[str, str] = {
    name: f"services.scanner.analyzers.{name}" for name in ("nudenet", "opennsfw", "age", "pdq", "text", "anime_tagger")
}
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "modules.cfg"
_plugin_counter = itertools.count(1)

Factory = Callable[[AnalyzerSettings, Inference], Any]


@dataclass(frozen=True)
class ConfigEntry:
    """One line of modules.cfg."""

    line: int
    text: str
    #: The plug-in file, or None for a builtin.
    path: Path | None

    @property
    def key(self) -> str:
        """The name results and failures are reported under before the analyzer names itself."""
        return self.path.stem if self.path is not None else self.text


def parse_config(text: str, base_dir: Path) -> list[ConfigEntry]:
    """The entries of a modules.cfg text; plug-in paths resolved against ``base_dir``."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        is_path = line.endswith(".py") or "/" in line or "\\" in line
        entries.append(ConfigEntry(number, line, (base_dir / line).resolve() if is_path else None))
    return entries


class PluginError(Exception):
    """Why one modules.cfg entry could not be loaded (the message goes into failures())."""


class AnalyzerRegistry:
    """Loaded analyzers, their failures, and the watcher that keeps them in sync with modules.cfg."""

    def __init__(
        self,
        config_path: Path,
        settings: AnalyzerSettings,
        triton: Inference,
        *,
        close_grace_s: float = 30.0,
        debounce_ms: int = 300,
    ) -> None:
        self.config_path = Path(config_path).resolve()
        self._settings = settings
        self._triton = triton
        self._close_grace_s = close_grace_s
        self._debounce_ms = debounce_ms
        self._analyzers: list[Analyzer] = []
        self._failures: dict[str, str] = {}
        self._builtins: dict[str, Analyzer] = {}  # reused across reloads while still listed
        self._plugin_modules: list[str] = []  # sys.modules names of the current plug-ins
        self._plugin_files: set[Path] = set()
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.generation = 0  # bumped by every load, for callers and tests that wait for a reload

    # --- queries -------------------------------------------------------------------------------------

    def analyzers(self) -> list[Analyzer]:
        """The loaded analyzers, every one after those it ``requires`` (a snapshot; safe to keep)."""
        return list(self._analyzers)

    def failures(self) -> dict[str, str]:
        """Entries that could not be loaded: name → reason."""
        return dict(self._failures)

    def triton_models(self) -> set[str]:
        """Triton models the loaded analyzers use (their optional ``models`` attribute), for readiness."""
        return {model for analyzer in self._analyzers for model in getattr(analyzer, "models", ())}

    # --- loading -------------------------------------------------------------------------------------

    async def load(self) -> None:
        """(Re)read modules.cfg and (re)create the analyzers. Never raises for a broken entry."""
        async with self._lock:
            self._load()

    def _load(self) -> None:
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except OSError as exc:
            # Keep the last good set: a config that is missing for a moment (being replaced) must not
            # silently switch off every analyzer.
            self._failures = {**self._failures, self.config_path.name: f"cannot read {self.config_path}: {exc}"}
            log.error("analyzers.config_unreadable", path=str(self.config_path), error=str(exc))
            self.generation += 1
            return

        entries = parse_config(text, self.config_path.parent)
        failures: dict[str, str] = {}
        loaded: dict[str, Analyzer] = {}
        builtins: dict[str, Analyzer] = {}
        plugin_modules: list[str] = []
        for entry in entries:
            try:
                if entry.path is None:
                    analyzer = self._builtin(entry)
                else:
                    analyzer, module_name = self._plugin(entry.path)
                    plugin_modules.append(module_name)
                _check_analyzer(analyzer)
            except PluginError as exc:
                failures[entry.key] = str(exc)
                continue
            name = analyzer.name
            if name in loaded:
                failures[f"{entry.key}@line{entry.line}"] = f"duplicate analyzer name {name!r} (line {entry.line})"
                continue
            loaded[name] = analyzer
            if entry.path is None:
                builtins[entry.text] = analyzer

        ordered, unresolved = _dependency_order(loaded)
        failures.update(unresolved)

        # Close what is no longer used: replaced or removed analyzers, and new ones dropped for their requires.
        kept = {id(a) for a in ordered}
        candidates = [*self._analyzers, *self._builtins.values(), *loaded.values()]
        retired = {id(a): a for a in candidates if id(a) not in kept}
        for module_name in self._plugin_modules:
            sys.modules.pop(module_name, None)
        self._analyzers = ordered
        self._failures = failures
        self._builtins = {key: a for key, a in builtins.items() if id(a) in kept}
        self._plugin_modules = plugin_modules
        self._plugin_files = {entry.path for entry in entries if entry.path is not None}
        self.generation += 1
        for analyzer in retired.values():
            self._close_later(analyzer)
        log.info("analyzers.loaded", analyzers=[a.name for a in ordered], failures=failures, generation=self.generation)

    def _builtin(self, entry: ConfigEntry) -> Analyzer:
        existing = self._builtins.get(entry.text)
        if existing is not None:
            return existing
        module_name = BUILTINS.get(entry.text)
        if module_name is None:
            raise PluginError(
                f"unknown analyzer {entry.text!r} (line {entry.line}); builtins: {', '.join(sorted(BUILTINS))}, "
                "or a path to a .py plug-in"
            )
        return _create(importlib.import_module(module_name), entry.text, self._settings, self._triton)

    def _plugin(self, path: Path) -> tuple[Analyzer, str]:
        if not path.is_file():
            raise PluginError(f"plug-in file {path} does not exist")
        # A new name per load: a fresh module object, never a cached one with the old code.
        module_name = f"clearframe_plugin_{_identifier(path.stem)}_{next(_plugin_counter)}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look their module up there
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(module_name, None)
            raise PluginError(f"import of {path} failed: {type(exc).__name__}: {exc}") from exc
        try:
            return _create(module, str(path), self._settings, self._triton), module_name
        except PluginError:
            sys.modules.pop(module_name, None)
            raise

    def _close_later(self, analyzer: Analyzer) -> None:
        async def close() -> None:
            try:
                await asyncio.sleep(self._close_grace_s)
            finally:
                try:
                    await analyzer.close()
                except Exception:
                    log.exception("analyzers.close_failed", analyzer=analyzer.name)

        task = asyncio.get_running_loop().create_task(close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # --- watching ------------------------------------------------------------------------------------

    def watched_paths(self) -> set[Path]:
        """Folders to watch: the config file's and every plug-in's (files are often replaced by rename)."""
        return {self.config_path.parent, *(path.parent for path in self._plugin_files)}

    def _relevant(self, change: Change, path: str) -> bool:
        changed = Path(path)
        if changed == self.config_path or changed in self._plugin_files:
            return True
        # Helper modules beside a plug-in are part of it.
        return changed.suffix == ".py" and changed.parent in {p.parent for p in self._plugin_files}

    async def watch(self) -> None:
        """Reload whenever modules.cfg or a plug-in changes; returns after :meth:`close`."""
        while not self._stop.is_set():
            paths = self.watched_paths()
            existing = sorted(str(p) for p in paths if p.is_dir())
            async for _changes in awatch(
                *existing,
                watch_filter=self._relevant,
                stop_event=self._stop,
                debounce=self._debounce_ms,
                recursive=False,
            ):
                await self.load()
                if self.watched_paths() != paths:
                    break  # a plug-in in a new folder: watch again with the new set of folders

    async def start(self) -> None:
        """Load the configured analyzers (logging those that failed) and watch for changes until closed."""
        await self.load()
        for name, error in self.failures().items():
            log.warning("analyzer.not_loaded", analyzer=name, error=error)
        self._watcher = asyncio.create_task(self.watch())

    async def close(self) -> None:
        """Stop watching and close every analyzer (replaced ones too, without waiting for their grace)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        async with self._lock:
            analyzers, self._analyzers = self._analyzers, []
            self._builtins = {}
            for module_name in self._plugin_modules:
                sys.modules.pop(module_name, None)
            self._plugin_modules = []
        for task in list(self._closing):
            task.cancel()  # its finally closes the analyzer now
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for analyzer in analyzers:
            with contextlib.suppress(Exception):
                await analyzer.close()


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def _create(module: ModuleType, label: str, settings: AnalyzerSettings, triton: Inference) -> Analyzer:
    factory = getattr(module, "create", None)
    if not callable(factory):
        raise PluginError(f"{label} defines no create(settings, triton) function")
    try:
        analyzer = factory(settings, triton)
    except Exception as exc:
        raise PluginError(f"create() raised {type(exc).__name__}: {exc}") from exc
    return analyzer  # type: ignore[no-any-return]


def _check_analyzer(analyzer: object) -> None:
    if not isinstance(analyzer, Analyzer):
        raise PluginError(
            f"create() returned {type(analyzer).__name__}, which lacks the Analyzer interface "
            "(name, scope, requires, version, analyze, close)"
        )
    if analyzer.scope not in ("frame", "media"):
        raise PluginError(f"analyzer {analyzer.name!r}: scope must be 'frame' or 'media', not {analyzer.scope!r}")
    if not isinstance(analyzer.name, str) or not analyzer.name:
        raise PluginError("analyzer name must be a non-empty string")


def _dependency_order(loaded: dict[str, Analyzer]) -> tuple[list[Analyzer], dict[str, str]]:
    """Analyzers ordered so that each comes after what it requires (config order otherwise kept)."""
    failures: dict[str, str] = {}
    ordered: list[Analyzer] = []
    placed: set[str] = set()
    pending = dict(loaded)
    # Drop those whose requirements are not loaded at all, transitively.
    changed = True
    while changed:
        changed = False
        for name, analyzer in list(pending.items()):
            missing = [r for r in analyzer.requires if r not in pending]
            if missing:
                failures[name] = f"requires {', '.join(map(repr, missing))}, which is not loaded"
                del pending[name]
                changed = True
    while pending:
        # The first entry (in config order) whose requirements are placed: a stable topological order.
        first = next((n for n, a in pending.items() if all(r in placed for r in a.requires)), None)
        if first is None:
            for stuck in pending:
                failures[stuck] = f"circular requires among {sorted(pending)}"
            break
        ordered.append(pending.pop(first))
        placed.add(first)
    return ordered, failures


__all__ = ["BUILTINS", "DEFAULT_CONFIG", "AnalyzerRegistry", "ConfigEntry", "PluginError", "parse_config"]
