"""The seed schema, exactly as `DATABASE_SCHEMA.md` describes it.

Every table, type, default, constraint and named index of the seed document; constraint names are
PostgreSQL's own defaults, so this revision's catalog matches the seed SQL name for name (the schema
test compares them). Improvements to the seed come as later revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "securities",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("ticker", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("security_type", sa.String(length=50), nullable=False),
        sa.Column("exchange", sa.String(length=50), nullable=True),
        sa.Column("currency", sa.String(length=10), server_default=sa.text("'USD'"), nullable=True),
        sa.Column("country", sa.String(length=50), nullable=True),
        sa.Column("sector", sa.String(length=100), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("current_price", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("market_cap", sa.BigInteger(), nullable=True),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("avg_volume", sa.BigInteger(), nullable=True),
        sa.Column("pe_ratio", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("ps_ratio", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("pb_ratio", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("ev_ebitda", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("dividend_yield", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("fifty_two_week_high", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("fifty_two_week_low", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=True),
        sa.Column(
            "last_updated",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column("data_source", sa.String(length=50), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("securities_pkey")),
        sa.UniqueConstraint("ticker", "exchange", name=op.f("securities_ticker_exchange_key")),
    )
    op.create_index("idx_securities_sector", "securities", ["sector"], unique=False)
    op.create_index("idx_securities_ticker", "securities", ["ticker"], unique=False)
    op.create_index("idx_securities_type", "securities", ["security_type"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("phone_number", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column("last_login", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("verification_code", sa.String(length=10), nullable=True),
        sa.Column("verification_expires_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column(
            "preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("users_pkey")),
        sa.UniqueConstraint("email", name=op.f("users_email_key")),
        sa.UniqueConstraint("phone_number", name=op.f("users_phone_number_key")),
    )
    op.create_index("idx_users_email", "users", ["email"], unique=False)
    op.create_index("idx_users_phone", "users", ["phone_number"], unique=False)
    op.create_table(
        "portfolios",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("broker", sa.String(length=50), nullable=True),
        sa.Column("broker_account_id", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=10), server_default=sa.text("'USD'"), nullable=True),
        sa.Column("total_value", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("cash_balance", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("equity_value", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("total_return", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("day_return", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=True),
        sa.Column("is_connected", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("last_synced_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("portfolios_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("portfolios_pkey")),
    )
    op.create_index("idx_portfolios_broker", "portfolios", ["broker"], unique=False)
    op.create_index("idx_portfolios_user", "portfolios", ["user_id"], unique=False)
    op.create_table(
        "price_history",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("open", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("high", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("low", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("close", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("data_source", sa.String(length=50), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["security_id"],
            ["securities.id"],
            name=op.f("price_history_security_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("price_history_pkey")),
        sa.UniqueConstraint("security_id", "date", name=op.f("price_history_security_id_date_key")),
    )
    op.create_index(
        "idx_price_history_security_date",
        "price_history",
        ["security_id", sa.literal_column("date DESC")],
        unique=False,
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("trade_name", sa.String(length=255), nullable=False),
        sa.Column("trade_description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=50), server_default=sa.text("'draft'"), nullable=True),
        sa.Column("ai_rationale", sa.Text(), nullable=True),
        sa.Column("recommendation", sa.String(length=50), nullable=True),
        sa.Column("risk_level", sa.String(length=50), nullable=True),
        sa.Column("return_1m", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("return_3m", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("return_6m", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("return_1y", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("return_3y", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column("analyzed_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("activated_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("closed_at", postgresql.TIMESTAMP(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("trades_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("trades_pkey")),
    )
    op.create_index(
        "idx_trades_created", "trades", [sa.literal_column("created_at DESC")], unique=False
    )
    op.create_index("idx_trades_status", "trades", ["status"], unique=False)
    op.create_index("idx_trades_user", "trades", ["user_id"], unique=False)
    op.create_table(
        "broker_connections",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("portfolio_id", sa.UUID(), nullable=True),
        sa.Column("broker", sa.String(length=50), nullable=False),
        sa.Column("broker_account_id", sa.String(length=255), nullable=True),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("api_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=True),
        sa.Column("is_connected", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("last_connected_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("last_sync_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("can_read", sa.Boolean(), server_default=sa.text("true"), nullable=True),
        sa.Column("can_trade", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("broker_connections_portfolio_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("broker_connections_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("broker_connections_pkey")),
        sa.UniqueConstraint(
            "user_id",
            "broker",
            "broker_account_id",
            name=op.f("broker_connections_user_id_broker_broker_account_id_key"),
        ),
    )
    op.create_index("idx_broker_connections_user", "broker_connections", ["user_id"], unique=False)
    op.create_table(
        "portfolio_holdings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("portfolio_id", sa.UUID(), nullable=False),
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("average_entry_price", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("current_price", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("market_value", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("cost_basis", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("unrealized_pnl", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("unrealized_pnl_percent", sa.Numeric(precision=10, scale=4), nullable=True),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column("last_synced_at", postgresql.TIMESTAMP(), nullable=True),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("portfolio_holdings_portfolio_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_id"], ["securities.id"], name=op.f("portfolio_holdings_security_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("portfolio_holdings_pkey")),
        sa.UniqueConstraint(
            "portfolio_id",
            "security_id",
            "side",
            name=op.f("portfolio_holdings_portfolio_id_security_id_side_key"),
        ),
    )
    op.create_index("idx_holdings_portfolio", "portfolio_holdings", ["portfolio_id"], unique=False)
    op.create_index("idx_holdings_security", "portfolio_holdings", ["security_id"], unique=False)
    op.create_table(
        "positions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("trade_id", sa.UUID(), nullable=False),
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("position_type", sa.String(length=50), nullable=False),
        sa.Column("security_type", sa.String(length=50), nullable=False),
        sa.Column("allocation_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("entry_price", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("current_price", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("market_value", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("unrealized_pnl", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column(
            "status", sa.String(length=50), server_default=sa.text("'recommended'"), nullable=True
        ),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.Column("opened_at", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("closed_at", postgresql.TIMESTAMP(), nullable=True),
        sa.CheckConstraint(
            "allocation_percent > 0 AND allocation_percent <= 100", name=op.f("valid_allocation")
        ),
        sa.ForeignKeyConstraint(
            ["security_id"], ["securities.id"], name=op.f("positions_security_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("positions_trade_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("positions_pkey")),
    )
    op.create_index("idx_positions_security", "positions", ["security_id"], unique=False)
    op.create_index("idx_positions_trade", "positions", ["trade_id"], unique=False)
    op.create_index("idx_positions_type", "positions", ["position_type"], unique=False)


TABLES_CHILDREN_FIRST = (
    "positions",
    "portfolio_holdings",
    "broker_connections",
    "trades",
    "price_history",
    "portfolios",
    "users",
    "securities",
)


def downgrade() -> None:
    for table in TABLES_CHILDREN_FIRST:
        op.drop_table(table)
