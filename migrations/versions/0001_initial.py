"""Initial schema: ledger core (books, accounts, journal, balances) and the CPS tables.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cps_ledger.adapters.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


JOURNAL_TABLES = ("journal_entries", "postings", "idempotency_keys")


def _create_append_only_triggers() -> None:
    # The journal is append-only (DESIGN §2.2): the database itself refuses UPDATE and
    # DELETE, so no code path, bug or hand-typed statement can rewrite history.
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION cps_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'cps_ledger: % on % refused: the journal is append-only', "
            "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        for table in JOURNAL_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION cps_ledger_append_only()"
            )
    elif dialect in ("mysql", "mariadb"):
        for table in JOURNAL_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    "FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
                    f"'cps_ledger: {action} on {table} refused: the journal is append-only'"
                )
    elif dialect == "sqlite":
        for table in JOURNAL_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'cps_ledger: {action} on {table} refused: "
                    "the journal is append-only'); END"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in JOURNAL_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cps_ledger_append_only()")


def upgrade() -> None:
    op.create_table(
        "account_balances",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("postings", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("book", "account", "shard", name=op.f("pk_account_balances")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "accounts",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("book", "code", name=op.f("pk_accounts")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "books",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("payout_minimum_minor", sa.BigInteger(), nullable=False),
        sa.Column("withholding", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("created_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_books")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("recorded_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "key", name=op.f("pk_idempotency_keys")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "journal_entries",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("effective_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.Column("recorded_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.Column("memo", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("book", "id", name=op.f("pk_journal_entries")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(
        op.f("ix_journal_entries_book_effective_at"),
        "journal_entries",
        ["book", "effective_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_journal_entries_book_key"), "journal_entries", ["book", "key"], unique=False
    )

    op.create_table(
        "order_lines",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("upline", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("rate", cps_ledger.adapters.types.DecimalText(length=32), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.Column(
            "weight_promoter", cps_ledger.adapters.types.DecimalText(length=32), nullable=False
        ),
        sa.Column(
            "weight_upline", cps_ledger.adapters.types.DecimalText(length=32), nullable=False
        ),
        sa.Column(
            "weight_platform", cps_ledger.adapters.types.DecimalText(length=32), nullable=False
        ),
        sa.Column("explanation", sa.String(length=512), nullable=False),
        sa.Column("commission_minor", sa.BigInteger(), nullable=False),
        sa.Column("promoter_minor", sa.BigInteger(), nullable=False),
        sa.Column("upline_minor", sa.BigInteger(), nullable=False),
        sa.Column("platform_minor", sa.BigInteger(), nullable=False),
        sa.Column("promoter_settled", sa.String(length=7), nullable=True),
        sa.Column("upline_settled", sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint("book", "order_id", "line", name=op.f("pk_order_lines")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(
        op.f("ix_order_lines_book_promoter_promoter_settled"),
        "order_lines",
        ["book", "promoter", "promoter_settled"],
        unique=False,
    )
    op.create_index(
        op.f("ix_order_lines_book_upline_upline_settled"),
        "order_lines",
        ["book", "upline", "upline_settled"],
        unique=False,
    )

    op.create_table(
        "orders",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("link", sa.String(length=64), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("upline", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("paid_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.Column("completed_at", cps_ledger.adapters.types.UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", cps_ledger.adapters.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("book", "order_id", name=op.f("pk_orders")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(op.f("ix_orders_book_paid_at"), "orders", ["book", "paid_at"], unique=False)
    op.create_index(
        op.f("ix_orders_book_state_completed_at"),
        "orders",
        ["book", "state", "completed_at"],
        unique=False,
    )

    op.create_table(
        "payouts",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", cps_ledger.adapters.types.UtcDateTime(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("book", "request_id", name=op.f("pk_payouts")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(op.f("ix_payouts_book_promoter"), "payouts", ["book", "promoter"], unique=False)

    op.create_table(
        "promoters",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("upline", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("registered_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "promoter", name=op.f("pk_promoters")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "refund_lines",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("commission_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("promoter_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("upline_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("platform_delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("promoter_stage", sa.String(length=16), nullable=False),
        sa.Column("upline_stage", sa.String(length=16), nullable=False),
        sa.Column("refunded_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "refund_id", "line", name=op.f("pk_refund_lines")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(
        op.f("ix_refund_lines_book_order_id"), "refund_lines", ["book", "order_id"], unique=False
    )

    op.create_table(
        "rule_sets",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("fee_rate", cps_ledger.adapters.types.DecimalText(length=32), nullable=False),
        sa.Column("upline_rate", cps_ledger.adapters.types.DecimalText(length=32), nullable=False),
        sa.Column("split_policy", sa.String(length=64), nullable=False),
        sa.Column("published_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "version", name=op.f("pk_rule_sets")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "settlement_runs",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("started_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.Column("completed_at", cps_ledger.adapters.types.UtcDateTime(), nullable=True),
        sa.Column("promoters", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("book", "period", name=op.f("pk_settlement_runs")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "settlements",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("settled_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "period", "promoter", name=op.f("pk_settlements")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "share_links",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("link", sa.String(length=64), nullable=False),
        sa.Column("promoter", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("sku", sa.String(length=64), nullable=True),
        sa.Column("created_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "link", name=op.f("pk_share_links")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "postings",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("effective_at", cps_ledger.adapters.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("book", "entry_id", "seq", name=op.f("pk_postings")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
        mysql_engine="InnoDB",
    )
    op.create_index(
        op.f("ix_postings_book_account_effective_at_amount_minor"),
        "postings",
        ["book", "account", "effective_at", "amount_minor"],
        unique=False,
    )

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index(op.f("ix_postings_book_account_effective_at_amount_minor"), table_name="postings")

    op.drop_table("postings")
    op.drop_table("share_links")
    op.drop_table("settlements")
    op.drop_table("settlement_runs")
    op.drop_table("rule_sets")
    op.drop_index(op.f("ix_refund_lines_book_order_id"), table_name="refund_lines")

    op.drop_table("refund_lines")
    op.drop_table("promoters")
    op.drop_index(op.f("ix_payouts_book_promoter"), table_name="payouts")

    op.drop_table("payouts")
    op.drop_index(op.f("ix_orders_book_state_completed_at"), table_name="orders")
    op.drop_index(op.f("ix_orders_book_paid_at"), table_name="orders")

    op.drop_table("orders")
    op.drop_index(op.f("ix_order_lines_book_upline_upline_settled"), table_name="order_lines")
    op.drop_index(op.f("ix_order_lines_book_promoter_promoter_settled"), table_name="order_lines")

    op.drop_table("order_lines")
    op.drop_index(op.f("ix_journal_entries_book_key"), table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_book_effective_at"), table_name="journal_entries")

    op.drop_table("journal_entries")
    op.drop_table("idempotency_keys")
    op.drop_table("books")
    op.drop_table("accounts")
    op.drop_table("account_balances")
