"""Seed the demo users and portfolios, and sync their holdings from the shipped CSV files.

`portfolios.csv` lists each demo portfolio with its owner (by E.164 phone number) and its
`broker_account_id`, which names its holdings file in `holdings/` (the `manual` broker's layout, see
`rm_pipeline.holdings.manual`). Users are matched on phone number and portfolios on
(broker 'manual', broker_account_id), so seeding again creates nothing and leaves the holdings as
they are. The demo adapts to the universe: a portfolio holding a security the warehouse lacks
(a universe of a few price files, say) is skipped and named, never half-seeded.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from rm_pipeline.holdings.manual import ManualCsvAdapter, read_holdings_csv
from rm_pipeline.holdings.sync import PortfolioSyncResult, match_securities, sync_portfolio

DEMO_DIR = Path(__file__).resolve().parent
PORTFOLIOS_FILE = DEMO_DIR / "portfolios.csv"
HOLDINGS_DIR = DEMO_DIR / "holdings"

CREATE_USERS = text(
    """
    INSERT INTO users (phone_number, full_name)
    SELECT * FROM unnest(CAST(:phone_numbers AS text[]), CAST(:full_names AS text[]))
    ON CONFLICT (phone_number) DO NOTHING
    RETURNING id
    """
)

CREATE_PORTFOLIOS = text(
    """
    INSERT INTO portfolios (user_id, name, broker, broker_account_id)
    SELECT u.id, demo.name, 'manual', demo.account_id
    FROM unnest(CAST(:phone_numbers AS text[]), CAST(:names AS text[]),
                CAST(:account_ids AS text[])) AS demo(phone_number, name, account_id)
    JOIN users AS u ON u.phone_number = demo.phone_number
    WHERE NOT EXISTS (
        SELECT 1 FROM portfolios AS p
        WHERE p.broker = 'manual' AND p.broker_account_id = demo.account_id
    )
    RETURNING id
    """
)

DEMO_PORTFOLIO_IDS = text(
    "SELECT id FROM portfolios WHERE broker = 'manual' AND broker_account_id = ANY(:account_ids) "
    "ORDER BY broker_account_id"
)


@dataclass(frozen=True)
class DemoPortfolio:
    phone_number: str
    full_name: str
    name: str
    broker_account_id: str


@dataclass(frozen=True)
class DemoSummary:
    """What seeding did; `skipped` names each portfolio left out and the securities it lacks."""

    users_created: int
    portfolios_created: int
    synced: tuple[PortfolioSyncResult, ...]
    skipped: tuple[str, ...] = ()


def demo_portfolios() -> list[DemoPortfolio]:
    with PORTFOLIOS_FILE.open(newline="", encoding="utf-8") as file:
        return [
            DemoPortfolio(
                row["phone_number"],
                row["full_name"],
                row["portfolio_name"],
                row["broker_account_id"],
            )
            for row in csv.DictReader(file)
        ]


def seed_demo(conn: Connection) -> DemoSummary:
    """Create the demo users and the demo portfolios that are missing, then sync every demo
    portfolio whose holdings all name securities of the warehouse; the others are skipped."""
    portfolios = demo_portfolios()
    missing = {portfolio.name: _missing_securities(conn, portfolio) for portfolio in portfolios}
    seeded = [portfolio for portfolio in portfolios if not missing[portfolio.name]]
    owners = {portfolio.phone_number: portfolio.full_name for portfolio in portfolios}
    users_created = conn.execute(
        CREATE_USERS,
        {"phone_numbers": list(owners), "full_names": list(owners.values())},
    ).all()
    account_ids = [portfolio.broker_account_id for portfolio in seeded]
    portfolios_created = conn.execute(
        CREATE_PORTFOLIOS,
        {
            "phone_numbers": [portfolio.phone_number for portfolio in seeded],
            "names": [portfolio.name for portfolio in seeded],
            "account_ids": account_ids,
        },
    ).all()
    adapter = ManualCsvAdapter(HOLDINGS_DIR)
    portfolio_ids: list[uuid.UUID] = list(
        conn.execute(DEMO_PORTFOLIO_IDS, {"account_ids": account_ids}).scalars()
    )
    return DemoSummary(
        users_created=len(users_created),
        portfolios_created=len(portfolios_created),
        synced=tuple(sync_portfolio(conn, portfolio_id, adapter) for portfolio_id in portfolio_ids),
        skipped=tuple(
            f"portfolio {name} ({', '.join(labels)})" for name, labels in missing.items() if labels
        ),
    )


def _missing_securities(conn: Connection, portfolio: DemoPortfolio) -> tuple[str, ...]:
    """The holdings of `portfolio` that match no security of the warehouse, or several."""
    holdings = read_holdings_csv(HOLDINGS_DIR / f"{portfolio.broker_account_id}.csv").holdings
    matches = match_securities(conn, holdings)
    return matches.unknown + matches.ambiguous
