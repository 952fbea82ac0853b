"""An in-memory :class:`services.sharelinks.ports.AssetStore` with the SQL adapter's semantics, for fast tests of
the sharelinks domain. ``test_store.py`` runs the same contract tests on it and on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.sharelinks.domain.descriptive import descriptive_changes, utc
from services.sharelinks.domain.model import (
    Asset,
    Moderation,
    ModerationStatus,
    RenditionRecord,
    RenditionState,
    Visibility,
)
from services.sharelinks.ports import AssetFilter, DuplicateAsset


def _newest_first(assets: list[Asset]) -> list[Asset]:
    by_id = sorted(assets, key=lambda asset: asset.asset_id)
    return sorted(by_id, key=lambda asset: asset.created_at, reverse=True)  # stable: ties stay by id


def _moderation(moderation: Moderation) -> Moderation:
    """As SQL reads it back: the status a :class:`ModerationStatus` (an unknown one is ValueError)."""
    return replace(moderation, status=ModerationStatus(moderation.status))


class MemoryAssetStore:
    """Assets by id, renditions by (asset id, name), and the cursor; datetimes kept as aware UTC."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.rendition_records: dict[tuple[str, str], RenditionRecord] = {}
        self.revision = 0

    async def insert(self, asset: Asset) -> None:
        # Checked as SQL checks them: aware datetimes, known enum values.
        stored = replace(
            asset,
            tags=tuple(asset.tags),
            visibility=Visibility(asset.visibility),
            created_at=utc(asset.created_at),
            updated_at=utc(asset.updated_at),
            moderation=_moderation(asset.moderation),
        )
        if asset.asset_id in self.assets:
            raise DuplicateAsset(asset.asset_id)
        self.assets[asset.asset_id] = stored

    async def get(self, asset_id: str) -> Asset | None:
        return self.assets.get(asset_id)

    def _listed(self, where: AssetFilter) -> list[Asset]:
        return _newest_first(
            [
                asset
                for asset in self.assets.values()
                if (not where.status or asset.moderation.status == where.status)
                and (not where.owner or asset.owner == where.owner)
                and (not where.tag or where.tag in asset.tags)
            ]
        )

    async def page(self, where: AssetFilter, offset: int, limit: int) -> list[Asset]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (offset={offset}, limit={limit})")
        return self._listed(where)[offset : offset + limit]

    async def update_metadata(self, asset_id: str, changes: dict[str, object], at: datetime) -> Asset | None:
        checked, when = descriptive_changes(changes), utc(at)
        asset = self.assets.get(asset_id)
        if asset is None:
            return None
        updated = replace(asset, updated_at=when, **checked)
        self.assets[asset_id] = updated
        return updated

    async def set_moderation(self, asset_id: str, moderation: Moderation, at: datetime) -> Asset | None:
        when = utc(at)
        asset = self.assets.get(asset_id)
        if asset is None:
            return None
        updated = replace(asset, moderation=_moderation(moderation), updated_at=when)
        self.assets[asset_id] = updated
        return updated

    async def delete(self, asset_id: str) -> bool:
        for key in [key for key in self.rendition_records if key[0] == asset_id]:
            del self.rendition_records[key]
        return self.assets.pop(asset_id, None) is not None

    async def with_status(self, status: str) -> list[Asset]:
        return self._listed(AssetFilter(status=status)) if status else []

    async def existing(self, asset_ids: set[str]) -> set[str]:
        return {asset_id for asset_id in asset_ids if asset_id in self.assets}

    async def renditions(self, asset_id: str) -> list[RenditionRecord]:
        return sorted((r for r in self.rendition_records.values() if r.asset_id == asset_id), key=lambda r: r.name)

    async def save_rendition(self, record: RenditionRecord) -> None:
        """Insert or replace the record of (asset, name); nothing is saved when the asset has no row."""
        retry_at = utc(record.retry_at) if record.retry_at is not None else None
        if record.asset_id in self.assets:
            self.rendition_records[(record.asset_id, record.name)] = replace(
                record, state=RenditionState(record.state), retry_at=retry_at
            )

    async def delete_renditions(self, asset_id: str) -> None:
        for key in [key for key in self.rendition_records if key[0] == asset_id]:
            del self.rendition_records[key]

    async def cursor(self) -> int:
        return self.revision

    async def save_cursor(self, revision: int) -> None:
        self.revision = revision
