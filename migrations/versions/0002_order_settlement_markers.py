"""Settlement markers and share totals on orders instead of order lines.

The lines of an order share promoter, upline and completion, so each party's shares of an
order are always settled together: marking the order, not every line, halves the rows a
settlement run updates, and the order's totals of its lines' shares (kept with them) spare
it reading any line. The index that served the old candidate query (orders by state and
completion) and the line indexes on the markers go; two order indexes serve the new one.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARKERS = ("promoter_settled", "upline_settled")
_TOTALS = (
    ("promoter_minor", "SUM(s.promoter_minor)", sa.BigInteger()),
    ("upline_minor", "SUM(s.upline_minor)", sa.BigInteger()),
    ("line_count", "COUNT(*)", sa.Integer()),
)


def _copy_markers(target: str, source: str) -> None:
    # Every line of an order carries the same markers, so any line (or the order) tells.
    for marker in _MARKERS:
        op.execute(
            f"UPDATE {target} SET {marker} = (SELECT MAX(s.{marker}) FROM {source} s "
            f"WHERE s.book = {target}.book AND s.order_id = {target}.order_id)"
        )


def upgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        for marker in _MARKERS:
            orders.add_column(sa.Column(marker, sa.String(length=7), nullable=True))
    _copy_markers("orders", "order_lines")
    with op.batch_alter_table("orders") as orders:
        for name, _, kind in _TOTALS:
            orders.add_column(sa.Column(name, kind, nullable=True))
    for name, total, _ in _TOTALS:
        op.execute(
            f"UPDATE orders SET {name} = (SELECT COALESCE({total}, 0) FROM order_lines s "
            "WHERE s.book = orders.book AND s.order_id = orders.order_id)"
        )
    with op.batch_alter_table("orders") as orders:
        for name, _, kind in _TOTALS:
            orders.alter_column(name, existing_type=kind, nullable=False)
    op.drop_index(op.f("ix_orders_book_state_completed_at"), table_name="orders")
    op.create_index(
        op.f("ix_orders_book_promoter_promoter_settled"),
        "orders",
        ["book", "promoter", "promoter_settled"],
    )
    op.create_index(
        op.f("ix_orders_book_upline_upline_settled"), "orders", ["book", "upline", "upline_settled"]
    )
    op.drop_index(op.f("ix_order_lines_book_promoter_promoter_settled"), table_name="order_lines")
    op.drop_index(op.f("ix_order_lines_book_upline_upline_settled"), table_name="order_lines")
    with op.batch_alter_table("order_lines") as lines:
        for marker in _MARKERS:
            lines.drop_column(marker)


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as lines:
        for marker in _MARKERS:
            lines.add_column(sa.Column(marker, sa.String(length=7), nullable=True))
    _copy_markers("order_lines", "orders")
    op.create_index(
        op.f("ix_order_lines_book_upline_upline_settled"),
        "order_lines",
        ["book", "upline", "upline_settled"],
    )
    op.create_index(
        op.f("ix_order_lines_book_promoter_promoter_settled"),
        "order_lines",
        ["book", "promoter", "promoter_settled"],
    )
    op.drop_index(op.f("ix_orders_book_upline_upline_settled"), table_name="orders")
    op.drop_index(op.f("ix_orders_book_promoter_promoter_settled"), table_name="orders")
    op.create_index(
        op.f("ix_orders_book_state_completed_at"), "orders", ["book", "state", "completed_at"]
    )
    with op.batch_alter_table("orders") as orders:
        for name, _, _ in reversed(_TOTALS):
            orders.drop_column(name)
        for marker in reversed(_MARKERS):
            orders.drop_column(marker)
