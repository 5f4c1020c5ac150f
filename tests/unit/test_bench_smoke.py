"""The bench runs; its figures are never asserted on, only that one was produced."""

from __future__ import annotations

import bench.__main__ as bench_main


def test_the_smallest_posting_workload_produces_a_throughput_on_sqlite() -> None:
    figures, skipped = bench_main.run(
        ["sqlite"], {}, ["posting"], scale=0.005, seed=1, say=lambda _: None
    )
    throughput = [f.value for f in figures if f.metric == "throughput"]
    assert skipped == []
    assert throughput
    assert throughput[0] > 0
