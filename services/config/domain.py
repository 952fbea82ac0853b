"""Pure configuration logic (seed 004): validation that names the field, built-in defaults, resolution
(model override > intent global > built-in default), the resolved-configuration cache and the in-process
change feed behind WatchAnalysisConfigs.

What MuseNest's own clients send is accepted as MuseNest accepted it (docs/legacy/musenest.md): the
read-only row fields of our own answers are ignored on PUT, thresholds out of order and weights for labels
no analyzer produces are stored with a warning. Everything else unknown or malformed is refused, naming
the field.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import InvalidArgument, NotFound, ResourceExhausted
from clearframe_runtime.pagination import decode_page_token, encode_page_token
from clearframe_runtime.vocabulary import COMPONENT_OF, LABEL_MAP, NUDENET_LABELS, PRODUCED_LABELS, USAGE_INTENTS
from services.config.ports import Actor, AuditRecord, Change, ConfigStore, Document, StoredConfig

__all__ = ["LABEL_MAP", "NUDENET_LABELS", "USAGE_INTENTS"]  # re-exported: the vocabulary this module checks

MODEL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: `/{usage_intent}/audit` is the audit route, so "audit" can never be a model id.
RESERVED_MODEL_IDS = frozenset({"audit"})

#: Keys of `detection_weights`: MuseNest accepted any; here any label-like name (no dots: they separate
#: update_mask paths), at most MAX_WEIGHTS of them. Keys outside PRODUCED_LABELS are kept and reported.
WEIGHT_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_WEIGHTS = 64
#: Row fields our own answers put beside the three objects (AnalysisConfig minus the body): a client that
#: PUTs back the `data` of a GET (MuseNest's scripts/test_api_endpoints.js does) has them ignored.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "usage_intent",
        "model_id",
        "version",
        "is_active",
        "created_by",
        "created_at",
        "updated_at",
        "not_run",
        "warnings",
    }
)
MAX_KEYWORDS = 200
#: At most this many errors are listed in `validation_errors` (the message lists 10 and counts the rest).
MAX_LISTED_ERRORS = 100
MAX_KEYWORD_LENGTH = 64

#: Switches whose analysis needs a model that does not ship offline; stored, reported in `not_run`.
UNAVAILABLE_COMPONENTS = {
    ("detection_config", "blip_components", "image_description"): (
        "no offline image-captioning (BLIP) model is configured, so no image description is produced"
    ),
    ("blip_config", "description_analysis"): (
        "needs image descriptions from a captioning (BLIP) model, which is not available offline; "
        "child-content keywords are still matched against the upload's title, tags and description"
    ),
}

CREATE, UPDATE, DELETE = "create", "update", "delete"
AUDIT_ACTIONS = (CREATE, UPDATE, DELETE, "activate", "deactivate")
DEFAULT_AUDIT_LIMIT = 50
MAX_AUDIT_LIMIT = 500


# ---------------------------------------------------------------------------------------------- keys


def check_usage_intent(usage_intent: str, field_name: str = "usage_intent") -> str:
    if usage_intent not in USAGE_INTENTS:
        raise InvalidArgument(
            f"Invalid usage_intent {usage_intent!r}: must be one of {', '.join(USAGE_INTENTS)}",
            field=field_name,
            reason="INVALID_USAGE_INTENT",
            metadata={"valid_options": ",".join(USAGE_INTENTS)},
        )
    return usage_intent


def check_model_id(model_id: str, field_name: str = "model_id") -> str | None:
    """None for the intent's global configuration (empty model id)."""
    if not model_id:
        return None
    if not MODEL_ID_RE.match(model_id) or model_id in RESERVED_MODEL_IDS:
        raise InvalidArgument(
            f"Invalid model_id {model_id[:80]!r}: 1-64 characters of A-Z, a-z, 0-9, '_' or '-' "
            f"(and not {', '.join(sorted(RESERVED_MODEL_IDS))})",
            field=field_name,
            reason="INVALID_MODEL_ID",
        )
    return model_id


# ---------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a configuration body."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field} {self.problem}"


@dataclass(frozen=True)
class NotRun:
    """A switched-on component that will not run here."""

    field: str
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    errors: list[FieldError]
    warnings: list[str]
    not_run: list[NotRun]
    #: The body with numbers normalised (weights and thresholds as floats, the age as int); None if invalid.
    document: Document | None

    @property
    def valid(self) -> bool:
        return not self.errors


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean " + str(value).lower()
    if isinstance(value, int | float):
        return f"number {value:g}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


Leaf = Callable[[str, Any, list[FieldError]], Any]


def _boolean(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not isinstance(value, bool):
        errors.append(FieldError(path, f"must be boolean, got {_describe(value)}"))
    return value


def _percent(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not _is_number(value) or not 0 <= value <= 100:
        errors.append(FieldError(path, f"must be number 0-100, got {_describe(value)}"))
        return value
    return float(value)


def _multiplier(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not _is_number(value) or value < 0:
        errors.append(FieldError(path, f"must be a number >= 0, got {_describe(value)}"))
        return value
    return float(value)


def _age(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not _is_number(value) or value != int(value) or not 1 <= value <= 80:
        errors.append(FieldError(path, f"must be a whole number 1-80, got {_describe(value)}"))
        return value
    return int(value)


def _keywords(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not isinstance(value, list):
        errors.append(FieldError(path, f"must be an array of strings, got {_describe(value)}"))
        return value
    if len(value) > MAX_KEYWORDS:
        errors.append(FieldError(path, f"must hold at most {MAX_KEYWORDS} keywords, got {len(value)}"))
    for index, keyword in enumerate(value):
        if not isinstance(keyword, str) or not keyword.strip():
            errors.append(FieldError(f"{path}[{index}]", f"must be a non-empty string, got {_describe(keyword)}"))
        elif len(keyword) > MAX_KEYWORD_LENGTH:
            errors.append(FieldError(f"{path}[{index}]", f"must be at most {MAX_KEYWORD_LENGTH} characters"))
    return value


def _weights(path: str, value: Any, errors: list[FieldError]) -> Any:
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"must be an object, got {_describe(value)}"))
        return value
    if len(value) > MAX_WEIGHTS:
        errors.append(FieldError(path, f"must hold at most {MAX_WEIGHTS} weights, got {len(value)}"))
    normalised = {}
    for label, weight in value.items():
        if not WEIGHT_KEY_RE.match(label):
            errors.append(
                FieldError(
                    f"{path}.{label[:64]}",
                    "is not a label name (1-64 characters of A-Z, a-z, 0-9, '_' or '-')",
                )
            )
            continue
        normalised[label] = _percent(f"{path}.{label}", weight, errors)
    return normalised


#: The seed's structure: every key required, nothing else accepted.
SCHEMA: dict[str, Any] = {
    "detection_config": {
        "nudenet_components": {
            "breast_detection": _boolean,
            "genitalia_detection": _boolean,
            "buttocks_detection": _boolean,
            "anus_detection": _boolean,
            "face_detection": _boolean,
        },
        "blip_components": {
            "age_estimation": _boolean,
            "child_content_detection": _boolean,
            "image_description": _boolean,
        },
    },
    "scoring_config": {
        "detection_weights": _weights,
        "thresholds": {
            "auto_approve_under": _percent,
            "auto_flag_over": _percent,
            "auto_reject_over": _percent,
        },
        "risk_multipliers": {
            "underage_detected": _multiplier,
            "child_content_blip": _multiplier,
        },
    },
    "blip_config": {
        "enabled": _boolean,
        "child_detection_keywords": _keywords,
        "age_estimation_threshold": _age,
        "description_analysis": _boolean,
        "webhook_delivery": _boolean,
    },
}


def _walk(schema: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"must be an object, got {_describe(value)}"))
        return value
    prefix = f"{path}." if path else ""
    for key in value:
        if not path and key in READ_ONLY_FIELDS:
            continue  # the row fields of our own answers, PUT back with the body: ignored
        if key not in schema:
            errors.append(FieldError(prefix + key, f"is not a known field (expected one of {', '.join(schema)})"))
    normalised: dict[str, Any] = {}
    for key, rule in schema.items():
        child = prefix + key
        if key not in value:
            # The seed's own wording for the three top-level objects.
            problem = f"Missing required field: {child}" if not path else ""
            errors.append(FieldError(child, problem or "is required"))
            continue
        if isinstance(rule, dict):
            normalised[key] = _walk(rule, value[key], child, errors)
        else:
            normalised[key] = rule(child, value[key], errors)
    return normalised


def describe_error(error: FieldError) -> str:
    """An error as one line (the seed's wording for a missing top-level object)."""
    return error.problem if error.problem.startswith("Missing required field") else str(error)


def unproduced_weights(document: Document) -> list[str]:
    """Weighted labels of a (valid) document that no Clearframe analyzer produces (e.g. MuseNest's
    ILLEGAL_CONTENT, SEXUAL_ACTIVITY, VIOLENCE, COVERED, CLOTHED): stored, never part of a score."""
    weights = document.get("scoring_config", {}).get("detection_weights", {})
    return [label for label in weights if label not in PRODUCED_LABELS]


def not_run(document: Document) -> list[NotRun]:
    """What a (valid) document asks for that will not happen here: switched-on components with no model,
    and weights of labels no analyzer produces."""
    out = []
    blip_on = bool(document.get("blip_config", {}).get("enabled", True))
    for path, reason in UNAVAILABLE_COMPONENTS.items():
        node: Any = document
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is True and blip_on:
            out.append(NotRun(".".join(path), reason))
    for label in unproduced_weights(document):
        out.append(
            NotRun(
                f"scoring_config.detection_weights.{label}",
                f"no Clearframe analyzer produces the label {label}; the weight is stored but never adds to a score",
            )
        )
    return out


def _threshold_warnings(thresholds: dict[str, float]) -> list[str]:
    """Thresholds out of order are kept (MuseNest only warned); the decision checks approve, then reject,
    then flag, so say what that means for these values."""
    approve, flag, reject = (
        thresholds["auto_approve_under"],
        thresholds["auto_flag_over"],
        thresholds["auto_reject_over"],
    )
    prefix = "scoring_config.thresholds"
    out = []
    if approve >= reject:
        out.append(
            f"{prefix}.auto_approve_under ({approve:g}) is not below auto_reject_over ({reject:g}): "
            f"approval is checked first, so every score up to {approve:g} is approved"
        )
    elif approve > flag:
        out.append(
            f"{prefix}.auto_approve_under ({approve:g}) is above auto_flag_over ({flag:g}): "
            f"approval is checked first, so scores up to {approve:g} are approved"
        )
    if flag > reject:
        out.append(
            f"{prefix}.auto_flag_over ({flag:g}) is above auto_reject_over ({reject:g}): "
            f"rejection is checked before flagging, so scores from {reject:g} are rejected"
        )
    if approve == flag:
        out.append("auto_approve_under equals auto_flag_over: no score between them is flagged")
    return out


def assess(document: Document) -> tuple[list[str], list[NotRun]]:
    """Warnings and not-run items of a valid document: said when it is validated or stored, in every answer
    that carries it, and in every scan that applies it."""
    warnings = _threshold_warnings(document["scoring_config"]["thresholds"])
    switches = document["detection_config"]["nudenet_components"]
    for label, weight in document["scoring_config"]["detection_weights"].items():
        switch = COMPONENT_OF.get(LABEL_MAP.get(label, label))
        if switch and weight > 0 and not switches.get(switch, True):
            warnings.append(
                f"scoring_config.detection_weights.{label} has no effect: "
                f"detection_config.nudenet_components.{switch} is off"
            )
    skipped = not_run(document)
    for item in skipped:
        verb = "has no effect" if item.field.startswith("scoring_config.detection_weights.") else "will not run"
        warnings.append(f"{item.field} {verb}: {item.reason}")
    return warnings, skipped


def validate(body: Any) -> ValidationReport:
    """Check a configuration body; every error names its field."""
    errors: list[FieldError] = []
    document = _walk(SCHEMA, body, "", errors)
    if errors:
        return ValidationReport(errors, [], [], None)
    warnings, skipped = assess(document)
    return ValidationReport([], warnings, skipped, document)


def require_valid(body: Any) -> Document:
    """The normalised document, or InvalidArgument(VALIDATION_ERROR) naming the first bad field."""
    report = validate(body)
    if report.document is not None:
        return report.document
    first = report.errors[0]
    listed = "; ".join(describe_error(e) for e in report.errors[:10])
    more = f" (and {len(report.errors) - 10} more)" if len(report.errors) > 10 else ""
    raise InvalidArgument(
        f"Invalid configuration data: {listed}{more}",
        field=first.field,
        reason="VALIDATION_ERROR",
        metadata={
            "problem": first.problem,
            "errors": str(len(report.errors)),
            # MuseNest's `validation_errors` list (the gateway lifts it into its envelope), as JSON text:
            # ErrorInfo metadata holds strings only.
            "validation_errors": json.dumps([describe_error(e) for e in report.errors[:MAX_LISTED_ERRORS]]),
        },
    )


def apply_update_mask(base: Document, patch: Any, paths: Iterable[str]) -> Any:
    """``base`` with the masked paths taken from ``patch`` (AIP-134); a path absent from the patch is removed,
    so the validation that follows names it as missing."""
    merged = copy.deepcopy(base)
    if not isinstance(patch, dict):
        return patch
    for path in paths:
        keys = path.split(".")
        schema: Any = SCHEMA
        for index, key in enumerate(keys):
            if schema is _weights and index == len(keys) - 1 and WEIGHT_KEY_RE.match(key):
                break
            if not isinstance(schema, dict) or key not in schema:
                raise InvalidArgument(
                    f"update_mask path {path!r} is not a field of the configuration",
                    field="update_mask",
                    reason="INVALID_UPDATE_MASK",
                )
            schema = schema[key]
        source: Any = patch
        target: Any = merged
        for key in keys[:-1]:
            source = source.get(key) if isinstance(source, dict) else None
            target = target.setdefault(key, {}) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if isinstance(source, dict) and keys[-1] in source:
            target[keys[-1]] = copy.deepcopy(source[keys[-1]])
        else:
            target.pop(keys[-1], None)
    return merged


# ------------------------------------------------------------------------------------------ defaults

#: (auto_approve_under, auto_flag_over, auto_reject_over) per intent, from MuseNest's legacy rules
#: (public_site approves under 10 and flags from 20; paysite 60/80; store 85/90; private 95 and never
#: auto-flags, so its flag threshold sits just under rejection).
_DEFAULT_THRESHOLDS = {
    "public_site": (10.0, 20.0, 60.0),
    "paysite": (60.0, 80.0, 95.0),
    "store": (85.0, 90.0, 98.0),
    "private": (95.0, 97.0, 100.0),
}


def builtin_document(usage_intent: str) -> Document:
    """The documented built-in default of an intent (used when nothing is stored)."""
    approve, flag, reject = _DEFAULT_THRESHOLDS[usage_intent]
    return {
        "detection_config": {
            "nudenet_components": {
                "breast_detection": True,
                "genitalia_detection": True,
                "buttocks_detection": True,
                "anus_detection": True,
                "face_detection": True,
            },
            "blip_components": {
                "age_estimation": True,
                "child_content_detection": True,
                "image_description": False,
            },
        },
        "scoring_config": {
            "detection_weights": {
                "BREAST_EXPOSED": 40.0,
                "GENITALIA": 95.0,
                "BUTTOCKS_EXPOSED": 30.0,
                "ANUS_EXPOSED": 80.0,
                "FACE_DETECTED": 0.0,
            },
            "thresholds": {"auto_approve_under": approve, "auto_flag_over": flag, "auto_reject_over": reject},
            "risk_multipliers": {"underage_detected": 10.0, "child_content_blip": 5.0},
        },
        "blip_config": {
            "enabled": True,
            "child_detection_keywords": ["child", "kid", "baby", "toddler", "minor"],
            "age_estimation_threshold": 18,
            "description_analysis": False,
            "webhook_delivery": True,
        },
    }


def builtin_config(usage_intent: str) -> StoredConfig:
    return StoredConfig(
        id=0,
        usage_intent=usage_intent,
        model_id=None,
        document=builtin_document(usage_intent),
        version=0,
        is_active=True,
        created_by="builtin",
        created_at=None,
        updated_at=None,
    )


# ---------------------------------------------------------------------------------------- resolution


class Source(Enum):
    MODEL_OVERRIDE = "model_override"
    INTENT_GLOBAL = "intent_global"
    BUILTIN_DEFAULT = "builtin_default"


@dataclass(frozen=True)
class Resolved:
    config: StoredConfig
    source: Source


def resolve(usage_intent: str, model_row: StoredConfig | None, global_row: StoredConfig | None) -> Resolved:
    """Model override > intent global > built-in default."""
    if model_row is not None:
        return Resolved(model_row, Source.MODEL_OVERRIDE)
    if global_row is not None:
        return Resolved(global_row, Source.INTENT_GLOBAL)
    return Resolved(builtin_config(usage_intent), Source.BUILTIN_DEFAULT)


# --------------------------------------------------------------------------------------------- cache

CacheKey = tuple[str, str | None]


@dataclass(frozen=True)
class CacheInfo:
    cached: bool
    age_s: float = 0.0
    expires_in_s: float = 0.0


class ResolutionCache:
    """Resolved configurations by (intent, model id), for ``ttl_s`` seconds (the seed: 10 minutes)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[CacheKey, tuple[Resolved, float]] = {}

    def get(self, key: CacheKey) -> tuple[Resolved, CacheInfo] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = self._clock() - entry[1]
        if age >= self._ttl_s:
            del self._entries[key]
            return None
        return entry[0], CacheInfo(True, age, self._ttl_s - age)

    def put(self, key: CacheKey, value: Resolved) -> None:
        if self._ttl_s > 0:
            self._entries[key] = (value, self._clock())

    def clear(self, usage_intent: str | None = None, model_id: str | None = None) -> int:
        """Drop every entry, those of one intent, or the one of (intent, model). Returns how many."""
        doomed = [
            key
            for key in self._entries
            if (usage_intent is None or key[0] == usage_intent) and (model_id is None or key[1] == model_id)
        ]
        for key in doomed:
            del self._entries[key]
        return len(doomed)


# ---------------------------------------------------------------------------------------------- feed


class EventType(Enum):
    UPDATED = "updated"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class ConfigEvent:
    """One change, as watchers see it."""

    type: EventType
    revision: int
    action: str
    config: StoredConfig
    changed_by: str
    at: datetime
    resolved: Resolved


@dataclass(eq=False)
class Subscription:
    usage_intent: str | None
    model_id: str | None
    queue: asyncio.Queue[ConfigEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False

    def wants(self, event: ConfigEvent) -> bool:
        return (self.usage_intent is None or event.config.usage_intent == self.usage_intent) and (
            self.model_id is None or event.config.model_id == self.model_id
        )


class ChangeFeed:
    """In-process broadcast of changes to every watch stream of this process."""

    def __init__(self, max_subscribers: int):
        self._max = max_subscribers
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, usage_intent: str | None, model_id: str | None) -> Subscription:
        if len(self._subscriptions) >= self._max:
            raise ResourceExhausted(
                f"too many watch streams (at most {self._max}); retry later", reason="TOO_MANY_WATCHERS"
            )
        subscription = Subscription(usage_intent, model_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, event: ConfigEvent) -> None:
        for subscription in list(self._subscriptions):
            if not subscription.wants(event):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A watcher that stops reading must not hold memory or slow the others: it is cut off and
                # resumes with since_revision.
                subscription.overflowed = True
                self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)


# ------------------------------------------------------------------------------------------ paging


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    total: int
    limit: int
    offset: int
    next_page_token: str


# -------------------------------------------------------------------------------------------- service


def _event(change: Change, resolved: Resolved) -> ConfigEvent:
    kind = EventType.DEACTIVATED if change.audit.action == DELETE else EventType.UPDATED
    audit = change.audit
    return ConfigEvent(kind, audit.id, audit.action, change.config, audit.changed_by, audit.timestamp, resolved)


class Configurations:
    """The use cases of the config service, on a :class:`ConfigStore`."""

    def __init__(self, store: ConfigStore, cache: ResolutionCache, feed: ChangeFeed, *, clock: Clock = utcnow):
        self._store = store
        self._cache = cache
        self._feed = feed
        self._clock = clock

    @property
    def feed(self) -> ChangeFeed:
        return self._feed

    async def _resolve_fresh(self, usage_intent: str, model_id: str | None) -> Resolved:
        model_row = await self._store.active(usage_intent, model_id) if model_id else None
        global_row = None if model_row else await self._store.active(usage_intent, None)
        resolved = resolve(usage_intent, model_row, global_row)
        self._cache.put((usage_intent, model_id), resolved)
        return resolved

    async def resolve(self, usage_intent: str, model_id: str) -> tuple[Resolved, CacheInfo]:
        """The effective configuration (never missing: the built-in default at worst)."""
        intent, model = check_usage_intent(usage_intent), check_model_id(model_id)
        hit = self._cache.get((intent, model))
        if hit is not None:
            return hit
        return await self._resolve_fresh(intent, model), CacheInfo(False)

    async def get(self, usage_intent: str, model_id: str) -> tuple[StoredConfig, CacheInfo]:
        """The seed's GET: the model's configuration, else the intent's global one, else CONFIG_NOT_FOUND."""
        resolved, cache = await self.resolve(usage_intent, model_id)
        if resolved.source is Source.BUILTIN_DEFAULT:
            raise NotFound(
                f"Configuration not found for {usage_intent}"
                + (f" model {model_id}" if model_id else "")
                + " (the built-in default applies; see ResolveAnalysisConfig)",
                reason="CONFIG_NOT_FOUND",
                metadata={"usage_intent": usage_intent, "model_id": model_id},
            )
        return resolved.config, cache

    async def revision(self) -> int:
        return await self._store.latest_revision()

    async def put(
        self,
        usage_intent: str,
        model_id: str,
        body: Any,
        actor: Actor,
        update_mask: list[str] | None = None,
    ) -> StoredConfig:
        intent, model = check_usage_intent(usage_intent), check_model_id(model_id)
        if update_mask:
            current = await self._store.active(intent, model)
            if current is None:
                raise NotFound(
                    "update_mask needs an active configuration to update; PUT the whole configuration first",
                    reason="CONFIG_NOT_FOUND",
                )
            body = apply_update_mask(current.document, body, update_mask)
        document = require_valid(body)
        change = await self._store.put(intent, model, document, actor, self._clock())
        await self._changed(change)
        return change.config

    async def delete(self, usage_intent: str, model_id: str, actor: Actor) -> StoredConfig:
        intent, model = check_usage_intent(usage_intent), check_model_id(model_id)
        change = await self._store.deactivate(intent, model, actor, self._clock())
        if change is None:
            raise NotFound(
                f"Configuration not found: no active configuration for {intent}"
                + (f" model {model}" if model else " (global)"),
                reason="CONFIG_NOT_FOUND",
                metadata={"usage_intent": intent, "model_id": model or ""},
            )
        await self._changed(change)
        return change.config

    async def _changed(self, change: Change) -> None:
        # A change of the intent's global configuration changes what every model without an override
        # resolves to, so the whole intent's entries go.
        self._cache.clear(change.config.usage_intent)
        resolved = await self._resolve_fresh(change.config.usage_intent, change.config.model_id)
        self._feed.publish(_event(change, resolved))

    def validate(self, body: Any) -> ValidationReport:
        return validate(body)

    def clear_cache(self, usage_intent: str, model_id: str) -> int:
        intent = check_usage_intent(usage_intent, "scope.usage_intent") if usage_intent else None
        if model_id and intent is None:
            raise InvalidArgument(
                "scope.model_id needs scope.usage_intent", field="scope.usage_intent", reason="INVALID_USAGE_INTENT"
            )
        model = check_model_id(model_id, "scope.model_id")
        return self._cache.clear(intent, model)

    async def audit(
        self, usage_intent: str, model_id: str, *, limit: int, offset: int, page_size: int, page_token: str
    ) -> AuditPage:
        intent, model = check_usage_intent(usage_intent), check_model_id(model_id)
        size = limit or page_size or DEFAULT_AUDIT_LIMIT
        if not 1 <= size <= MAX_AUDIT_LIMIT:
            raise InvalidArgument(
                f"limit must be 1-{MAX_AUDIT_LIMIT}, got {size}", field="limit", reason="INVALID_PAGE_SIZE"
            )
        if offset < 0:
            raise InvalidArgument(f"offset must be >= 0, got {offset}", field="offset", reason="INVALID_PAGE_SIZE")
        start = decode_page_token(page_token) if page_token else offset
        records, total = await self._store.list_audit(intent, model, start, size)
        next_token = encode_page_token(start + size) if start + size < total else ""
        return AuditPage(records, total, size, start, next_token)

    async def snapshot(self, usage_intent: str | None, model_id: str | None) -> list[StoredConfig]:
        return await self._store.list_active(usage_intent, model_id)

    async def replay(self, since_revision: int, usage_intent: str | None, model_id: str | None) -> list[ConfigEvent]:
        """Retained changes after ``since_revision`` (the audit trail keeps every change, so all are)."""
        events = []
        for record in await self._store.audit_since(since_revision, usage_intent, model_id, limit=10_000):
            config = await self._store.get(record.config_id)
            if config is None:
                continue
            resolved, _ = await self.resolve(record.usage_intent, record.model_id or "")
            events.append(
                _event(Change(config, record), resolved),
            )
        return events

    def watch_scope(self, usage_intent: str, model_id: str) -> tuple[str | None, str | None]:
        intent = check_usage_intent(usage_intent) if usage_intent else None
        if model_id and intent is None:
            raise InvalidArgument("model_id needs usage_intent", field="usage_intent", reason="INVALID_USAGE_INTENT")
        return intent, check_model_id(model_id)
