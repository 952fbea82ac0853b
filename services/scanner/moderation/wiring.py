"""Moderation's parts for the scanner process (its ``__main__`` wires them in)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from clearframe_runtime.settings import load_settings
from services.scanner.moderation.adapters.sql import SqlModerationStore
from services.scanner.moderation.api import ScanListener
from services.scanner.moderation.domain import Moderation, UrlPolicy
from services.scanner.moderation.feed import DecisionFeed
from services.scanner.moderation.settings import ModerationSettings
from services.scanner.moderation.webhooks import DeliveryWorker


@dataclass(frozen=True)
class ModerationParts:
    moderation: Moderation
    deliveries: DeliveryWorker
    #: Records every completed scan's automated decision (and every failed scan's feed event).
    listener: ScanListener
    #: WatchDecisions streams, woken by this process's decisions and failures.
    feed: DecisionFeed


def moderation_parts(sessions: async_sessionmaker[AsyncSession], webhook_client: httpx.AsyncClient) -> ModerationParts:
    """Moderation on the scanner's database, its webhook delivery worker, the scan listener, and the
    decision feed."""
    settings = load_settings("scanner", ModerationSettings)
    store = SqlModerationStore(sessions)
    feed = DecisionFeed(
        store,
        poll_s=settings.watch_poll_s,
        heartbeat_s=settings.watch_heartbeat_s,
        max_streams=settings.watch_max_streams,
    )
    deliveries = DeliveryWorker(
        store,
        webhook_client,
        timeout_s=settings.webhook_timeout_s,
        concurrency=settings.webhook_concurrency,
        poll_s=settings.webhook_poll_s,
    )
    moderation = Moderation(
        store,
        url_policy=UrlPolicy(
            allow_loopback=settings.webhook_allow_loopback,
            allowed_private_hosts=frozenset(
                h.strip().lower() for h in settings.webhook_allowed_private_hosts.split(",") if h.strip()
            ),
        ),
        on_deliveries=deliveries.wake,
        on_events=feed.notify,
    )
    return ModerationParts(moderation, deliveries, ScanListener(moderation), feed)
