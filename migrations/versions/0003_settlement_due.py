"""What is still to settle gets a table of its own; orders' markers leave their indexes.

Settlement found a page's unsettled orders through indexes on (party, marker) and marked
them with an UPDATE that changed those indexes: every marked order wrote a new version of
its row and an entry into each of the table's four indexes, scattered over the book
(docs/performance.md, finding 32). Now a completed order's unsettled sides are rows of
``settlement_due``, keyed by party, which settlement reads and deletes, and the markers
stay on ``orders`` unindexed. On PostgreSQL ``orders`` keeps 15% of every page free, so
that completing and marking an order (no indexed column changes) rewrites the row in its
own page and no index. Existing pages keep their fill until rewritten; pages written
from now on get it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cps_ledger.adapters.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIDES = (("promoter", "promoter_settled"), ("upline", "upline_settled"))
ORDERS_FILLFACTOR = 85


def upgrade() -> None:
    op.create_table(
        "settlement_due",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "book", "party", "side", "order_id", name=op.f("pk_settlement_due")
        ),
        sqlite_with_rowid=False,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    for side, marker in _SIDES:
        op.execute(
            "INSERT INTO settlement_due (book, party, side, order_id, completed_at)"
            f" SELECT book, {side}, '{side}', order_id, completed_at FROM orders"
            f" WHERE state = 'completed' AND {side} IS NOT NULL AND {marker} IS NULL"
        )
    for side, marker in _SIDES:
        op.drop_index(op.f(f"ix_orders_book_{side}_{marker}"), table_name="orders")
        op.create_index(op.f(f"ix_orders_book_{side}"), "orders", ["book", side])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE orders SET (fillfactor = {ORDERS_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders RESET (fillfactor)")
    for side, marker in reversed(_SIDES):
        op.drop_index(op.f(f"ix_orders_book_{side}"), table_name="orders")
        op.create_index(op.f(f"ix_orders_book_{side}_{marker}"), "orders", ["book", side, marker])
    # The markers on orders are the record; the due rows only repeat what they lack.
    op.drop_table("settlement_due")
