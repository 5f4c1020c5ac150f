"""Workload 8: ``cps-ledger ingest FILE`` of a generated JSON Lines file."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BOOK_TOML, Context, SkippedError, rate
from bench.data import paid_orders, setup_events

CLI_LINES_BASE = 20_000
PROMOTERS = 2_000


def cli_ingest(ctx: Context) -> None:
    """Events/s and peak RSS of the installed CLI ingesting a file."""
    cli = Path(sys.executable).with_name("cps-ledger")
    try:
        subprocess.run([str(cli), "--help"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SkippedError(f"the cps-ledger CLI is not usable yet ({exc})") from None
    n = ctx.size(CLI_LINES_BASE, 100)
    runs = [1] if ctx.engine.dialect.name == "sqlite" else [1, 2]
    for workers in runs:
        _one_run(ctx, cli, n, workers)


def _one_run(ctx: Context, cli: Path, n: int, workers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cps-bench-cli-") as tmp:
        book = f"cli{workers}x{int(time.time())}"
        toml = Path(tmp) / "book.toml"
        toml.write_text(BOOK_TOML.format(code=book))
        base = [str(cli), "--database-url", ctx.target.url, "--json"]
        subprocess.run([*base, "book", "apply", str(toml)], capture_output=True, check=True)
        events = Path(tmp) / "events.jsonl"
        with events.open("w") as f:
            for e in setup_events(book, PROMOTERS, seed=ctx.seed):
                f.write(json.dumps(e) + "\n")
            for e in paid_orders(book, n - 2 * PROMOTERS, PROMOTERS, seed=ctx.seed):
                f.write(json.dumps(e) + "\n")
        timer = shutil.which("time") or "/usr/bin/time"
        wrap = [timer, "-v"] if Path(timer).exists() else []
        start = time.perf_counter()
        done = subprocess.run(
            [*wrap, *base, "ingest", "--workers", str(workers), str(events)],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        summary = json.loads(done.stdout)
        # GNU time reports the largest resident size of the command or of any process it
        # waited for (the workers): per process, not summed.
        peak_kb = next(
            (int(ln.split(":")[1]) for ln in done.stderr.splitlines() if "Maximum resident" in ln),
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
    suffix = "" if workers == 1 else f", {workers} workers"
    if workers == 1:
        ctx.add("cli_ingest", "events", summary["read"], "events")
    ctx.add("cli_ingest", f"rejected{suffix}", summary["rejected"], "events")
    ctx.add("cli_ingest", f"throughput{suffix}", rate(summary["read"], seconds), "events/s")
    ctx.add("cli_ingest", f"peak RSS{suffix}", peak_kb / 1024, "MB")
