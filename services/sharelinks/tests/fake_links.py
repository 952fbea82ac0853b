"""An in-memory :class:`services.sharelinks.ports.LinkStore` with the SQL adapter's semantics, for fast tests of
the links domain. ``test_link_store.py`` runs the same contract tests on it and on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.sharelinks.domain.descriptive import utc
from services.sharelinks.domain.model import ShareLink
from services.sharelinks.ports import DuplicateCode

#: The fields ``update_link`` may set.
UPDATABLE = frozenset(
    {"title", "description", "tags", "expires_at", "max_clicks", "disabled", "redirect_status", "utm"}
)


def _aware(link: ShareLink) -> ShareLink:
    return replace(
        link,
        tags=tuple(link.tags),
        utm=tuple(link.utm),
        created_at=utc(link.created_at),
        updated_at=utc(link.updated_at),
        expires_at=utc(link.expires_at) if link.expires_at is not None else None,
        last_click_at=utc(link.last_click_at) if link.last_click_at is not None else None,
    )


class MemoryLinkStore:
    """Links by code. Every method finishes without awaiting, so each is atomic as a transaction is."""

    def __init__(self) -> None:
        self.rows: dict[str, ShareLink] = {}

    async def insert_link(self, link: ShareLink) -> None:
        stored = _aware(link)
        if link.code in self.rows:
            raise DuplicateCode(link.code)
        self.rows[link.code] = stored

    async def get_link(self, code: str) -> ShareLink | None:
        return self.rows.get(code)

    async def links(self, asset_id: str, offset: int, limit: int) -> list[ShareLink]:
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (offset={offset}, limit={limit})")
        chosen = [link for link in self.rows.values() if not asset_id or link.asset_id == asset_id]
        chosen.sort(key=lambda link: link.code)
        chosen.sort(key=lambda link: link.created_at, reverse=True)
        return chosen[offset : offset + limit]

    async def update_link(self, code: str, changes: dict[str, object], at: datetime) -> ShareLink | None:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        link = self.rows.get(code)
        if link is None:
            return None
        updated = _aware(replace(link, **changes, updated_at=at))  # type: ignore[arg-type]
        self.rows[code] = updated
        return updated

    async def delete_link(self, code: str) -> bool:
        return self.rows.pop(code, None) is not None

    async def count_click(self, code: str, at: datetime) -> tuple[ShareLink, bool] | None:
        link = self.rows.get(code)
        if link is None:
            return None
        if link.max_clicks is not None and link.clicks >= link.max_clicks:
            return link, False
        counted = replace(link, clicks=link.clicks + 1, last_click_at=utc(at))
        self.rows[code] = counted
        return counted, True

    async def add_clicks(self, code: str, count: int, at: datetime) -> None:
        link = self.rows.get(code)
        if link is None:
            return
        last = utc(at) if link.last_click_at is None or link.last_click_at < at else link.last_click_at
        self.rows[code] = replace(link, clicks=link.clicks + count, last_click_at=last)

    async def count_preview(self, code: str) -> None:
        link = self.rows.get(code)
        if link is not None:
            self.rows[code] = replace(link, previews=link.previews + 1)

    async def delete_links_of(self, asset_id: str) -> int:
        codes = [code for code, link in self.rows.items() if link.asset_id == asset_id]
        for code in codes:
            del self.rows[code]
        return len(codes)
