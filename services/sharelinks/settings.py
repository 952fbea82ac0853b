"""Settings of the sharelinks service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings


class SharelinksSettings(ServiceSettings):
    listen: str = topology.local_address("sharelinks")
    #: The frames (probing) and scanner (scans, decisions) services.
    frames_url: str = topology.local_address("frames")
    scanner_url: str = topology.local_address("scanner")
    analytics_url: str = topology.local_address("analytics")
    #: The deployment's public base URL: canonical URLs are `{base}/a/{asset_id}`.
    public_base_url: str = "http://127.0.0.1:8080"

    #: Blob store: "fs" (a local folder, the embedded default) or "s3" (any S3-compatible store).
    blob_store: str = Field(default="fs", pattern="^(fs|s3)$")
    #: fs: the folder.
    blob_dir: Path = Path("var/data/blobs")
    #: s3: endpoint URL, bucket, credentials, region, addressing.
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    #: True: `https://bucket.host/key`; False (path style, what most self-hosted stores want): `host/bucket/key`.
    s3_virtual_hosted: bool = False

    #: Signing keys of signed URLs. Production: `CLEARFRAME_SIGNING_KEYS` from a secret, `kid:base64key`
    #: entries separated by commas, the first one signs. Without it the key ring is kept in
    #: `signing_keys_file` (created with one random key on first start; `make run` keeps it in its data folder).
    signing_keys: SecretStr = SecretStr("")
    signing_keys_file: Path = Path("var/data/signing-keys.json")
    #: The longest lifetime a signed URL may be given or may carry.
    signed_url_max_lifetime_s: int = Field(default=7 * 24 * 3600, ge=1)

    #: Media limits of uploads (probing also applies the frames service's limits).
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1)

    #: Renditions: how many assets are converted at once, attempts per rendition, first retry delay.
    rendition_concurrency: int = Field(default=1, ge=1)
    rendition_max_attempts: int = Field(default=3, ge=1)
    rendition_retry_s: float = Field(default=60.0, gt=0)
    rendition_timeout_s: float = Field(default=120.0, gt=0)

    #: CDN purge hook called when an asset stops being delivered (empty: none); bearer token for it.
    purge_url: str = ""
    purge_token: SecretStr = SecretStr("")
    purge_attempts: int = Field(default=6, ge=1)

    #: Delivery cache: seconds an asset's row is reused (writes and decision events drop it at once; the TTL
    #: bounds how stale another replica's metadata change can be here; 0 turns it off), and the memory for
    #: recently delivered blobs (each at most the item size).
    delivery_cache_ttl_s: float = Field(default=2.0, ge=0)
    delivery_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    delivery_cache_item_bytes: int = Field(default=2 * 1024 * 1024, ge=0)

    #: Blobs without a committed row older than this are deleted by the periodic garbage collection.
    blob_gc_grace_s: float = Field(default=3600.0, gt=0)
    blob_gc_interval_s: float = Field(default=3600.0, gt=0)

    #: Short links: seconds a code → link lookup is reused (changes here and decision events drop it at
    #: once; the TTL bounds how stale another replica's change can be), and how many codes are kept.
    link_cache_ttl_s: float = Field(default=5.0, ge=0)
    link_cache_entries: int = Field(default=10_000, ge=1)
    #: Clicks of links without a limit are added up in memory and written every this many seconds.
    click_flush_s: float = Field(default=0.5, gt=0)
    #: Usage events (CLICK, VIEW) waiting for the analytics service at most (the oldest are dropped beyond,
    #: counted and logged).
    event_buffer: int = Field(default=100_000, ge=1)
    #: The name link cards show as og:site_name.
    site_name: str = "Clearframe"
