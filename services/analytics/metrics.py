"""The analytics ingest as metrics, read from the ingestor's statistics at each collection:
``clearframe_analytics_events_stored_total`` (ingest rate), ``clearframe_analytics_commits_total``
(transactions; events per commit = stored / commits), ``clearframe_analytics_ingest_refused_total`` (calls
refused for backpressure) and ``clearframe_analytics_ingest_pending`` (events waiting: the queue depth).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from services.analytics.domain.ingest import IngestStats

meter = metrics.get_meter("clearframe.analytics")


def observe_ingest(stats: Callable[[], IngestStats]) -> None:
    def reading(field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda options: [Observation(getattr(stats(), field))]

    meter.create_observable_counter(
        "clearframe.analytics.events_stored", [reading("stored")], unit="{event}",
        description="Events durably written",
    )  # fmt: skip
    meter.create_observable_counter(
        "clearframe.analytics.commits", [reading("groups")], unit="{transaction}",
        description="Group-commit transactions written",
    )  # fmt: skip
    meter.create_observable_counter(
        "clearframe.analytics.ingest_refused", [reading("refused")], unit="{call}",
        description="Ingest calls refused because the backlog was full",
    )  # fmt: skip
    meter.create_observable_gauge(
        "clearframe.analytics.ingest_pending", [reading("pending")], unit="{event}",
        description="Events accepted and waiting to be written",
    )  # fmt: skip
