"""Pooled server connections the server has dropped: replaced after idling, reported if fresh.

The pool pings a connection only when it has been idle longer than ``ping_after_idle_s``
(a ping per checkout cost a round trip per read). These tests drop the pooled connection
from the server's side, as a restart or an idle timeout would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from cps_ledger.adapters.engine import make_engine
from cps_ledger.errors import DatabaseUnavailableError
from cps_ledger.services.uow import UnitOfWork, transact


def _session_id(engine: Engine) -> int:
    """The server's id of the connection a unit of work is given."""

    def work(uow: UnitOfWork) -> int:
        query = (
            "SELECT pg_backend_pid()"
            if engine.dialect.name == "postgresql"
            else "SELECT CONNECTION_ID()"
        )
        return int(uow.conn.execute(text(query)).scalar_one())

    return transact(engine, work, read_only=True)


def _drop(admin: Engine, session: int) -> None:
    """End ``session`` on the server and return once it is gone."""
    with admin.connect() as conn:
        if admin.dialect.name == "postgresql":
            # With a timeout, pg_terminate_backend waits for the backend to exit.
            gone = conn.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": session})
            assert gone.scalar_one() is True
        else:
            # KILL returns once the connection's thread has been told; a closed session
            # leaves the process list when its thread has ended.
            conn.execute(text(f"KILL CONNECTION {session}"))
            listed = text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :p")
            for _ in range(10_000):
                if conn.execute(listed, {"p": session}).scalar_one() == 0:
                    break
            else:
                pytest.fail(f"session {session} still listed after KILL")


@pytest.fixture
def admin(server_backend: str, database_url_for: dict[str, URL]) -> Iterator[Engine]:
    eng = make_engine(database_url_for[server_backend], isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


@contextmanager
def _pool_with_a_dropped_session(
    url: URL, admin: Engine, ping_after_idle_s: float
) -> Iterator[tuple[Engine, int]]:
    """An engine whose one pooled connection the server has just dropped, and its id."""
    engine = make_engine(url, ping_after_idle_s=ping_after_idle_s)
    try:
        first = _session_id(engine)
        _drop(admin, first)
        yield engine, first
    finally:
        engine.dispose()


def test_a_dropped_connection_idle_past_the_limit_is_replaced_before_use(
    server_backend: str, database_url_for: dict[str, URL], admin: Engine
) -> None:
    url = database_url_for[server_backend]
    with _pool_with_a_dropped_session(url, admin, ping_after_idle_s=0) as (engine, first):
        second = _session_id(engine)  # the ping fails, the pool connects anew
        assert second != first
        assert _session_id(engine) == second  # and keeps the new connection


def test_a_dropped_connection_used_within_the_limit_fails_typed_once(
    server_backend: str, database_url_for: dict[str, URL], admin: Engine
) -> None:
    url = database_url_for[server_backend]
    with _pool_with_a_dropped_session(url, admin, ping_after_idle_s=3600) as (engine, first):
        with pytest.raises(DatabaseUnavailableError):
            _session_id(engine)  # trusted without a ping: the statement meets the drop
        assert _session_id(engine) != first  # the failed connection was not pooled again
