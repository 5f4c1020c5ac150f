"""``python -m bench --repeat``: each figure is the median of the runs that measured it."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import bench.__main__ as bench_main
import pytest
from bench.common import Figure
from bench.repeat import all_skips, medians
from bench.report import table
from hypothesis import given
from hypothesis import strategies as st

METRICS = ("throughput", "raw bulk insert", "ratio to raw")
UNITS = {"throughput": "orders/s", "raw bulk insert": "orders/s", "ratio to raw": "x"}


def _figure(metric: str, value: float, backend: str = "postgresql") -> Figure:
    return Figure("ingest", backend, metric, value, UNITS[metric])


values = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(st.lists(st.lists(st.tuples(st.sampled_from(METRICS), values), max_size=4), min_size=2))
def test_each_figure_is_the_median_of_the_runs_that_measured_it(
    runs: list[list[tuple[str, float]]],
) -> None:
    # A metric may be missing from a run (a workload skipped or failed there).
    figures = [[_figure(metric, value) for metric, value in run] for run in runs]
    combined = medians(figures)
    expected: dict[str, list[float]] = {}
    for run in runs:
        for metric, value in run:
            expected.setdefault(metric, []).append(value)
    assert [f.metric for f in combined] == list(expected)  # in the order first measured
    for f in combined:
        assert f.runs == tuple(expected[f.metric])
        assert f.value == statistics.median(expected[f.metric])
        assert min(f.runs) <= f.value <= max(f.runs)
        assert (f.workload, f.backend, f.unit) == ("ingest", "postgresql", UNITS[f.metric])


def test_figures_of_different_backends_or_metrics_are_never_merged() -> None:
    runs = [
        [_figure("ratio to raw", 0.4), _figure("ratio to raw", 0.9, backend="sqlite")],
        [_figure("ratio to raw", 0.6), _figure("throughput", 5000.0)],
        [_figure("ratio to raw", 0.5)],
    ]
    combined = {(f.backend, f.metric): f for f in medians(runs)}
    assert combined[("postgresql", "ratio to raw")].value == 0.5
    assert combined[("postgresql", "ratio to raw")].runs == (0.4, 0.6, 0.5)
    assert combined[("sqlite", "ratio to raw")].runs == (0.9,)
    assert combined[("postgresql", "throughput")].runs == (5000.0,)


def test_a_single_run_comes_back_unchanged_and_prints_as_before() -> None:
    run = [_figure("throughput", 6422.0), _figure("ratio to raw", 0.58)]
    assert medians([run]) == run
    text = table(run, [])
    assert text.splitlines()[0].split() == ["workload", "backend", "metric", "value", "unit"]
    assert "runs" not in text
    assert "6,422" in text
    assert "0.580" in text


def test_the_table_of_repeated_runs_shows_the_median_and_the_range() -> None:
    runs = [[_figure("ratio to raw", v)] for v in (0.406, 0.598, 0.481)]
    text = table(medians(runs), [])
    header, _, row = text.splitlines()
    assert header.split()[3] == "median"
    assert row.split()[-4:] == ["0.481", "x", "3:", "0.406-0.598"]


def test_skips_are_listed_once_in_the_order_met() -> None:
    a = ("reads", "mariadb", "server unavailable")
    b = ("ingest", "sqlite", "failed: RuntimeError")
    assert all_skips([[a], [b, a], []]) == [a, b]


def test_repeat_must_be_at_least_one() -> None:
    with pytest.raises(SystemExit):
        bench_main.main(["--repeat", "0"])


def test_two_runs_of_the_smallest_posting_workload_give_medians_in_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bench.report.RESULTS", tmp_path)
    argv = ["--backends", "sqlite", "--only", "posting", "--scale", "0.005", "--repeat", "2"]
    assert bench_main.main(argv) == 0
    (written,) = tmp_path.glob("*.json")
    doc = json.loads(written.read_text())
    assert doc["repeat"] == 2
    throughput = next(f for f in doc["figures"] if f["metric"] == "throughput")
    assert len(throughput["runs"]) == 2
    assert throughput["value"] == statistics.median(throughput["runs"])
    assert "runs: min-max" in capsys.readouterr().out
