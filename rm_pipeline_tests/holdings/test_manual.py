"""The manual broker's CSV files: the documented layout parses, anything else is named precisely."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from rm_pipeline.holdings import (
    BrokerAccount,
    BrokerHolding,
    BrokerPortfolio,
    HoldingsError,
    HoldingsFileError,
    ManualCsvAdapter,
    read_holdings_csv,
)

HEADER = "ticker,exchange,side,quantity,average_entry_price\n"


def write(directory: Path, body: str, name: str = "account-1") -> Path:
    path = directory / f"{name}.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_the_documented_layout(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "aapl,nasdaq,Long,50,150.25\n\nTSLA,,short,0.5,250\n,,CASH,-12500.10,\n",
    )
    assert read_holdings_csv(path) == BrokerPortfolio(
        holdings=(
            BrokerHolding("AAPL", "NASDAQ", "long", Decimal("50"), Decimal("150.25")),
            BrokerHolding("TSLA", None, "short", Decimal("0.5"), Decimal("250")),
        ),
        cash_balance=Decimal("-12500.10"),
    )


def test_no_cash_row_means_no_cash(tmp_path: Path) -> None:
    assert read_holdings_csv(write(tmp_path, "")) == BrokerPortfolio((), Decimal(0))


@pytest.mark.parametrize(
    ("body", "line", "field", "problem"),
    [
        ("AAPL,NASDAQ,long,abc,1\n", 2, "quantity", "'abc' is not a number"),
        ("AAPL,NASDAQ,long,0,1\n", 2, "quantity", "'0' must be greater than 0"),
        ("AAPL,NASDAQ,long,-3,1\n", 2, "quantity", "'-3' must be greater than 0"),
        ("AAPL,NASDAQ,long,1.0000001,1\n", 2, "quantity", "more than 6 decimal places"),
        ("AAPL,NASDAQ,long,1e14,1\n", 2, "quantity", "'1e14' is too large"),
        ("AAPL,NASDAQ,long,NaN,1\n", 2, "quantity", "'NaN' is not a finite number"),
        ("AAPL,NASDAQ,long,1,\n", 2, "average_entry_price", "is missing"),
        ("AAPL,NASDAQ,long,1,-2\n", 2, "average_entry_price", "'-2' must be at least 0"),
        ("AAPL,NASDAQ,sideways,1,1\n", 2, "side", "'sideways' is not long, short or cash"),
        (",NASDAQ,long,1,1\n", 2, "ticker", "is missing"),
        ("AAPL,NASDAQ,long,1\n", 2, "row", "expected 5 fields, found 4"),
        ("A,,long,1,1\nB,,long,1,1\na,,long,2,2\n", 4, "ticker", "long A repeats line 2"),
        (",,cash,10,\n,,cash,20,\n", 3, "side", "a second cash row (the first is on line 2)"),
        (",,cash,10.005,\n", 2, "quantity", "more than 2 decimal places"),
        ("AAPL,,cash,10,\n", 2, "ticker", "must be empty on the cash row"),
    ],
)
def test_malformed_rows_name_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str, problem: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(HoldingsFileError) as raised:
        read_holdings_csv(path)
    assert (raised.value.path, raised.value.line, raised.value.field) == (path, line, field)
    assert str(raised.value).startswith(f"{path}, line {line}, field {field}: ")
    assert problem in str(raised.value)


def test_a_wrong_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "account-1.csv"
    path.write_text("symbol,side,qty\nAAPL,long,1\n", encoding="utf-8")
    with pytest.raises(HoldingsFileError, match=r"line 1, field header: expected ticker,"):
        read_holdings_csv(path)


def test_the_adapter_reads_the_file_named_by_the_account(tmp_path: Path) -> None:
    write(tmp_path, "AAPL,NASDAQ,long,1,1\n", name="acct.2024-01")
    adapter = ManualCsvAdapter(tmp_path)
    fetched = adapter.fetch(BrokerAccount(uuid.uuid4(), "acct.2024-01"))
    assert [holding.ticker for holding in fetched.holdings] == ["AAPL"]


@pytest.mark.parametrize(
    ("account_id", "problem"),
    [
        (None, "does not name a holdings file"),
        ("../outside", "does not name a holdings file"),
        (".hidden", "does not name a holdings file"),
        ("missing", "no holdings file"),
    ],
)
def test_the_adapter_refuses_accounts_without_a_file(
    tmp_path: Path, account_id: str | None, problem: str
) -> None:
    (tmp_path / ".hidden.csv").write_text(HEADER, encoding="utf-8")
    with pytest.raises(HoldingsError, match=problem):
        ManualCsvAdapter(tmp_path).fetch(BrokerAccount(uuid.uuid4(), account_id))
