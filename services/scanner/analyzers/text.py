"""Text moderation of an upload's title, description and tags (English only).

Two opinions per field: ``alt-profanity-check`` (a linear model over the whole text: a probability) and
``better-profanity`` (a word list with leetspeak variants: which terms matched). A field is flagged when
the probability reaches ``AnalyzerSettings.profanity_threshold`` or any listed term occurs.

Media-scoped: one output for the whole upload, whatever the frames. Fields that are all empty (or only
whitespace) get the all-clear result directly, without running either check.
    scores  {"profanity": highest field probability}
    extra   {"fields": {field: {"probability", "flagged", "matched_terms"}}, "flagged": any field flagged}
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from better_profanity import Profanity
from profanity_check import predict_prob

from services.scanner.analyzers.base import AnalysisContext, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference


class TextAnalyzer:
    """Profanity in title, description and tags."""

    scope: ClassVar[Literal["frame", "media"]] = "media"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: AnalyzerSettings, name: str = "text") -> None:
        self.name = name
        self.version = "alt-profanity-check-1.9+better-profanity-0.7"
        self.models: tuple[str, ...] = ()
        self._threshold = settings.profanity_threshold
        # Our own instance: the module-level `profanity` object is global state other code may change.
        self._wordlist = Profanity()

    def matched_terms(self, text: str) -> list[str]:
        """Listed terms in ``text`` (single words, and two-word phrases whose words are clean alone)."""
        tokens = text.split()
        found: list[str] = []
        flagged = [self._wordlist.contains_profanity(token) for token in tokens]
        for i, token in enumerate(tokens):
            if flagged[i]:
                found.append(token.strip(string.punctuation).lower() or token.lower())
            elif i + 1 < len(tokens) and not flagged[i + 1]:
                pair = f"{token} {tokens[i + 1]}"
                if self._wordlist.contains_profanity(pair):
                    found.append(pair.strip(string.punctuation).lower())
        return sorted(set(found))

    def _analyze(self, fields: dict[str, str]) -> FrameOutput:
        texts = {name: value.strip() for name, value in fields.items() if value.strip()}
        probabilities = (
            dict(zip(texts, (float(p) for p in predict_prob(list(texts.values()))), strict=True)) if texts else {}
        )
        report: dict[str, dict[str, Any]] = {}
        for name in fields:
            probability = probabilities.get(name, 0.0)
            terms = self.matched_terms(texts[name]) if name in texts else []
            report[name] = {
                "probability": probability,
                "flagged": probability >= self._threshold or bool(terms),
                "matched_terms": terms,
            }
        return FrameOutput(
            scores={"profanity": max(probabilities.values(), default=0.0)},
            extra={"fields": report, "flagged": any(field["flagged"] for field in report.values())},
        )

    @staticmethod
    def all_clear(fields: dict[str, str]) -> FrameOutput:
        """The result for fields that hold no text at all: what ``_analyze`` answers for them, built directly."""
        return FrameOutput(
            scores={"profanity": 0.0},
            extra={
                "fields": {name: {"probability": 0.0, "flagged": False, "matched_terms": []} for name in fields},
                "flagged": False,
            },
        )

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        fields = context.text.fields()
        if not any(value.strip() for value in fields.values()):
            # Most uploads carry no text: no model, no word list, no thread hop.
            return [self.all_clear(fields)]
        return [await asyncio.to_thread(self._analyze, fields)]

    async def close(self) -> None:
        """Nothing to release."""


def create(settings: AnalyzerSettings, triton: Inference) -> TextAnalyzer:
    return TextAnalyzer(settings)
