"""The records of the publishing half: assets, their moderation state and their renditions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ModerationStatus(StrEnum):
    """Where an asset stands with moderation; only APPROVED assets are delivered."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    FLAGGED = "FLAGGED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"


class Visibility(StrEnum):
    PUBLIC = "PUBLIC"
    #: Delivered only through a valid signed URL.
    SIGNED = "SIGNED"


class RenditionState(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


#: Asset ids: the first 16 lowercase hex characters of the content's SHA-256.
ASSET_ID_RE = re.compile(r"^[0-9a-f]{16}$")


def asset_id_of(sha256_hex: str) -> str:
    return sha256_hex[:16]


def original_key(sha256_hex: str) -> str:
    """Blob key of an asset's bytes (content-addressed)."""
    return f"originals/{sha256_hex[:2]}/{sha256_hex}"


def rendition_key(asset_id: str, name: str) -> str:
    return f"renditions/{asset_id}/{name}"


@dataclass(frozen=True)
class Moderation:
    """An asset's moderation facts, as the scanner last reported them."""

    status: ModerationStatus = ModerationStatus.PENDING
    #: The scan deciding the status; empty until the scan was started.
    scan_id: str = ""
    decision_id: str = ""
    #: Why the scan failed (ERROR only).
    error: str = ""
    #: Revision of the moderation event last applied (the decision feed's cursor for this asset).
    revision: int = 0
    #: How many scans were started for the asset (the first is 1); part of each scan's idempotency key.
    scan_attempt: int = 0


@dataclass(frozen=True)
class Asset:
    asset_id: str
    sha256: str
    content_type: str
    size_bytes: int
    width: int
    height: int
    frame_count: int
    duration_s: float
    title: str
    tags: tuple[str, ...]
    description: str
    filename: str
    usage_intent: str
    model_id: str
    visibility: Visibility
    #: A name of :class:`services.sharelinks.domain.delivery.CachePolicy`.
    cache_policy: str
    owner: str
    created_at: datetime
    updated_at: datetime
    moderation: Moderation = field(default_factory=Moderation)

    @property
    def delivered(self) -> bool:
        return self.moderation.status is ModerationStatus.APPROVED


@dataclass(frozen=True)
class RenditionRecord:
    """One derived file of an asset, as produced (or attempted) so far."""

    asset_id: str
    name: str
    state: RenditionState
    content_type: str = ""
    width: int = 0
    height: int = 0
    size_bytes: int = 0
    sha256: str = ""
    error: str = ""
    attempts: int = 0
    #: When a FAILED rendition is tried again; None when no retry is due.
    retry_at: datetime | None = None


#: Generated short codes: 8 characters of [A-Za-z0-9] (seed 002).
CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CODE_LENGTH = 8
#: Every code a path may carry: generated ones and custom slugs (3–64 of [A-Za-z0-9_-]).
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{3,64}$")
#: Redirect statuses a link may answer with (302 by default).
REDIRECT_STATUSES = (301, 302, 307, 308)


@dataclass(frozen=True)
class ShareLink:
    """A short link to an asset."""

    code: str
    asset_id: str
    #: Card overrides; empty means the asset's own.
    title: str
    description: str
    tags: tuple[str, ...]
    creator: str
    created_at: datetime
    updated_at: datetime
    #: After this time the link answers 410 Gone; None for never.
    expires_at: datetime | None = None
    #: After this many clicks the link answers 410 Gone; None for no limit.
    max_clicks: int | None = None
    disabled: bool = False
    redirect_status: int = 302
    #: UTM parameters appended to the redirect target (utm_source, utm_medium, utm_campaign, utm_term,
    #: utm_content), in that order, the empty ones left out.
    utm: tuple[tuple[str, str], ...] = ()
    #: Exact counts: human clicks, and crawler fetches of the card (previews).
    clicks: int = 0
    previews: int = 0
    last_click_at: datetime | None = None
