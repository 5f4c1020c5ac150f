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


def test_the_smallest_ingest_workload_measures_both_processes_on_sqlite() -> None:
    figures, skipped = bench_main.run(
        ["sqlite"], {}, ["ingest"], scale=0.005, seed=1, say=lambda _: None
    )
    by_metric = {f.metric: f.value for f in figures}
    assert skipped == []
    assert by_metric["orders"] == 100
    for how in ("", ", in bulk_work()"):  # each against a raw insert of its own rows
        for metric in ("throughput", "raw bulk insert", "ratio to raw"):
            assert by_metric[metric + how] > 0
    assert "throughput, 2 workers" not in by_metric  # SQLite has one writer
