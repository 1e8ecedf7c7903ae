"""The `users`, `trades` and `brokers` commands end to end, as a person would run them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from rm_pipeline.cli.commands import cli
from rm_pipeline.settings import get_settings
from rm_pipeline.warehouse.valuations import value_trade_positions
from rm_pipeline_tests.app.conftest import JWT_SECRET, PEPPER
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_security,
    add_sessions,
)

PHONE = "+14155550100"
API_KEY = "PK-cli-key-5c1e"
API_SECRET = "cli-secret-8d2f"


@pytest.fixture
def env(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The secrets the commands need, in the environment as in production."""
    values = {
        "RM_JWT_SECRET": JWT_SECRET,
        "RM_VERIFICATION_PEPPER": PEPPER,
        "RM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("RM_ACCESS_TOKEN", "RM_BROKER_API_KEY", "RM_BROKER_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def ok(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    result = run(*args, input=input, env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def token(env: dict[str, str]) -> str:
    registered = ok("users", "register", PHONE, "--email", "ada@example.org", "--name", "Ada")
    code = re.search(r"verification code for \+14155550100: (\d{6})", registered)
    assert code is not None, registered
    return ok("users", "verify", PHONE, code.group(1)).strip().splitlines()[-1]


@pytest.fixture
def listed(db: Engine) -> None:
    """AAPL at $200 and MSFT at $400, and Shell at 2500 pence with the pound at $1.30."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO securities (ticker, name, security_type, exchange, currency) VALUES "
                "('AAPL', 'Apple', 'equity', 'NASDAQ', 'USD'), "
                "('MSFT', 'Microsoft', 'equity', 'NASDAQ', 'USD'), "
                "('SHEL.L', 'Shell', 'equity', 'LSE', 'GBp')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO price_history (security_id, date, close) "
                "SELECT id, current_date, CASE ticker WHEN 'AAPL' THEN 200 WHEN 'MSFT' THEN 400 "
                "ELSE 2500 END FROM securities"
            )
        )
        conn.execute(
            text(
                "INSERT INTO fx_rates (base_currency, quote_currency, date, rate) "
                "VALUES ('GBP', 'USD', current_date, 1.30)"
            )
        )


def test_register_verify_and_whoami(token: str) -> None:
    shown = ok("users", "whoami", token)
    assert "phone:      +14155550100" in shown
    assert "email:      ada@example.org" in shown
    assert ok("users", "whoami", env={"RM_ACCESS_TOKEN": token}) == shown


def test_a_wrong_code_is_a_clean_error(env: dict[str, str]) -> None:
    ok("users", "register", PHONE)
    result = run("users", "verify", PHONE, "000000x")
    assert result.exit_code == 1
    assert result.output == "Error: wrong verification code (4 attempts left)\n"


def test_a_missing_secret_is_named(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RM_VERIFICATION_PEPPER")
    get_settings.cache_clear()
    result = run("users", "register", PHONE)
    assert (result.exit_code, result.output) == (
        1,
        "Error: RM_VERIFICATION_PEPPER is not set; this operation needs it\n",
    )


def test_create_show_list_and_activate_a_trade(token: str, listed: None) -> None:
    created = ok(
        "trades", "create", "--token", token, "--name", "Pair", "--description", "AAPL vs MSFT",
        "--position", "AAPL:long:60", "--position", "msft:SHORT:40",
    )  # fmt: skip
    trade_id = re.search(r"trade ([0-9a-f-]{36}): Pair \[draft\]", created)
    assert trade_id is not None, created
    assert re.search(r"AAPL@NASDAQ\s+long\s+60.00%\s+equity", created)
    assert re.search(r"MSFT@NASDAQ\s+short\s+40.00%\s+equity", created)
    assert "(100.00% allocated)" in created
    assert "notional: 100,000 USD (the default)" in created
    assert "not opened, quantity n/a, entry n/a, current n/a, market value n/a" in created
    assert "analysis: pending" in created

    assert ok("trades", "show", trade_id.group(1), "--token", token) == created
    assert trade_id.group(1) in ok("trades", "list", "--token", token)
    activated = ok("trades", "activate", trade_id.group(1), "--token", token)
    assert activated == f"trade {trade_id.group(1)} is now active\n"
    assert "no trades" in ok("trades", "list", "--token", token, "--status", "draft")
    shown = ok("trades", "show", trade_id.group(1), "--token", token)
    assert (
        "open, quantity 300.000000, entry 200.000000 USD, current n/a, "
        "market value n/a, unrealized P&L n/a, realized P&L n/a"
    ) in shown

    ok("trades", "close", trade_id.group(1), "--token", token)
    closed = ok("trades", "show", trade_id.group(1), "--token", token)
    # The listing has no trading calendar: its exit close's date is known, its staleness not.
    assert re.search(
        r"closed, quantity 100\.000000, entry 400\.000000 USD, "
        r"current 400\.000000 USD \(close of \d{4}-\d\d-\d\d, staleness unknown\), "
        r"market value 0\.00 USD, unrealized P&L 0\.00 USD, realized P&L 0\.00 USD, "
        r"exit 400\.000000 USD",
        closed,
    ), closed


def test_a_trade_in_another_currency_shows_prices_and_amounts_in_theirs(
    token: str, listed: None
) -> None:
    created = ok(
        "trades", "create", "--token", token, "--name", "Shell", "--description", "d",
        "--position", "SHEL.L:long:50", "--notional", "13000", "--currency", "GBP",
    )  # fmt: skip
    assert "notional: 13,000.00 GBP" in created
    trade_id = re.search(r"trade ([0-9a-f-]{36})", created)
    assert trade_id is not None, created
    ok("trades", "activate", trade_id.group(1), "--token", token)
    # 6,500 pounds at 25 pounds a share (2500 pence, 0.01 pound a penny): 260 shares.
    assert ("open, quantity 260.000000, entry 2,500.000000 GBp at GBpGBP 0.01") in ok(
        "trades", "show", trade_id.group(1), "--token", token
    )


def test_show_prints_rates_in_market_notation_and_how_old_each_price_is(
    db: Engine, token: str
) -> None:
    """Toyota's latest close is Thursday's at $0.0065 a yen; Friday, New York's latest close,
    was a Tokyo session too: JPYUSD 0.0065 (never "USD/JPY", which reads yen a dollar), and a
    price a session behind."""
    thursday, friday = date(2024, 1, 11), date(2024, 1, 12)
    with db.begin() as conn:
        for calendar in ("XTKS", "XNYS"):
            add_sessions(conn, calendar, thursday, friday)
        toyota = add_security(conn, "7203.T", "TSE", currency="JPY", calendar="XTKS")
        add_bar(conn, toyota, thursday, 3000)
        add_bar(conn, add_security(conn, "AAPL", calendar="XNYS"), friday, 200)
        add_fx_rate(conn, "JPY", thursday, "0.0065")
    created = ok(
        "trades", "create", "--token", token, "--name", "Toyota", "--description", "d",
        "--position", "7203.T:long:39", "--notional", "10000",
    )  # fmt: skip
    trade_id = re.search(r"trade ([0-9a-f-]{36})", created)
    assert trade_id is not None, created
    ok("trades", "activate", trade_id.group(1), "--token", token)
    with db.begin() as conn:
        value_trade_positions(conn)
    shown = ok("trades", "show", trade_id.group(1), "--token", token)
    # $3,900 at 3000 yen and $0.0065 a yen: 200 shares, worth $3,900.
    assert (
        "open, quantity 200.000000, entry 3,000.000000 JPY at JPYUSD 0.0065, "
        "current 3,000.000000 JPY (close of 2024-01-11, stale, 1 session behind), "
        "market value 3,900.00 USD"
    ) in shown
    assert "USD/JPY" not in shown


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--notional", "12.345", "Error: the trade's notional 12.345 has more than 2 decimals"),
        ("--notional", "lots", "'lots' is not a number"),
        ("--currency", "dollars", "Error: the trade's currency 'dollars' must be a 3-letter"),
    ],
)
def test_a_bad_notional_or_currency_is_a_clean_error(
    token: str, option: str, value: str, problem: str
) -> None:
    result = run(
        "trades", "create", "--token", token, "--name", "n", "--description", "d", option, value
    )
    assert result.exit_code in (1, 2)
    assert problem in result.output


def test_activation_without_a_rate_is_refused_in_one_line(
    db: Engine, token: str, listed: None
) -> None:
    with db.begin() as conn:
        conn.execute(text("DELETE FROM fx_rates"))
    created = ok(
        "trades", "create", "--token", token, "--name", "n", "--description", "d",
        "--position", "SHEL.L:long:50",
    )  # fmt: skip
    trade_id = re.search(r"trade ([0-9a-f-]{36})", created)
    assert trade_id is not None, created
    result = run("trades", "activate", trade_id.group(1), "--token", token)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: trade {trade_id.group(1)} cannot be activated")
    assert "SHEL.L@LSE long: no GBp to USD rate" in result.output


def test_analyze_reports_what_it_did(token: str, listed: None) -> None:
    ok("trades", "create", "--token", token, "--name", "n", "--description", "d",
       "--position", "AAPL:long:10")  # fmt: skip
    assert ok("trades", "analyze").startswith("analyzed 1 of 1 pending trades")
    assert ok("trades", "analyze").startswith("analyzed 0 of 0 pending trades")


@pytest.mark.parametrize(
    ("position", "problem"),
    [
        ("AAPL-long-60", "is not TICKER[@EXCHANGE]:long|short:PERCENT"),
        ("AAPL:up:60", "the side must be long or short"),
        ("AAPL:long:sixty", "'sixty' is not a number"),
    ],
)
def test_a_malformed_position_is_named(token: str, position: str, problem: str) -> None:
    result = run(
        "trades", "create", "--token", token, "--name", "n", "--description", "d",
        "--position", position,
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"position 1: {position!r}" in result.output and problem in result.output


def test_every_problem_of_a_request_is_reported_at_once(token: str, listed: None) -> None:
    result = run(
        "trades", "create", "--token", token, "--name", " ", "--description", "d",
        "--currency", "dollars", "--position", "AAPL:up:60", "--position", "TSLA:long:10",
        "--position", "MSFT:long:sixty",
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.removeprefix("Error: ").splitlines()
    # the fields first, then the positions: those unreadable, then those the warehouse refuses
    assert [line.split(":")[0] for line in lines] == [
        "the trade's name must not be empty",
        "the trade's currency 'dollars' must be a 3-letter code of an ISO 4217 currency, in "
        "capitals, e.g. USD, EUR or JPY",
        "position 1",
        "position 3",
        "position 2 (TSLA long 10%)",
    ], result.output


def test_a_refused_position_names_it(token: str, listed: None) -> None:
    result = run(
        "trades", "create", "--token", token, "--name", "n", "--description", "d",
        "--position", "AAPL:long:70", "--position", "TSLA:long:10",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "position 2 (TSLA long 10%): no active security TSLA" in result.output


def test_trades_need_a_valid_token(env: dict[str, str]) -> None:
    result = run("trades", "list", "--token", "not-a-token")
    assert (result.exit_code, result.output) == (1, "Error: the access token is not valid\n")


def test_broker_credentials_come_from_the_environment_and_are_never_shown(
    db: Engine, token: str
) -> None:
    secrets = {"RM_BROKER_API_KEY": API_KEY, "RM_BROKER_API_SECRET": API_SECRET}
    added = ok(
        "brokers", "add", "--token", token, "--broker", "alpaca", "--account", "ACC-1",
        input="\n", env=secrets,
    )  # fmt: skip
    listed = ok("brokers", "list", "--token", token)
    rotated = ok("brokers", "rotate-keys")

    assert "stored alpaca connection" in added and "(read only)" in added
    assert re.search(r"alpaca\s+ACC-1\s+read\s+active", listed)
    assert rotated.startswith(
        "re-encrypted the credentials of 1 broker connection with the newest key"
    )
    for output in (added, listed, rotated):
        assert API_KEY not in output and API_SECRET not in output
    with db.connect() as conn:
        stored = conn.execute(text("SELECT row_to_json(b)::text FROM broker_connections b"))
        assert all(API_KEY not in row and API_SECRET not in row for row in stored.scalars())


def test_broker_credentials_can_be_typed_at_a_hidden_prompt(token: str) -> None:
    result = run(
        "brokers", "add", "--token", token, "--broker", "ibkr", "--account", "U1", "--can-trade",
        input=f"{API_KEY}\n{API_SECRET}\n\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(read and trade)" in result.output
    assert API_KEY not in result.output and API_SECRET not in result.output


def test_broker_credentials_are_not_accepted_as_arguments(token: str) -> None:
    result = run(
        "brokers", "add", "--token", token, "--broker", "alpaca", "--account", "A",
        "--api-key", API_KEY,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "No such option '--api-key'" in result.output


def test_deactivate_then_delete(db: Engine, token: str) -> None:
    assert ok("users", "deactivate", PHONE).startswith("deactivated user")
    refused = run("users", "whoami", token)
    assert refused.exit_code == 1 and "deactivated" in refused.output

    assert run("users", "delete", PHONE, input="n\n").exit_code == 1
    assert ok("users", "delete", PHONE, "--yes").startswith("deleted user")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_generate_key_prints_a_usable_fernet_key(env: dict[str, str]) -> None:
    key = ok("brokers", "generate-key").strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
