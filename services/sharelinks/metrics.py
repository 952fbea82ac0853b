"""The sharelinks service's own metrics (beside the runtime's per-RPC ones): deliveries of asset bytes and
visits of short links by HTTP status, and the usage-event sender's backlog, sends and losses.

Instruments come from the global meter (bound to the process's provider by clearframe_runtime.metrics; in
unit tests they record nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

meter = metrics.get_meter("clearframe.sharelinks")

#: `/a/{id}` and its renditions, by status (200, 206, 304, 416 …) and whether a rendition was asked for.
deliveries = meter.create_counter(
    "clearframe.sharelinks.deliveries", unit="{response}", description="Asset deliveries by HTTP status"
)
#: `/s/{code}` answers by status (301/302/307/308 redirect, 200 card for a link crawler, 410 gone).
visits = meter.create_counter(
    "clearframe.sharelinks.link_visits", unit="{response}", description="Short-link visits by HTTP status"
)


def observe_events(buffered: Callable[[], int], sent: Callable[[], int], lost: Callable[[], int]) -> None:
    """Gauges of the usage-event sender: waiting now, sent and lost (buffer overflow or refused) so far."""

    def reading(value: Callable[[], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda options: [Observation(value())]

    meter.create_observable_gauge(
        "clearframe.sharelinks.events.buffered", [reading(buffered)], unit="{event}",
        description="Usage events (CLICK, VIEW) waiting for the analytics service",
    )  # fmt: skip
    meter.create_observable_counter(
        "clearframe.sharelinks.events.sent", [reading(sent)], unit="{event}",
        description="Usage events analytics acknowledged",
    )  # fmt: skip
    meter.create_observable_counter(
        "clearframe.sharelinks.events.lost", [reading(lost)], unit="{event}",
        description="Usage events dropped: the buffer was full, or analytics refused them as invalid",
    )  # fmt: skip
