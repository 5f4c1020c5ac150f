"""``python -m bench``: run the workloads on each database, print and save the figures."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from bench.common import Context, Figure, SkippedError, Target, analyze, new_book
from bench.data import four_posting_entries
from bench.repeat import all_skips, medians
from bench.report import table, write_json
from bench.workloads import WORKLOADS
from cps_ledger.adapters.engine import make_engine
from cps_ledger.adapters.schema import upgrade
from cps_ledger.services.ledger import post_entries
from cps_ledger.testing.databases import ServerUnavailableError, temporary_database


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--sqlite-url", help="default: a SQLite file in a temporary directory")
    p.add_argument("--postgres-url", help="default: a fresh database on the local server")
    p.add_argument("--mariadb-url", help="default: a fresh database on the local server")
    p.add_argument("--backends", default="sqlite,postgresql,mariadb")
    p.add_argument("--only", action="append", choices=sorted(WORKLOADS), help="repeatable")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--repeat",
        type=_runs,
        default=1,
        help="run everything N times, each on fresh databases; print each figure's median",
    )
    return p


def _runs(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {count}")
    return count


@contextmanager
def _target(backend: str, given: str | None) -> Iterator[Target]:
    if given:
        engine = make_engine(given)
        upgrade(engine)
        engine.dispose()
        yield Target(backend, given)
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cps-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            yield Target(backend, url)
    else:
        with temporary_database(backend) as server_url:
            yield Target(backend, server_url.render_as_string(hide_password=False))


def warmed_up(url: str, seed: int) -> Engine:
    """An engine on ``url`` after a small warm-up load and, on PostgreSQL, ANALYZE.

    A fresh PostgreSQL database plans look-ups on empty tables (sequential scans) until
    statistics exist; production databases have statistics (autovacuum), so the bench
    measures that steady state.
    """
    engine = make_engine(url)
    for _ in post_entries(engine, four_posting_entries(new_book(engine, "warm"), 2000, seed=seed)):
        pass
    if engine.dialect.name == "postgresql":
        analyze(engine)
        engine.dispose()  # plans are cached per server session
    return engine


ANALYZE_EVERY_S = 15.0
_CHANGED_TABLES = text(
    "SELECT relname FROM pg_stat_user_tables"
    " WHERE n_mod_since_analyze > 50 + 0.1 * n_live_tup ORDER BY relname"
)


@contextmanager
def autoanalyze(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, ANALYZE what autovacuum would while a workload runs.

    A default server refreshes statistics as tables grow; a server with autovacuum off (as
    on the machine these figures were first taken on) keeps the statistics of the empty
    tables, and look-ups by key turn into scans. The bench measures the default: every few
    seconds, each table changed by more than autovacuum's threshold since its last ANALYZE
    (50 rows + 10%) is analyzed, and a table nothing writes to is left alone (it used to
    re-analyze 10,000,000 postings every 15 s beside the timed reads).
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    stop = threading.Event()

    def keep_analyzing() -> None:
        while not stop.wait(ANALYZE_EVERY_S):
            with engine.connect() as conn:
                changed = [name for (name,) in conn.execute(_CHANGED_TABLES).all()]
            analyze(engine, changed)

    worker = threading.Thread(target=keep_analyzing, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def run(
    backends: list[str],
    urls: dict[str, str | None],
    names: list[str],
    *,
    scale: float,
    seed: int,
    say: Callable[[str], None] = print,
) -> tuple[list[Figure], list[tuple[str, str, str]]]:
    """Run ``names`` on each backend; figures and (workload, backend, reason) skips."""
    figures: list[Figure] = []
    skipped: list[tuple[str, str, str]] = []
    for backend in backends:
        with ExitStack() as stack:
            try:
                target = stack.enter_context(_target(backend, urls.get(backend)))
            except ServerUnavailableError as exc:
                skipped += [(n, backend, f"server unavailable: {exc}") for n in names]
                continue
            engine = warmed_up(target.url, seed)
            for name in names:
                workload, backends_ok = WORKLOADS[name]
                if backend not in backends_ok:
                    continue
                say(f"[bench] {name} on {backend} …")
                ctx = Context(target, engine, scale, seed)
                try:
                    with autoanalyze(engine):
                        workload(ctx)
                except SkippedError as exc:
                    skipped.append((name, backend, str(exc)))
                except Exception as exc:  # one failing workload must not end the run
                    traceback.print_exc()
                    skipped.append((name, backend, f"failed: {type(exc).__name__}: {exc}"))
                figures += ctx.figures
            engine.dispose()
    return figures, skipped


def main(argv: list[str] | None = None) -> int:
    """Entry point; always exits 0 (benchmarks report, they never fail)."""
    args = _parser().parse_args(argv)
    started = datetime.now(UTC).isoformat()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    urls = {"sqlite": args.sqlite_url, "postgresql": args.postgres_url, "mariadb": args.mariadb_url}
    names = args.only or list(WORKLOADS)
    runs = [
        run(backends, urls, names, scale=args.scale, seed=args.seed) for _ in range(args.repeat)
    ]
    figures = medians([figures for figures, _ in runs])
    skipped = all_skips([skipped for _, skipped in runs])
    print(table(figures, skipped))
    meta = {
        "started_at": started,
        "scale": args.scale,
        "seed": args.seed,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "argv": sys.argv[1:] if argv is None else argv,
    }
    print(f"\nwritten: {write_json(figures, skipped, meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
