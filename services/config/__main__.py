"""Run the config service: `python -m services.config`."""

from __future__ import annotations

from pathlib import Path

from clearframe.config.v1 import config_service_pb2, config_service_pb2_grpc
from clearframe_runtime import db
from clearframe_runtime.clock import utcnow
from clearframe_runtime.health import database_component
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import DatabaseSettings, load_settings
from services.config.adapters.sql import SqlConfigStore
from services.config.api import AnalysisConfigServicer
from services.config.domain import ChangeFeed, Configurations, ResolutionCache
from services.config.settings import ConfigSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def main() -> None:
    settings, database = load_settings("config", ConfigSettings, DatabaseSettings)
    engine = db.create_engine(database.database_url)
    configurations = Configurations(
        SqlConfigStore(db.session_factory(engine)),
        ResolutionCache(settings.config_cache_ttl_s),
        ChangeFeed(settings.config_max_watchers),
        clock=utcnow,
    )
    codec = PrincipalCodec(settings.internal_secret.get_secret_value())

    async def start() -> None:
        await db.migrate(database.database_url, MIGRATIONS)

    await serve(
        "config",
        settings,
        [
            Servicer(
                AnalysisConfigServicer(configurations, codec, heartbeat_s=settings.config_watch_heartbeat_s),
                config_service_pb2_grpc.add_AnalysisConfigServiceServicer_to_server,
                config_service_pb2.DESCRIPTOR.services_by_name["AnalysisConfigService"],
            )
        ],
        on_start=start,
        on_stop=engine.dispose,
        # Without its database no call can be answered: NOT_SERVING while it is unreachable.
        components=[database_component(engine)],
    )


if __name__ == "__main__":
    run_service("config", main)
