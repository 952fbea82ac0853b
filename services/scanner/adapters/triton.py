"""Triton Inference Server client for the analyzers: deadlines, bounded retries, self-healing channel.

``TritonInference`` wraps ``tritonclient.grpc.aio.InferenceServerClient`` with the failure semantics
the scanner needs:

- every call has a deadline (``timeout_s``); no attempt, retry or backoff sleep runs past it;
- only UNAVAILABLE failures (connection refused, server or model not ready) are retried, at most
  ``retries`` times, with exponential backoff and full jitter; anything else fails at once;
- Triton down → :class:`clearframe_runtime.errors.Unavailable` (reason ``TRITON_UNAVAILABLE``) within
  about a second with the defaults; deadline hit → :class:`~clearframe_runtime.errors.DeadlineExceeded`;
  any other server answer → :class:`InferenceFailed` (INTERNAL: our request was wrong, a bug);
- after an UNAVAILABLE failure the gRPC channel is replaced by a fresh one. A gRPC channel that saw its
  server go away sits in reconnect backoff (seconds, growing to minutes) and fails calls fast meanwhile;
  a fresh channel connects immediately, so the adapter recovers as soon as Triton is back, without a
  restart of the scanner.

Tensor names, shapes and dtypes are the production model configs' (``deploy/triton/models``); callers
pass the batch dimension in the array itself.

Shared memory (``shared_memory=True``, for a Triton on the same host): input tensors are written into
POSIX shared-memory regions (``/dev/shm``) registered with Triton through its system shared-memory
extension, and the request carries only their names and offsets — one copy into the region instead of
building, serializing and parsing a message of several megabytes per batch. Regions are sized in powers
of two, reused, at most ``_MAX_REGIONS`` at a time (a call finding none free goes the plain gRPC way),
registered again after Triton restarts, unregistered and removed on ``close``.

Tracing: each ``infer`` is one CLIENT span ``triton.infer <model>`` (the gRPC attempts are its children
and carry ``traceparent`` to Triton, whose own OpenTelemetry spans join the trace). The span carries the
model, the batch size, the attempts, and the server's queue and compute times taken from Triton's
statistics: the change in the model's cumulative inference statistics since the previous sample, per
request (exact when requests do not overlap, the mean of the overlapping ones otherwise, and then
``triton.server.requests_in_sample`` says over how many). Statistics are read off the answer's path, by
at most one sampler per model at a time, which serves every span that ended meanwhile: under load a
burst of inferences costs one statistics call, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype
from tritonclient.utils import shared_memory as shm

from clearframe_runtime.errors import DeadlineExceeded, Internal, Unavailable
from clearframe_runtime.observability import untraced
from services.scanner import metrics as scanner_metrics

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)
#: The statistics Triton keeps per model (``inference_stats``), in the span as ``triton.server.<name>_ms``.
_STAT_FIELDS = ("queue", "compute_input", "compute_infer", "compute_output")
#: Statistics are a small answer; on a loaded machine it can still take a moment.
_STATS_TIMEOUT_S = 2.0
#: Triton updates the statistics just after it answers: samples taken before that are tried again.
_STATS_TRIES, _STATS_RETRY_S = 5, 0.02

#: Largest message either way: a batch of 16 NudeNet frames is ~20 MB, past gRPC's 4 MiB default.
_MAX_MESSAGE_BYTES = 2**31 - 1
#: Reconnect quickly after Triton restarts (gRPC's default backoff starts at 1 s and grows to 120 s).
_CHANNEL_ARGS: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]
#: Shared-memory regions: the smallest size, and how many may exist at once (in use or free).
_MIN_REGION_BYTES = 1 << 20
_MAX_REGIONS = 24
_UNAVAILABLE = "StatusCode.UNAVAILABLE"
_DEADLINE = "StatusCode.DEADLINE_EXCEEDED"


class InferenceFailed(Internal):
    """Triton answered, but not with a result (bad request, model error): a bug, never retried."""

    default_reason = "TRITON_INFERENCE_FAILED"


@dataclass(frozen=True)
class ServerTimes:
    """Cumulative ``inference_stats`` of one model: successful requests and nanoseconds per phase."""

    requests: int
    ns: tuple[int, ...]

    def per_request_ms(self, earlier: ServerTimes) -> dict[str, float]:
        """Mean milliseconds per request of each phase between ``earlier`` and this sample."""
        count = self.requests - earlier.requests
        if count <= 0:
            return {}
        return {
            f"triton.server.{name}_ms": (now - then) / count / 1e6
            for name, now, then in zip(_STAT_FIELDS, self.ns, earlier.ns, strict=True)
        } | {"triton.server.requests_in_sample": count}


@dataclass
class _Region:
    """One system shared-memory region: its name at Triton, its ``/dev/shm`` key, its size and handle."""

    name: str
    key: str
    size: int
    handle: Any


_SHM_DIR = Path("/dev/shm")


def region_prefix(host: str, pid: int) -> str:
    """The start of every region name of scanner process ``pid`` on ``host``."""
    return f"clearframe-scanner-{host}-{pid}-"


def remove_stale_regions(shm_dir: Path = _SHM_DIR, host: str | None = None) -> list[str]:
    """Remove the regions scanner processes of this host left behind when they were killed (a clean stop
    removes its own): those whose process no longer exists. Returns the names removed."""
    prefix = region_prefix(host or socket.gethostname(), 0)[: -len("0-")]
    removed = []
    for path in shm_dir.glob(f"{prefix}*"):
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.name)
    if removed:
        log.info("triton.shared_memory.stale_removed", regions=len(removed))
    return removed


class _Regions:
    """The shared-memory regions of one TritonInference: created on demand, reused, registered lazily."""

    def __init__(self, prefix: str, max_regions: int = _MAX_REGIONS) -> None:
        self._prefix = prefix
        self._max = max_regions
        self._free: list[_Region] = []
        self._all: list[_Region] = []
        #: Names registered with the server as it is now (cleared when it may have restarted).
        self.registered: set[str] = set()
        self._made = 0

    def acquire(self, nbytes: int) -> _Region | None:
        """A free region of at least ``nbytes`` (the smallest that fits), a new one, or None at the limit."""
        fitting = [r for r in self._free if r.size >= nbytes]
        if fitting:
            region = min(fitting, key=lambda r: r.size)
            self._free.remove(region)
            return region
        if len(self._all) >= self._max:
            if not self._free:
                return None
            self._destroy(self._free.pop(0))  # a free region too small: make room for one that fits
        size = max(_MIN_REGION_BYTES, 1 << (nbytes - 1).bit_length())
        self._made += 1
        name = f"{self._prefix}-{self._made}"
        region = _Region(name, f"/{name}", size, shm.create_shared_memory_region(name, f"/{name}", size))
        self._all.append(region)
        return region

    def release(self, region: _Region) -> None:
        self._free.append(region)

    def _destroy(self, region: _Region) -> None:
        self._all.remove(region)
        self.registered.discard(region.name)
        with contextlib.suppress(Exception):
            shm.destroy_shared_memory_region(region.handle)

    @property
    def count(self) -> int:
        return len(self._all)

    async def close(self, client: InferenceServerClient | None) -> None:
        for region in list(self._all):
            if client is not None and region.name in self.registered:
                with contextlib.suppress(Exception):
                    await client.unregister_system_shared_memory(region.name, client_timeout=_STATS_TIMEOUT_S)
            self._destroy(region)
        self._free.clear()


class TritonInference:
    """Inference on one Triton server over gRPC (aio). One instance is shared by all analyzers."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.1,
        max_backoff_s: float = 1.0,
        shared_memory: bool = False,
    ) -> None:
        """
        Args:
            url: ``host:port`` of Triton's gRPC endpoint (no scheme).
            timeout_s: default per-call deadline, when a call names none.
            retries: extra attempts after an UNAVAILABLE failure (0: no retry).
            backoff_s: first backoff; doubles per retry, capped at ``max_backoff_s``, full jitter.
            shared_memory: send input tensors through system shared memory (Triton on the same host).
        """
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ValueError("timeout_s must be > 0, retries and backoff_s >= 0")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._client: InferenceServerClient | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False
        self._server_times: dict[str, ServerTimes] = {}
        self._last_means: dict[str, dict[str, float]] = {}
        #: Spans waiting for their server times (with the time their answer came), and each model's sampler.
        self._waiting: dict[str, list[tuple[Span, int]]] = {}
        self._samplers: dict[str, asyncio.Task[None]] = {}
        self._baselines: dict[str, asyncio.Task[None]] = {}
        self._regions: _Regions | None = None
        if shared_memory:
            remove_stale_regions()
            self._regions = _Regions(f"{region_prefix(socket.gethostname(), os.getpid())}{id(self):x}")

    # --- channel management ------------------------------------------------------------------------------

    def _current(self) -> InferenceServerClient:
        if self._closed:
            raise Unavailable("Triton client is closed", reason="TRITON_UNAVAILABLE")
        if self._client is None:
            self._client = InferenceServerClient(self.url, channel_args=_CHANNEL_ARGS)
        return self._client

    def _replace_channel(self, failed: InferenceServerClient) -> None:
        """Drop a channel that failed with UNAVAILABLE; the next attempt builds a fresh one."""
        if self._client is not failed:
            return  # a concurrent call already replaced it
        self._client = None
        if self._regions is not None:
            self._regions.registered.clear()  # Triton may have restarted: register again before use
        # Other calls may still be in flight on it: close it once their deadlines are surely over.
        task = asyncio.get_running_loop().create_task(self._close_later(failed, self.timeout_s))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _close_later(client: InferenceServerClient, delay_s: float) -> None:
        try:
            await asyncio.sleep(delay_s)
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    async def close(self) -> None:
        """End the spans still waiting for their server times, close every channel; later calls raise Unavailable."""
        await self.flush_spans()
        self._closed = True
        client, self._client = self._client, None
        for task in list(self._retiring):
            task.cancel()  # its finally closes the retired channel now
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._regions is not None:
            await self._regions.close(client)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    # --- calls -----------------------------------------------------------------------------------------

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, NDArray[Any]],
        outputs: Sequence[str],
        timeout_s: float | None = None,
    ) -> dict[str, NDArray[Any]]:
        """Run one inference request; returns the requested outputs by name.

        Raises:
            Unavailable: Triton (or the model) is not reachable/ready, after bounded retries.
            DeadlineExceeded: no answer within ``timeout_s``.
            InferenceFailed: Triton rejected the request or the model failed.
        """
        batch = next((int(a.shape[0]) for a in inputs.values() if a.ndim > 0), 1)
        span = tracer.start_span(
            f"triton.infer {model}",
            kind=SpanKind.CLIENT,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": "inference.GRPCInferenceService",
                "rpc.method": "ModelInfer",
                "server.address": self.url,
                "triton.model": model,
                "triton.batch_size": batch,
            },
        )
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=True, set_status_on_exception=True):
                # The counters are cumulative: the first request of a model needs a baseline of its own.
                if model not in self._server_times:
                    await self._baseline(model)
                started = time.perf_counter()
                try:
                    result = await self._infer(model, inputs, outputs, timeout_s, span)
                except Exception as exc:
                    outcome = "timeout" if isinstance(exc, DeadlineExceeded) else "error"
                    scanner_metrics.record_inference(model, outcome, time.perf_counter() - started, batch)
                    raise
                scanner_metrics.record_inference(model, "ok", time.perf_counter() - started, batch)
        except BaseException:
            span.end()
            raise
        # Triton counts a request in its statistics just after answering it: read them off the hot path,
        # and end the span at the time the answer came.
        self._waiting.setdefault(model, []).append((span, time.time_ns()))
        if model not in self._samplers:
            self._samplers[model] = asyncio.get_running_loop().create_task(self._finish_spans(model))
        return result

    async def flush_spans(self) -> None:
        """Wait until every inference span has its server times and has ended."""
        while self._samplers:
            await asyncio.gather(*list(self._samplers.values()), return_exceptions=True)

    async def _infer(
        self,
        model: str,
        inputs: Mapping[str, NDArray[Any]],
        outputs: Sequence[str],
        timeout_s: float | None,
        span: Span,
    ) -> dict[str, NDArray[Any]]:
        budget = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        arrays = {name: np.ascontiguousarray(array) for name, array in inputs.items()}
        region = None
        if self._regions is not None:
            region = self._regions.acquire(sum(a.nbytes for a in arrays.values()))
        try:
            tensors = self._tensors(arrays, region)
            span.set_attribute("triton.shared_memory", region is not None)
            return await self._attempts(model, tensors, outputs, region, budget, deadline, span)
        finally:
            if region is not None and self._regions is not None:
                self._regions.release(region)

    @staticmethod
    def _tensors(arrays: Mapping[str, NDArray[Any]], region: _Region | None) -> list[InferInput]:
        tensors = []
        offset = 0
        for name, array in arrays.items():
            tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            if region is None:
                tensor.set_data_from_numpy(array)
            else:
                shm.set_shared_memory_region(region.handle, [array], offset=offset)
                tensor.set_shared_memory(region.name, array.nbytes, offset=offset)
                offset += array.nbytes
            tensors.append(tensor)
        return tensors

    async def _register(self, client: InferenceServerClient, region: _Region, remaining: float) -> None:
        assert self._regions is not None
        if region.name in self._regions.registered:
            return
        try:
            await client.register_system_shared_memory(region.name, region.key, region.size, client_timeout=remaining)
        except InferenceServerException as exc:
            if "already" not in (exc.message() or ""):  # registered before Triton's answer to us was lost
                raise
        self._regions.registered.add(region.name)

    async def _attempts(
        self,
        model: str,
        tensors: list[InferInput],
        outputs: Sequence[str],
        region: _Region | None,
        budget: float,
        deadline: float,
        span: Span,
    ) -> dict[str, NDArray[Any]]:
        requested = [InferRequestedOutput(name) for name in outputs]

        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"Triton {model}: no answer within {budget:.2f} s", reason="TRITON_TIMEOUT")
            client = self._current()
            span.set_attribute("triton.attempts", attempt + 1)
            try:
                if region is not None:
                    await self._register(client, region, remaining)
                result = await client.infer(model, tensors, outputs=requested, client_timeout=remaining)
            except InferenceServerException as exc:
                status = exc.status() or ""
                if (
                    region is not None
                    and self._regions is not None
                    and "shared memory" in (exc.message() or "")
                    and region.name in self._regions.registered
                    and attempt < self.retries
                ):
                    # Triton lost the registration (it restarted between two calls on a healthy channel):
                    # register again and retry.
                    self._regions.registered.discard(region.name)
                    attempt += 1
                    continue
                if status == _DEADLINE:
                    raise DeadlineExceeded(
                        f"Triton {model}: no answer within {budget:.2f} s", reason="TRITON_TIMEOUT"
                    ) from exc
                if status != _UNAVAILABLE:
                    raise InferenceFailed(f"Triton {model}: {status} {exc.message()}") from exc
                self._replace_channel(client)
                delay = self._backoff(attempt)
                if attempt >= self.retries or time.monotonic() + delay >= deadline:
                    log.warning("triton.unavailable", url=self.url, model=model, attempts=attempt + 1)
                    raise Unavailable(
                        f"Triton at {self.url} is unavailable ({exc.message()})", reason="TRITON_UNAVAILABLE"
                    ) from exc
                attempt += 1
                await asyncio.sleep(delay)
                continue
            return {name: result.as_numpy(name) for name in outputs}

    async def _sample_server_times(self, model: str) -> ServerTimes | None:
        """The model's cumulative statistics now, or None when Triton does not answer at once."""
        if self._closed:
            return None
        client = self._current()
        try:
            with untraced():
                answer = await client.get_inference_statistics(model, client_timeout=_STATS_TIMEOUT_S)
        except InferenceServerException as exc:
            log.info("triton.statistics_unavailable", model=model, error=exc.message())
            return None
        for stats in answer.model_stats:
            inference = stats.inference_stats
            return ServerTimes(inference.success.count, tuple(getattr(inference, f).ns for f in _STAT_FIELDS))
        return None

    async def _baseline(self, model: str) -> None:
        """The model's first statistics sample, taken once however many first requests wait for it."""
        task = self._baselines.get(model)
        if task is None:
            task = self._baselines[model] = asyncio.get_running_loop().create_task(self._take_baseline(model))
        await asyncio.shield(task)

    async def _take_baseline(self, model: str) -> None:
        try:
            if (baseline := await self._sample_server_times(model)) is not None:
                self._server_times.setdefault(model, baseline)
        finally:
            self._baselines.pop(model, None)  # none taken (Triton busy): the next request tries again

    async def _finish_spans(self, model: str) -> None:
        """The model's sampler: end every waiting span with the server times, until none waits."""
        try:
            while spans := self._waiting.pop(model, None):
                means: dict[str, float] = {}
                try:
                    means = await self._server_means(model, len(spans))
                finally:
                    for span, end_time in spans:
                        span.set_attributes(means)
                        span.end(end_time=end_time)
        finally:
            # No await between the last (empty) look at the waiting list and this: a span that ends later
            # starts a new sampler.
            self._samplers.pop(model, None)

    async def _server_means(self, model: str, expected: int) -> dict[str, float]:
        """Per-request server times since the previous sample, once Triton has counted ``expected`` more."""
        means: dict[str, float] = {}
        for attempt in range(_STATS_TRIES):
            now = await self._sample_server_times(model)
            if now is None:
                break
            earlier = self._server_times.get(model)
            if earlier is None or now.requests < earlier.requests:  # no baseline, or Triton restarted
                self._server_times[model] = now
                break
            if now.requests - earlier.requests >= expected or (
                attempt + 1 == _STATS_TRIES and now.requests > earlier.requests
            ):
                means = now.per_request_ms(earlier)
                self._server_times[model] = now
                self._last_means[model] = means
                break
            await asyncio.sleep(_STATS_RETRY_S)
        # Counted already by an earlier sample (its means include these requests): use that sample's.
        return means or self._last_means.get(model, {})

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads the retries of many concurrent scans instead of synchronizing them.
        return random.uniform(0.0, min(self.max_backoff_s, self.backoff_s * 2**attempt))

    async def ready(self, models: Iterable[str] = ()) -> bool:
        """Whether the server and each of ``models`` are ready now (one quick probe, no retries)."""
        client = self._current()
        timeout = min(self.timeout_s, 2.0)
        try:
            if not await client.is_server_ready(client_timeout=timeout):
                return False
            for model in models:
                if not await client.is_model_ready(model, client_timeout=timeout):
                    return False
        except InferenceServerException as exc:
            if exc.status() == _UNAVAILABLE:
                self._replace_channel(client)
            return False
        return True

    async def wait_ready(self, models: Iterable[str] = (), timeout_s: float = 60.0) -> None:
        """Wait until the server and ``models`` are ready; Unavailable after ``timeout_s``."""
        wanted = tuple(models)
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        while not await self.ready(wanted):
            if time.monotonic() + delay > deadline:
                raise Unavailable(
                    f"Triton at {self.url} not ready with models {list(wanted)} after {timeout_s:.0f} s",
                    reason="TRITON_UNAVAILABLE",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def __aenter__(self) -> TritonInference:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


__all__ = ["InferenceFailed", "TritonInference"]
