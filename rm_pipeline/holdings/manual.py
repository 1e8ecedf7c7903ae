"""The `manual` broker: holdings and cash typed into one CSV file per portfolio.

The file of a portfolio is `<directory>/<broker_account_id>.csv`, UTF-8, with this header and one
row per holding, plus at most one cash row (side `cash`, the balance in `quantity`, the other fields
empty; no cash row means a balance of zero):

    ticker,exchange,side,quantity,average_entry_price
    AAPL,NASDAQ,long,50,150.25
    TSLA,NASDAQ,short,10,250
    ,,cash,12500.00,

- `ticker`: as in `securities.ticker` (case-insensitive).
- `exchange`: as in `securities.exchange`; may be empty when the ticker is listed only once.
- `side`: `long`, `short` or `cash` (case-insensitive).
- `quantity`: a positive number of shares, at most 6 decimals (shorts too: the side gives the
  direction); on the cash row, the cash balance, at most 2 decimals, negative for a debit.
- `average_entry_price`: the average price paid (long) or received (short) per share, at most 6
  decimals, not negative.

Blank lines are ignored; each (ticker, exchange, side) may appear once. Anything else raises
`HoldingsFileError` naming the file, line and field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import cast

from rm_pipeline.holdings.base import (
    BrokerAccount,
    BrokerHolding,
    BrokerPortfolio,
    HoldingsError,
    HoldingsFileError,
    Side,
)

HEADER = ("ticker", "exchange", "side", "quantity", "average_entry_price")
QUANTITY_SCALE = 6
PRICE_SCALE = 6
CASH_SCALE = 2
NUMERIC_PRECISION = 20
ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ManualCsvAdapter:
    """Reads each portfolio's holdings from `<directory>/<broker_account_id>.csv`."""

    broker = "manual"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def fetch(self, account: BrokerAccount) -> BrokerPortfolio:
        return read_holdings_csv(self.path_for(account))

    def path_for(self, account: BrokerAccount) -> Path:
        """The account's file; the account id must be a plain file name (no path, no dot first)."""
        account_id = account.broker_account_id
        if account_id is None or not ACCOUNT_ID.fullmatch(account_id):
            raise HoldingsError(
                f"portfolio {account.portfolio_id}: broker_account_id {account_id!r} does not name "
                "a holdings file (letters, digits, '.', '_' and '-' only)"
            )
        path = self.directory / f"{account_id}.csv"
        if not path.is_file():
            raise HoldingsError(f"portfolio {account.portfolio_id}: no holdings file {path}")
        return path


def read_holdings_csv(path: Path) -> BrokerPortfolio:
    """Parse one holdings file (layout in the module docstring)."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        _check_header(path, next(reader, None))
        holdings: list[BrokerHolding] = []
        first_line: dict[tuple[str, str | None, str], int] = {}
        cash_line: int | None = None
        cash = Decimal(0)
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            row = _Row.of(path, reader.line_num, fields)
            if row.values["side"].lower() == "cash":
                if cash_line is not None:
                    raise row.error("side", f"a second cash row (the first is on line {cash_line})")
                cash, cash_line = row.cash_balance(), row.line
                continue
            holding = row.holding()
            key = (holding.ticker, holding.exchange, holding.side)
            if key in first_line:
                raise row.error(
                    "ticker", f"{holding.side} {holding.label} repeats line {first_line[key]}"
                )
            first_line[key] = row.line
            holdings.append(holding)
    return BrokerPortfolio(holdings=tuple(holdings), cash_balance=cash)


def _check_header(path: Path, header: list[str] | None) -> None:
    found = [name.strip().lower() for name in header or []]
    if found != list(HEADER):
        raise HoldingsFileError(
            path, 1, "header", f"expected {','.join(HEADER)}, found {','.join(found) or 'nothing'}"
        )


@dataclass(frozen=True)
class _Row:
    """One data row of a holdings file, with its position for error messages."""

    path: Path
    line: int
    values: dict[str, str]

    @classmethod
    def of(cls, path: Path, line: int, fields: list[str]) -> _Row:
        if len(fields) != len(HEADER):
            raise HoldingsFileError(
                path, line, "row", f"expected {len(HEADER)} fields, found {len(fields)}"
            )
        return cls(path, line, dict(zip(HEADER, (field.strip() for field in fields), strict=True)))

    def error(self, field: str, problem: str) -> HoldingsFileError:
        return HoldingsFileError(self.path, self.line, field, problem)

    def holding(self) -> BrokerHolding:
        side = self.values["side"].lower()
        if side not in ("long", "short"):
            raise self.error("side", f"{self.values['side']!r} is not long, short or cash")
        if not self.values["ticker"]:
            raise self.error("ticker", "is missing")
        return BrokerHolding(
            ticker=self.values["ticker"].upper(),
            exchange=self.values["exchange"].upper() or None,
            side=cast(Side, side),
            quantity=self.number("quantity", QUANTITY_SCALE, minimum_exclusive=Decimal(0)),
            average_entry_price=self.number("average_entry_price", PRICE_SCALE, minimum=Decimal(0)),
        )

    def cash_balance(self) -> Decimal:
        for field in ("ticker", "exchange", "average_entry_price"):
            if self.values[field]:
                raise self.error(field, "must be empty on the cash row")
        return self.number("quantity", CASH_SCALE)

    def number(
        self,
        field: str,
        scale: int,
        *,
        minimum: Decimal | None = None,
        minimum_exclusive: Decimal | None = None,
    ) -> Decimal:
        """The field as a Decimal that its NUMERIC(20, scale) column holds exactly."""
        raw = self.values[field]
        if not raw:
            raise self.error(field, "is missing")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self.error(field, f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise self.error(field, f"{raw!r} is not a finite number")
        if cast(int, value.as_tuple().exponent) < -scale:
            raise self.error(field, f"{raw!r} has more than {scale} decimal places")
        if abs(value) >= Decimal(10) ** (NUMERIC_PRECISION - scale):
            raise self.error(field, f"{raw!r} is too large")
        if minimum is not None and value < minimum:
            raise self.error(field, f"{raw!r} must be at least {minimum}")
        if minimum_exclusive is not None and value <= minimum_exclusive:
            raise self.error(field, f"{raw!r} must be greater than {minimum_exclusive}")
        return value
