"""Figures of repeated runs, each reported as its median (``python -m bench --repeat N``).

On a host whose speed drifts by a fifth from one minute to the next, one run's ratio to
the raw baseline can land on either side of a target (docs/performance.md, stop 20's
host). Each run pairs its own measurements (a ratio is of an ingest and the raw insert
timed right after it), so a repeated figure is the median of the runs' figures, never a
figure made of medians; every run's value is kept beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace

from bench.common import Figure

Skip = tuple[str, str, str]


def medians(runs: Sequence[Sequence[Figure]]) -> list[Figure]:
    """One figure per (workload, backend, metric, unit) measured in any run, in the order
    first measured: the median of the values of the runs that measured it, with ``runs``
    holding those values in run order. A single run's figures come back unchanged."""
    if len(runs) == 1:
        return list(runs[0])
    values: dict[tuple[str, str, str, str], list[float]] = {}
    first: dict[tuple[str, str, str, str], Figure] = {}
    for figures in runs:
        for f in figures:
            key = (f.workload, f.backend, f.metric, f.unit)
            first.setdefault(key, f)
            values.setdefault(key, []).append(f.value)
    return [
        replace(first[key], value=statistics.median(found), runs=tuple(found))
        for key, found in values.items()
    ]


def all_skips(runs: Sequence[Sequence[Skip]]) -> list[Skip]:
    """Every distinct skip of any run, in the order first met."""
    return list(dict.fromkeys(skip for skipped in runs for skip in skipped))
