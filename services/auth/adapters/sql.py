"""Tokens and API keys in SQL (SQLite or Postgres) through SQLModel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.auth.ports import ApiKeyRecord, TokenRecord

metadata = SQLModel.metadata


class TokenRow(SQLModel, table=True):
    __tablename__ = "auth_tokens"

    id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(index=True, max_length=254)
    secret_digest: str = Field(unique=True, max_length=64)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    issued_by: str = Field(max_length=300)
    issued_to_ip: str = Field(default="", max_length=64)
    last_used_at: datetime | None = None
    last_used_ip: str = Field(default="", max_length=64)

    def record(self) -> TokenRecord:
        return TokenRecord(
            token_id=self.id,
            subject=self.subject,
            created_at=self.created_at,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
            issued_by=self.issued_by,
            issued_to_ip=self.issued_to_ip,
            last_used_at=self.last_used_at,
            last_used_ip=self.last_used_ip,
        )


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "auth_api_keys"

    id: str = Field(primary_key=True, max_length=32)
    display_name: str = Field(max_length=100)
    secret_digest: str = Field(unique=True, max_length=64)
    permissions: str = Field(max_length=1000)  # space-separated permission names
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_at: datetime | None = None
    last_used_at: datetime | None = None
    last_used_ip: str = Field(default="", max_length=64)
    created_by: str = Field(default="", max_length=300)

    def record(self) -> ApiKeyRecord:
        return ApiKeyRecord(
            key_id=self.id,
            display_name=self.display_name,
            permissions=frozenset(self.permissions.split()),
            created_at=self.created_at,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
            rotated_at=self.rotated_at,
            last_used_at=self.last_used_at,
            last_used_ip=self.last_used_ip,
            created_by=self.created_by,
        )


class SqlCredentialStore:
    """:class:`services.auth.ports.CredentialStore` on an async SQLAlchemy engine."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def add_token(self, record: TokenRecord, secret_digest: str) -> None:
        async with self._sessions() as session:
            session.add(
                TokenRow(
                    id=record.token_id,
                    subject=record.subject,
                    secret_digest=secret_digest,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    issued_by=record.issued_by,
                    issued_to_ip=record.issued_to_ip,
                )
            )
            await session.commit()

    async def token_by_digest(self, secret_digest: str) -> TokenRecord | None:
        async with self._sessions() as session:
            row = (await session.exec(select(TokenRow).where(TokenRow.secret_digest == secret_digest))).first()
            return row.record() if row else None

    async def token_by_id(self, token_id: str) -> TokenRecord | None:
        async with self._sessions() as session:
            row = await session.get(TokenRow, token_id)
            return row.record() if row else None

    async def current_tokens(
        self, *, subject: str, issued_by: str, active_at: datetime, limit: int
    ) -> list[tuple[TokenRecord, str]]:
        query = (
            select(TokenRow)
            .where(
                TokenRow.subject == subject,
                TokenRow.issued_by == issued_by,
                col(TokenRow.revoked_at).is_(None),
                TokenRow.expires_at > active_at,
            )
            .order_by(col(TokenRow.created_at).desc(), col(TokenRow.id))
            .limit(limit)
        )
        async with self._sessions() as session:
            return [(row.record(), row.secret_digest) for row in (await session.exec(query)).all()]

    async def list_tokens(
        self, *, subject: str | None, active_at: datetime | None, offset: int, limit: int
    ) -> list[TokenRecord]:
        query = select(TokenRow)
        if subject:
            query = query.where(TokenRow.subject == subject)
        if active_at is not None:
            query = query.where(col(TokenRow.revoked_at).is_(None), TokenRow.expires_at > active_at)
        query = query.order_by(col(TokenRow.created_at).desc(), col(TokenRow.id)).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [row.record() for row in (await session.exec(query)).all()]

    async def revoke_tokens(
        self, *, subject: str, at: datetime, issued_to_ip: str | None = None, except_id: str | None = None
    ) -> int:
        statement = (
            update(TokenRow)
            .where(col(TokenRow.subject) == subject, col(TokenRow.revoked_at).is_(None))
            .values(revoked_at=at)
        )
        if issued_to_ip is not None:
            statement = statement.where(col(TokenRow.issued_to_ip) == issued_to_ip)
        if except_id is not None:
            statement = statement.where(col(TokenRow.id) != except_id)
        async with self._sessions() as session:
            result = await session.exec(statement)
            await session.commit()
            return int(result.rowcount or 0)

    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None:
        async with self._sessions() as session:
            row = await session.get(TokenRow, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at
                session.add(row)
                await session.commit()
            return row.record()

    async def touch_token(self, token_id: str, at: datetime, ip: str) -> None:
        async with self._sessions() as session:
            await session.exec(
                update(TokenRow).where(col(TokenRow.id) == token_id).values(last_used_at=at, last_used_ip=ip)
            )
            await session.commit()

    async def count_api_keys(self) -> int:
        async with self._sessions() as session:
            return int((await session.exec(select(func.count()).select_from(ApiKeyRow))).one())

    async def add_api_key(self, record: ApiKeyRecord, secret_digest: str) -> None:
        async with self._sessions() as session:
            session.add(
                ApiKeyRow(
                    id=record.key_id,
                    display_name=record.display_name,
                    secret_digest=secret_digest,
                    permissions=" ".join(sorted(record.permissions)),
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    created_by=record.created_by,
                )
            )
            await session.commit()

    async def api_key_by_digest(self, secret_digest: str) -> ApiKeyRecord | None:
        async with self._sessions() as session:
            row = (await session.exec(select(ApiKeyRow).where(ApiKeyRow.secret_digest == secret_digest))).first()
            return row.record() if row else None

    async def api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, key_id)
            return row.record() if row else None

    async def list_api_keys(self, *, active_at: datetime | None, offset: int, limit: int) -> list[ApiKeyRecord]:
        query = select(ApiKeyRow)
        if active_at is not None:
            query = query.where(
                col(ApiKeyRow.revoked_at).is_(None),
                or_(col(ApiKeyRow.expires_at).is_(None), col(ApiKeyRow.expires_at) > active_at),
            )
        query = query.order_by(col(ApiKeyRow.created_at).desc(), col(ApiKeyRow.id)).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [row.record() for row in (await session.exec(query)).all()]

    async def revoke_api_key(self, key_id: str, at: datetime) -> ApiKeyRecord | None:
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at
                session.add(row)
                await session.commit()
            return row.record()

    async def rotate_api_key(self, key_id: str, secret_digest: str, at: datetime) -> ApiKeyRecord | None:
        async with self._sessions() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None:
                return None
            row.secret_digest = secret_digest
            row.rotated_at = at
            session.add(row)
            await session.commit()
            return row.record()

    async def touch_api_key(self, key_id: str, at: datetime, ip: str) -> None:
        async with self._sessions() as session:
            await session.exec(
                update(ApiKeyRow).where(col(ApiKeyRow.id) == key_id).values(last_used_at=at, last_used_ip=ip)
            )
            await session.commit()
