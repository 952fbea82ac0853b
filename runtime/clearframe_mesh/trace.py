"""Show one trace as a terminal waterfall: ``python -m clearframe_mesh.trace <trace id>`` (or ``--last``).

Reads the trace keeper's address from ``<mesh dir>/endpoints.json`` (``var/mesh`` by default; ``--mesh DIR``
or ``--url http://host:port`` override). One line per span: the tree by parent (a span whose parent is not in
the trace is shown as a root), service, operation, start offset and duration in ms, status, and a bar on
the trace's time line. ``◀ slow`` marks the spans with the most self time (time not spent in a child).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from clearframe_mesh.traces import TRACE_ID, Span, short_service

DEFAULT_MESH = Path(__file__).resolve().parents[2] / "var" / "mesh"
BAR_WIDTH = 40
SLOW_MARK = "◀ slow"


class TraceError(RuntimeError):
    """What the operator is told when the trace cannot be shown."""


def self_times(spans: list[Span]) -> dict[str, int]:
    """Each span's duration less the union of its children's time inside it (ns)."""
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span.parent_span_id, []).append(span)
    result = {}
    for span in spans:
        covered = 0
        cursor = span.start_ns
        for child in sorted(children.get(span.span_id, []), key=lambda c: c.start_ns):
            start, end = max(child.start_ns, cursor), min(child.end_ns, span.end_ns)
            if end > start:
                covered += end - start
                cursor = end
        result[span.span_id] = max(0, span.end_ns - span.start_ns - covered)
    return result


def render(spans: list[Span], slowest: int = 2, width: int = BAR_WIDTH) -> str:
    """The waterfall of one trace's spans (as text, one line per span, with a header and a footnote)."""
    if not spans:
        raise TraceError("the trace has no spans")
    ids = {s.span_id for s in spans}
    children: dict[str, list[Span]] = {}
    roots = []
    for span in spans:
        if span.parent_span_id and span.parent_span_id in ids and span.parent_span_id != span.span_id:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    orphans = [s for s in roots if s.parent_span_id]
    trace_start = min(s.start_ns for s in spans)
    trace_end = max(s.end_ns for s in spans)
    total = max(1, trace_end - trace_start)
    own = self_times(spans)
    ranked = sorted((s for s in spans if own[s.span_id] > 0), key=lambda s: own[s.span_id], reverse=True)
    slow = {s.span_id for s in ranked[:slowest]}

    rows: list[tuple[str, Span]] = []
    seen: set[str] = set()

    def walk(span: Span, depth: int) -> None:
        if span.span_id in seen:  # a cycle in bad data: show each span once
            return
        seen.add(span.span_id)
        rows.append(("  " * depth, span))
        for child in sorted(children.get(span.span_id, []), key=lambda c: (c.start_ns, c.name)):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda s: (s.start_ns, s.name)):
        walk(root, 0)
    for span in spans:  # spans only reachable through a cycle
        if span.span_id not in seen:
            walk(span, 0)

    skewed = False
    labels = [f"{indent}{short_service(span.service)} {span.name}" for indent, span in rows]
    label_width = min(72, max(len(label) for label in labels))
    lines = [
        f"trace {spans[0].trace_id}  {len(spans)} spans  {total / 1e6:.1f} ms"
        + (f"  ({len(orphans)} with a parent outside the trace, shown as roots)" if orphans else ""),
        f"{'service operation':<{label_width}}  {'start ms':>9} {'dur ms':>9}  {'status':<6} timeline",
    ]
    for label, (_, span) in zip(labels, rows, strict=True):
        offset = span.start_ns - trace_start
        duration = span.end_ns - span.start_ns
        # Clock skew between hosts can put a child before its parent; offsets are from the earliest span.
        parent = next((p for p in spans if p.span_id == span.parent_span_id), None)
        skew = parent is not None and span.start_ns < parent.start_ns
        skewed = skewed or skew
        first = min(width - 1, int(offset / total * width))
        length = max(1, round(duration / total * width))
        bar = " " * first + "█" * min(length, width - first)
        status = span.status if span.status != "UNSET" else "OK"
        marks = (f" {SLOW_MARK}" if span.span_id in slow else "") + (" ⚠ starts before its parent" if skew else "")
        if span.status == "ERROR" and span.status_message:
            marks += f" ERROR: {span.status_message}"
        shown = label if len(label) <= label_width else label[: label_width - 1] + "…"
        lines.append(
            f"{shown:<{label_width}}  {offset / 1e6:9.1f} {duration / 1e6:9.1f}  {status:<6} |{bar:<{width}}|{marks}"
        )
    if slow:
        lines.append(f"{SLOW_MARK}: the {len(slow)} span(s) with the most self time (time not spent in a child span)")
    if skewed:
        lines.append("⚠: clock skew between hosts; the span is drawn where its own clock put it")
    return "\n".join(lines) + "\n"


def keeper_url(mesh: Path) -> str:
    path = mesh / "endpoints.json"
    try:
        endpoints = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise TraceError(f"{path} not found: is the mesh running (`make run`)? or pass --mesh DIR / --url") from exc
    keeper = endpoints.get("traces")
    if not keeper or not keeper.get("query"):
        raise TraceError(
            f"{path} names no trace keeper: traces go to OTEL_EXPORTER_OTLP_ENDPOINT's collector; read them there"
        )
    return str(keeper["query"])


def fetch(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", "")
        except ValueError:
            message = ""
        raise TraceError(message or f"HTTP {exc.code} from {url}") from exc
    except OSError as exc:
        raise TraceError(f"cannot reach the trace keeper at {url}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clearframe_mesh.trace", description=__doc__.split("\n")[0])
    parser.add_argument("trace_id", nargs="?", help="32 hex digits (the x-trace-id response header)")
    parser.add_argument("--last", action="store_true", help="the most recent trace")
    parser.add_argument("--mesh", type=Path, default=DEFAULT_MESH, help="mesh dir holding endpoints.json")
    parser.add_argument("--url", help="the trace keeper's HTTP address (overrides --mesh)")
    parser.add_argument("--json", action="store_true", help="print the spans as JSON instead")
    args = parser.parse_args(argv)
    try:
        if bool(args.trace_id) == args.last:
            raise TraceError("name one trace id, or --last")
        trace_id = (args.trace_id or "").strip().lower()
        if args.trace_id and not TRACE_ID.match(trace_id):
            raise TraceError(f"not a trace id (32 hex digits, as in the x-trace-id header): {args.trace_id!r}")
        base = (args.url or keeper_url(args.mesh)).rstrip("/")
        if args.last:
            recent = fetch(f"{base}/api/traces?limit=1")["traces"]
            if not recent:
                raise TraceError("the trace keeper holds no traces yet")
            trace_id = recent[0]["trace_id"]
        answer = fetch(f"{base}/api/traces/{trace_id}")
        spans = [Span.from_json(s) for s in answer["spans"]]
        print(json.dumps(answer, indent=2) if args.json else render(spans), end="" if not args.json else "\n")
    except TraceError as exc:
        print(f"trace: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
