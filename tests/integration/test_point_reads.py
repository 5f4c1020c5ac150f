"""Point reads (a balance: one statement) run outside a transaction on PostgreSQL.

At READ COMMITTED a statement reads its own snapshot whether or not a transaction is open,
so a transaction around a single statement only added BEGIN and COMMIT round trips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from cps_ledger.adapters.engine import make_engine
from cps_ledger.services.uow import UnitOfWork, transact


@pytest.fixture
def pg(database_url_for: dict[str, URL]) -> Iterator[Engine]:
    eng = make_engine(database_url_for["postgresql"])
    yield eng
    eng.dispose()


def _status_after_a_statement(engine: Engine, **options: bool) -> TransactionStatus:
    def work(uow: UnitOfWork) -> TransactionStatus:
        assert uow.conn.execute(text("SELECT 1")).scalar_one() == 1
        driver = uow.conn.connection.driver_connection
        assert driver is not None
        status = TransactionStatus(driver.info.transaction_status)
        uow.commit()
        return status

    return transact(engine, work, **options)


def test_a_point_read_leaves_no_transaction_open_between_statements(pg: Engine) -> None:
    assert _status_after_a_statement(pg, point_read=True) is TransactionStatus.IDLE


def test_other_reads_and_writes_still_run_in_one_transaction(pg: Engine) -> None:
    assert _status_after_a_statement(pg, read_only=True) is TransactionStatus.INTRANS
    assert _status_after_a_statement(pg) is TransactionStatus.INTRANS
    # The connection a point read used is back at READ COMMITTED in a transaction.
    assert _status_after_a_statement(pg, point_read=True) is TransactionStatus.IDLE
    assert _status_after_a_statement(pg) is TransactionStatus.INTRANS
