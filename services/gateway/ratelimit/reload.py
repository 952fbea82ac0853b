"""The rules file, watched: a changed file is re-read within ``interval_s``; an invalid one is logged
and the last good rules stay in force (at start-up an invalid file stops the service, naming the field)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import structlog

from services.gateway.ratelimit.domain import RuleSet
from services.gateway.ratelimit.rules import RulesError, load_rules

log = structlog.get_logger(__name__)


class WatchedRules:
    def __init__(self, path: Path, *, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval_s = interval_s
        self._digest = ""
        self.last_error = ""
        try:
            self._rules = load_rules(path)
        except RulesError as exc:
            raise SystemExit(f"CLEARFRAME_RATELIMIT_RULES: {exc}") from exc
        self._digest = self._file_digest()
        log.info("ratelimit.rules_loaded", source=str(path), rules=[r.name for r in self._rules.rules])

    def current(self) -> RuleSet:
        return self._rules

    def _file_digest(self) -> str:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return ""

    def check(self) -> bool:
        """Re-read the file if its content changed; True when new rules took effect."""
        digest = self._file_digest()
        if digest == self._digest:
            return False
        self._digest = digest
        try:
            rules = load_rules(self._path)
        except RulesError as exc:
            self.last_error = str(exc)
            log.error("ratelimit.rules_invalid", source=str(self._path), problems=exc.problems, kept="previous rules")
            return False
        self._rules, self.last_error = rules, ""
        log.info("ratelimit.rules_reloaded", source=str(self._path), rules=[r.name for r in rules.rules])
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self.check()


__all__ = ["WatchedRules"]
