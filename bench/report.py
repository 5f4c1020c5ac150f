"""The table printed at the end of a run, and the same figures as JSON."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Figure

RESULTS = Path(__file__).parent / "results"


def _number(value: float, unit: str) -> str:
    return f"{value:,.3f}" if unit in ("x", "s", "ms") else f"{value:,.0f}"


def table(figures: Sequence[Figure], skipped: Sequence[tuple[str, str, str]]) -> str:
    """Figures as an aligned text table, then the skipped workloads and why; figures of
    repeated runs (``--repeat``) show their median and the range of the runs."""
    repeated = any(f.runs for f in figures)
    rows = [["workload", "backend", "metric", "median" if repeated else "value", "unit"]]
    if repeated:
        rows[0].append("runs: min-max")
    for f in figures:
        row = [f.workload, f.backend, f.metric, _number(f.value, f.unit), f.unit]
        if repeated:
            low, high = (
                _number(v, f.unit)
                for v in (min(f.runs, default=f.value), max(f.runs, default=f.value))
            )
            row.append(f"{len(f.runs) or 1}: {low}-{high}")
        rows.append(row)
    columns = len(rows[0])
    widths = [max(len(r[i]) for r in rows) for i in range(columns)]
    lines = [
        "  ".join(
            c.rjust(w) if i == 3 else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"{w} on {b}: skipped: {why}" for w, b, why in skipped]
    return "\n".join(lines)


def write_json(
    figures: Sequence[Figure], skipped: Sequence[tuple[str, str, str]], meta: dict[str, Any]
) -> Path:
    """Write ``bench/results/<timestamp>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}.json"
    doc = {
        "started_at": meta.pop("started_at", stamp),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        **meta,
        "figures": [asdict(f) for f in figures],
        "skipped": [{"workload": w, "backend": b, "reason": why} for w, b, why in skipped],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path
