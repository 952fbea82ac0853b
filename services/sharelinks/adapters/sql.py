"""Assets, their tags and renditions, the decision feed's cursor and short links in SQL (SQLite or Postgres)
through SQLModel: :class:`SqlAssetStore` implements :class:`services.sharelinks.ports.AssetStore`,
:class:`SqlLinkStore` :class:`services.sharelinks.ports.LinkStore`.

Every table is named ``sharelinks_…`` so that the services can share one database. An asset is one row of
``sharelinks_assets`` (its moderation facts flattened into ``moderation_*`` columns) and one row per tag in
``sharelinks_asset_tags`` (position kept, so the tags come back in their order; a tag filter is an exact
match on a row, never a substring of a list). Datetimes are stored in UTC and come back aware.

Writes start with the statement that takes the write lock (an INSERT, UPDATE or DELETE) and read only
afterwards: SQLite refuses to upgrade a transaction that read first while another connection wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    case,
    delete,
    exists,
    or_,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.sharelinks.domain.descriptive import descriptive_changes, utc
from services.sharelinks.domain.model import (
    Asset,
    Moderation,
    ModerationStatus,
    RenditionRecord,
    RenditionState,
    ShareLink,
    Visibility,
)
from services.sharelinks.ports import AssetFilter, DuplicateAsset, DuplicateCode

metadata = SQLModel.metadata
#: Ids per ``IN (…)`` list: well under SQLite's and asyncpg's limits on bound parameters.
IN_CHUNK = 500
#: The one row of the cursor table.
CURSOR_ROW_ID = 1


def _stored(value: datetime) -> datetime:
    return utc(value)


def _loaded(value: datetime) -> datetime:
    # SQLite hands back the naive UTC wall time it was given; Postgres an aware datetime.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


class AssetRow(SQLModel, table=True):
    __tablename__ = "sharelinks_assets"

    asset_id: str = Field(sa_column=Column(String(), primary_key=True))
    sha256: str = Field(sa_column=Column(String(), nullable=False))
    content_type: str = Field(sa_column=Column(String(), nullable=False))
    size_bytes: int = Field(sa_column=Column(BigInteger(), nullable=False))
    width: int
    height: int
    frame_count: int
    duration_s: float = Field(sa_column=Column(Float(), nullable=False))
    title: str = Field(sa_column=Column(Text(), nullable=False))
    description: str = Field(sa_column=Column(Text(), nullable=False))
    filename: str = Field(sa_column=Column(Text(), nullable=False))
    usage_intent: str = Field(sa_column=Column(String(), nullable=False))
    model_id: str = Field(sa_column=Column(String(), nullable=False))
    visibility: str = Field(sa_column=Column(String(), nullable=False))
    cache_policy: str = Field(sa_column=Column(String(), nullable=False))
    owner: str = Field(sa_column=Column(String(), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    moderation_status: str = Field(sa_column=Column(String(), nullable=False))
    moderation_scan_id: str = Field(sa_column=Column(String(), nullable=False))
    moderation_decision_id: str = Field(sa_column=Column(String(), nullable=False))
    moderation_error: str = Field(sa_column=Column(Text(), nullable=False))
    moderation_revision: int = Field(sa_column=Column(BigInteger(), nullable=False))
    moderation_scan_attempt: int

    def asset(self, tags: tuple[str, ...]) -> Asset:
        return Asset(
            asset_id=self.asset_id,
            sha256=self.sha256,
            content_type=self.content_type,
            size_bytes=self.size_bytes,
            width=self.width,
            height=self.height,
            frame_count=self.frame_count,
            duration_s=self.duration_s,
            title=self.title,
            tags=tags,
            description=self.description,
            filename=self.filename,
            usage_intent=self.usage_intent,
            model_id=self.model_id,
            visibility=Visibility(self.visibility),
            cache_policy=self.cache_policy,
            owner=self.owner,
            created_at=_loaded(self.created_at),
            updated_at=_loaded(self.updated_at),
            moderation=Moderation(
                status=ModerationStatus(self.moderation_status),
                scan_id=self.moderation_scan_id,
                decision_id=self.moderation_decision_id,
                error=self.moderation_error,
                revision=self.moderation_revision,
                scan_attempt=self.moderation_scan_attempt,
            ),
        )


_assets_table: Any = AssetRow.__table__  # type: ignore[attr-defined]
# The list order (newest first, then id), alone and after the filters that lists use.
Index("ix_sharelinks_assets_list_order", _assets_table.c.created_at.desc(), _assets_table.c.asset_id)
Index("ix_sharelinks_assets_status", _assets_table.c.moderation_status, _assets_table.c.created_at.desc())
Index("ix_sharelinks_assets_owner", _assets_table.c.owner, _assets_table.c.created_at.desc())


def _moderation_values(moderation: Moderation) -> dict[str, Any]:
    return {
        "moderation_status": ModerationStatus(moderation.status).value,
        "moderation_scan_id": moderation.scan_id,
        "moderation_decision_id": moderation.decision_id,
        "moderation_error": moderation.error,
        "moderation_revision": moderation.revision,
        "moderation_scan_attempt": moderation.scan_attempt,
    }


def _asset_values(asset: Asset) -> dict[str, Any]:
    return {
        "asset_id": asset.asset_id,
        "sha256": asset.sha256,
        "content_type": asset.content_type,
        "size_bytes": asset.size_bytes,
        "width": asset.width,
        "height": asset.height,
        "frame_count": asset.frame_count,
        "duration_s": asset.duration_s,
        "title": asset.title,
        "description": asset.description,
        "filename": asset.filename,
        "usage_intent": asset.usage_intent,
        "model_id": asset.model_id,
        "visibility": Visibility(asset.visibility).value,
        "cache_policy": asset.cache_policy,
        "owner": asset.owner,
        "created_at": _stored(asset.created_at),
        "updated_at": _stored(asset.updated_at),
        **_moderation_values(asset.moderation),
    }


class AssetTagRow(SQLModel, table=True):
    __tablename__ = "sharelinks_asset_tags"
    __table_args__ = (Index("ix_sharelinks_asset_tags_tag", "tag", "asset_id"),)

    asset_id: str = Field(
        sa_column=Column(String(), ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"), primary_key=True)
    )
    position: int = Field(primary_key=True)
    tag: str = Field(sa_column=Column(String(), nullable=False))


class RenditionRow(SQLModel, table=True):
    __tablename__ = "sharelinks_asset_renditions"

    asset_id: str = Field(
        sa_column=Column(String(), ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"), primary_key=True)
    )
    name: str = Field(sa_column=Column(String(), primary_key=True))
    state: str = Field(sa_column=Column(String(), nullable=False))
    content_type: str = Field(sa_column=Column(String(), nullable=False))
    width: int
    height: int
    size_bytes: int = Field(sa_column=Column(BigInteger(), nullable=False))
    sha256: str = Field(sa_column=Column(String(), nullable=False))
    error: str = Field(sa_column=Column(Text(), nullable=False))
    attempts: int
    retry_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))

    def record(self) -> RenditionRecord:
        return RenditionRecord(
            asset_id=self.asset_id,
            name=self.name,
            state=RenditionState(self.state),
            content_type=self.content_type,
            width=self.width,
            height=self.height,
            size_bytes=self.size_bytes,
            sha256=self.sha256,
            error=self.error,
            attempts=self.attempts,
            retry_at=_loaded(self.retry_at) if self.retry_at is not None else None,
        )


class FeedCursorRow(SQLModel, table=True):
    __tablename__ = "sharelinks_feed_cursor"
    __table_args__ = (CheckConstraint(f"id = {CURSOR_ROW_ID}", name="ck_sharelinks_feed_cursor_single_row"),)

    id: int = Field(primary_key=True)
    revision: int = Field(sa_column=Column(BigInteger(), nullable=False))


def _upsert(session: AsyncSession, row_type: type[SQLModel], values: dict[str, Any], keys: list[str]) -> Any:
    """INSERT … ON CONFLICT (keys) DO UPDATE in the session's dialect (both databases spell it alike)."""
    table: Any = row_type.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={name: value for name, value in values.items() if name not in keys}
    )


class SqlAssetStore:
    """:class:`services.sharelinks.ports.AssetStore` on an async SQLAlchemy engine."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    # ---------------------------------------------------------------------------------------- reading

    @staticmethod
    async def _tags(session: AsyncSession, asset_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {asset_id: [] for asset_id in asset_ids}
        for chunk in _chunks(list(dict.fromkeys(asset_ids))):
            rows = await session.exec(
                select(AssetTagRow)
                .where(col(AssetTagRow.asset_id).in_(chunk))
                .order_by(col(AssetTagRow.asset_id), col(AssetTagRow.position))
            )
            for row in rows:
                found[row.asset_id].append(row.tag)
        return {asset_id: tuple(tags) for asset_id, tags in found.items()}

    async def _assets(self, session: AsyncSession, rows: Sequence[AssetRow]) -> list[Asset]:
        tags = await self._tags(session, [row.asset_id for row in rows])
        return [row.asset(tags[row.asset_id]) for row in rows]

    async def _one(self, session: AsyncSession, asset_id: str) -> Asset | None:
        row = (await session.exec(select(AssetRow).where(AssetRow.asset_id == asset_id))).first()
        if row is None:
            return None
        return (await self._assets(session, [row]))[0]

    @staticmethod
    def _newest_first(query: Any) -> Any:
        return query.order_by(col(AssetRow.created_at).desc(), col(AssetRow.asset_id))

    async def get(self, asset_id: str) -> Asset | None:
        async with self._sessions() as session:
            return await self._one(session, asset_id)

    async def page(self, where: AssetFilter, offset: int, limit: int) -> list[Asset]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (offset={offset}, limit={limit})")
        query = select(AssetRow)
        if where.status:
            query = query.where(AssetRow.moderation_status == where.status)
        if where.owner:
            query = query.where(AssetRow.owner == where.owner)
        if where.tag:
            query = query.where(
                exists().where(col(AssetTagRow.asset_id) == col(AssetRow.asset_id), col(AssetTagRow.tag) == where.tag)
            )
        async with self._sessions() as session:
            rows = (await session.exec(self._newest_first(query).offset(offset).limit(limit))).all()
            return await self._assets(session, rows)

    async def with_status(self, status: str) -> list[Asset]:
        query = self._newest_first(select(AssetRow).where(AssetRow.moderation_status == status))
        async with self._sessions() as session:
            return await self._assets(session, (await session.exec(query)).all())

    async def existing(self, asset_ids: set[str]) -> set[str]:
        found: set[str] = set()
        async with self._sessions() as session:
            for chunk in _chunks(sorted(asset_ids)):
                found.update(
                    (await session.exec(select(AssetRow.asset_id).where(col(AssetRow.asset_id).in_(chunk)))).all()
                )
        return found

    async def renditions(self, asset_id: str) -> list[RenditionRecord]:
        query = select(RenditionRow).where(RenditionRow.asset_id == asset_id).order_by(col(RenditionRow.name))
        async with self._sessions() as session:
            return [row.record() for row in (await session.exec(query)).all()]

    async def cursor(self) -> int:
        async with self._sessions() as session:
            revision = (
                await session.exec(select(FeedCursorRow.revision).where(FeedCursorRow.id == CURSOR_ROW_ID))
            ).first()
            return int(revision or 0)

    # ---------------------------------------------------------------------------------------- writing

    @staticmethod
    async def _write_tags(session: AsyncSession, asset_id: str, tags: tuple[str, ...]) -> None:
        if tags:
            await session.exec(
                sql_insert(AssetTagRow).values(
                    [{"asset_id": asset_id, "position": index, "tag": tag} for index, tag in enumerate(tags)]
                )
            )

    async def insert(self, asset: Asset) -> None:
        values = _asset_values(asset)
        try:
            async with self._sessions() as session, session.begin():
                await session.exec(sql_insert(AssetRow).values(**values))
                await self._write_tags(session, asset.asset_id, asset.tags)
        except IntegrityError:
            # Both drivers report a key clash as IntegrityError, but so would any other constraint: it is a
            # duplicate only if the row is there now (the concurrent winner has committed by then).
            if await self.get(asset.asset_id) is not None:
                raise DuplicateAsset(asset.asset_id) from None
            raise

    @staticmethod
    def _update(asset_id: str) -> Any:
        return sql_update(AssetRow).where(col(AssetRow.asset_id) == asset_id)

    async def update_metadata(self, asset_id: str, changes: dict[str, object], at: datetime) -> Asset | None:
        checked = descriptive_changes(changes)
        columns: dict[str, Any] = {name: value for name, value in checked.items() if name != "tags"}
        if "visibility" in columns:
            columns["visibility"] = columns["visibility"].value
        columns["updated_at"] = _stored(at)
        async with self._sessions() as session, session.begin():
            updated = await session.exec(self._update(asset_id).values(**columns))
            if updated.rowcount == 0:
                return None
            if "tags" in checked:
                await session.exec(delete(AssetTagRow).where(col(AssetTagRow.asset_id) == asset_id))
                await self._write_tags(session, asset_id, checked["tags"])
            return await self._one(session, asset_id)

    async def set_moderation(self, asset_id: str, moderation: Moderation, at: datetime) -> Asset | None:
        values = {**_moderation_values(moderation), "updated_at": _stored(at)}
        async with self._sessions() as session, session.begin():
            updated = await session.exec(self._update(asset_id).values(**values))
            if updated.rowcount == 0:
                return None
            return await self._one(session, asset_id)

    async def delete(self, asset_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RenditionRow).where(col(RenditionRow.asset_id) == asset_id))
            await session.exec(delete(AssetTagRow).where(col(AssetTagRow.asset_id) == asset_id))
            removed = await session.exec(delete(AssetRow).where(col(AssetRow.asset_id) == asset_id))
            return bool(removed.rowcount)

    async def save_rendition(self, record: RenditionRecord) -> None:
        """Insert or replace the record of (asset, name); nothing is saved when the asset has no row (it was
        deleted while the rendition was made: its renditions went with it)."""
        values = {
            "asset_id": record.asset_id,
            "name": record.name,
            "state": RenditionState(record.state).value,
            "content_type": record.content_type,
            "width": record.width,
            "height": record.height,
            "size_bytes": record.size_bytes,
            "sha256": record.sha256,
            "error": record.error,
            "attempts": record.attempts,
            "retry_at": _stored(record.retry_at) if record.retry_at is not None else None,
        }
        try:
            async with self._sessions() as session, session.begin():
                await session.exec(_upsert(session, RenditionRow, values, ["asset_id", "name"]))
        except IntegrityError:
            # The foreign key refused the row: no asset (any other failure has the asset present).
            if await self.get(record.asset_id) is not None:
                raise

    async def delete_renditions(self, asset_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RenditionRow).where(col(RenditionRow.asset_id) == asset_id))

    async def save_cursor(self, revision: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(_upsert(session, FeedCursorRow, {"id": CURSOR_ROW_ID, "revision": revision}, ["id"]))


# ------------------------------------------------------------------------------------------- short links


class LinkRow(SQLModel, table=True):
    """One short link. Its tags and UTM pairs are small ordered lists never filtered on: JSON text."""

    __tablename__ = "sharelinks_links"

    code: str = Field(sa_column=Column(String(), primary_key=True))
    asset_id: str = Field(
        sa_column=Column(String(), ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"), nullable=False)
    )
    title: str = Field(sa_column=Column(Text(), nullable=False))
    description: str = Field(sa_column=Column(Text(), nullable=False))
    tags: str = Field(sa_column=Column(Text(), nullable=False))
    creator: str = Field(sa_column=Column(String(), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    max_clicks: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    disabled: bool = Field(sa_column=Column(Boolean(), nullable=False))
    redirect_status: int
    utm: str = Field(sa_column=Column(Text(), nullable=False))
    clicks: int = Field(sa_column=Column(BigInteger(), nullable=False))
    previews: int = Field(sa_column=Column(BigInteger(), nullable=False))
    last_click_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))

    def link(self) -> ShareLink:
        return ShareLink(
            code=self.code,
            asset_id=self.asset_id,
            title=self.title,
            description=self.description,
            tags=tuple(json.loads(self.tags)),
            creator=self.creator,
            created_at=_loaded(self.created_at),
            updated_at=_loaded(self.updated_at),
            expires_at=_loaded(self.expires_at) if self.expires_at is not None else None,
            max_clicks=self.max_clicks,
            disabled=self.disabled,
            redirect_status=self.redirect_status,
            utm=tuple((key, value) for key, value in json.loads(self.utm)),
            clicks=self.clicks,
            previews=self.previews,
            last_click_at=_loaded(self.last_click_at) if self.last_click_at is not None else None,
        )


_links_table: Any = LinkRow.__table__  # type: ignore[attr-defined]
Index("ix_sharelinks_links_list_order", _links_table.c.created_at.desc(), _links_table.c.code)
Index("ix_sharelinks_links_asset", _links_table.c.asset_id, _links_table.c.created_at.desc())

#: Columns ``update_link`` may set, and how each is stored.
_LINK_COLUMNS: dict[str, Any] = {
    "title": str,
    "description": str,
    "tags": lambda tags: json.dumps(list(tags)),
    "expires_at": lambda at: _stored(at) if at is not None else None,
    "max_clicks": lambda n: n,
    "disabled": bool,
    "redirect_status": int,
    "utm": lambda pairs: json.dumps([list(pair) for pair in pairs]),
}


def _link_values(link: ShareLink) -> dict[str, Any]:
    values = {name: store(getattr(link, name)) for name, store in _LINK_COLUMNS.items()}
    return {
        **values,
        "code": link.code,
        "asset_id": link.asset_id,
        "creator": link.creator,
        "created_at": _stored(link.created_at),
        "updated_at": _stored(link.updated_at),
        "clicks": link.clicks,
        "previews": link.previews,
        "last_click_at": _stored(link.last_click_at) if link.last_click_at is not None else None,
    }


class SqlLinkStore:
    """:class:`services.sharelinks.ports.LinkStore` on an async SQLAlchemy engine; counters change in one
    UPDATE each, so concurrent clicks on several replicas add up exactly and never pass a limit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    @staticmethod
    def _where(code: str) -> Any:
        return sql_update(LinkRow).where(col(LinkRow.code) == code)

    @staticmethod
    async def _one(session: AsyncSession, code: str) -> ShareLink | None:
        row = (await session.exec(select(LinkRow).where(LinkRow.code == code))).first()
        return row.link() if row is not None else None

    async def insert_link(self, link: ShareLink) -> None:
        values = _link_values(link)
        try:
            async with self._sessions() as session, session.begin():
                await session.exec(sql_insert(LinkRow).values(**values))
        except IntegrityError:
            if await self.get_link(link.code) is not None:
                raise DuplicateCode(link.code) from None
            raise

    async def get_link(self, code: str) -> ShareLink | None:
        async with self._sessions() as session:
            return await self._one(session, code)

    async def links(self, asset_id: str, offset: int, limit: int) -> list[ShareLink]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (offset={offset}, limit={limit})")
        query = select(LinkRow)
        if asset_id:
            query = query.where(LinkRow.asset_id == asset_id)
        query = query.order_by(col(LinkRow.created_at).desc(), col(LinkRow.code)).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [row.link() for row in (await session.exec(query)).all()]

    async def update_link(self, code: str, changes: dict[str, object], at: datetime) -> ShareLink | None:
        unknown = set(changes) - set(_LINK_COLUMNS)
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        values = {name: _LINK_COLUMNS[name](value) for name, value in changes.items()}
        async with self._sessions() as session, session.begin():
            updated = await session.exec(self._where(code).values(**values, updated_at=_stored(at)))
            if updated.rowcount == 0:
                return None
            return await self._one(session, code)

    async def delete_link(self, code: str) -> bool:
        async with self._sessions() as session, session.begin():
            removed = await session.exec(delete(LinkRow).where(col(LinkRow.code) == code))
            return bool(removed.rowcount)

    async def count_click(self, code: str, at: datetime) -> tuple[ShareLink, bool] | None:
        under_limit = or_(col(LinkRow.max_clicks).is_(None), col(LinkRow.clicks) < col(LinkRow.max_clicks))
        async with self._sessions() as session, session.begin():
            counted = await session.exec(
                self._where(code).where(under_limit).values(clicks=LinkRow.clicks + 1, last_click_at=_stored(at))
            )
            link = await self._one(session, code)
            return (link, bool(counted.rowcount)) if link is not None else None

    async def add_clicks(self, code: str, count: int, at: datetime) -> None:
        stored = _stored(at)
        later = case(
            (or_(col(LinkRow.last_click_at).is_(None), col(LinkRow.last_click_at) < stored), stored),
            else_=col(LinkRow.last_click_at),
        )
        async with self._sessions() as session, session.begin():
            await session.exec(self._where(code).values(clicks=LinkRow.clicks + count, last_click_at=later))

    async def count_preview(self, code: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(self._where(code).values(previews=LinkRow.previews + 1))

    async def delete_links_of(self, asset_id: str) -> int:
        async with self._sessions() as session, session.begin():
            removed = await session.exec(delete(LinkRow).where(col(LinkRow.asset_id) == asset_id))
            return int(removed.rowcount)
