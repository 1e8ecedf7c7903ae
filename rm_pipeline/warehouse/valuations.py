"""Portfolio and trade valuations, and trades executed on paper, computed inside the warehouse in
one SQL statement each.

Currencies. A price is in its security's quote currency (`securities.currency`, minor units such
as London's pence `GBp` included); a NULL security currency counts as USD, the seed schema's
default, and so does a NULL portfolio currency. Every conversion is `fx_rate(from, to, date)` of
migration 0008, which knows the minor units; a missing rate (none within 7 days of the date) is
never guessed: whatever it would convert stays NULL, and the run names it, with its date
(`7203.T (JPY to USD on 2024-05-03)`). `fx_rate` is a SQL function the planner cannot inline (it
reads tables), so a valuation calls it once per conversion it needs (currencies and date), in a
small set joined to the rows, never once per holding or position.

One FX convention, for holdings and positions alike: a value is converted at the rate of its
price's date, the date of the close it is computed from, so a price and its rate are always of
the same day, however old the close. A price without a date (a security's cached
`securities.current_price`, used when it has no history) converts at today's rate. Cost legs:
a holding's cost converts with its market value (its purchase dates are unknown), a position's at
its entry rate (below).

Prices. A security's current price is the close of its latest bar in `price_history`, falling back
to `securities.current_price` when it has no history; `price_date` is that close's date (NULL for
the fallback). Its previous close is the close of its latest bar dated before the valuation date,
the latest bar's date over all securities: a security that did not trade on the valuation date
thus shows no change that day. Both notions are the functions `latest_bar()` and
`valuation_date()` of migration 0018.

Staleness. A price is stale when its security's exchange held a session after the price's date and
on or before the valuation date: `is_stale`, with `sessions_behind` the number of such sessions.
Sessions come from `market_sessions` by the security's `trading_calendar` (migration 0014). They
are stored for every calendar in use over the same loaded ranges, so the latest session stored of
any calendar is how far all of them are known; an exchange holiday or a weekend is thus no session
and makes nothing stale. A session found in between makes the price stale for certain; finding
none says it is fresh only when the calendar's sessions reach back to the price's date and the
stored sessions reach the valuation date. Otherwise (no calendar, no price date, sessions not
stored that far) both are NULL: unknown, never false. A stale price still values its holding or
position; the staleness is written beside it (columns of migration 0016, so they describe the very
price the stored values came from, and the views only read them) and counted.

Holdings (`portfolio_holdings`), with `quantity` always positive and `side` giving the direction.
`current_price` and `average_entry_price` are in the security's currency; every other value is in
the portfolio's currency (`portfolios.currency`), converted at the rate of the price's date,
`fx_rate(security currency, portfolio currency, price_date)`:

- `market_value` is signed: +quantity x price x rate for a long, -quantity x price x rate for a
  short (a short is what the portfolio owes the lender; the proceeds of the short sale sit in the
  cash balance). Rounded to cents.
- `cost_basis` = quantity x average_entry_price x rate, positive for both sides (for a short, the
  proceeds received when it was opened). The purchase dates are unknown, so the cost is converted
  at the market value's rate: the P&L is the price move, translated at the rate of the price's
  date, and leaves out what the currency did since the purchase. Rounded to cents.
- `unrealized_pnl`: long = market_value - cost_basis; short = cost_basis + market_value, i.e.
  (entry - current) x quantity x rate. Taken from the rounded figures, so the identities hold to
  the cent.
- `unrealized_pnl_percent` = unrealized_pnl / cost_basis, a fraction (0.1 = 10%) rounded to four
  places; NULL when the cost basis is zero or the ratio does not fit NUMERIC(10,4).
- `price_date`, `is_stale`, `sessions_behind` as above.

Without a rate, a holding's market value, cost basis and P&L are NULL (its current price is still
written) and its portfolio is left unvalued, as for a holding with no price.

Portfolios (`portfolios`), every amount in the portfolio's currency, the cash balance taken to be
in it already, a NULL cash balance counted as zero:

- `equity_value` = the sum of the holdings' signed market values (0 without holdings);
  `total_value` = cash_balance + equity_value. Both, and both returns, are NULL when any holding has
  no price or no rate: a partial sum would misstate the portfolio silently.
- `total_return` = sum of unrealized P&L / sum of cost bases over the holdings: the unrealized return
  on the capital committed to the current holdings (cash, deposits and realized gains are outside
  it, as the warehouse does not record them). NULL without holdings.
- `day_return` = (equity_value - previous equity) / (cash_balance + previous equity), the previous
  equity being the same holdings at their previous closes, each converted at the rate of its
  close's date: the day's change of the current holdings, currency moves included, over the
  portfolio's previous total value. A one-day return uses only legs of consecutive sessions: each
  holding's previous close must be the session just before its current close by its calendar, or,
  for a security that did not trade on the valuation date, the same bar with no session of its
  exchange missed since (not stale). NULL when a holding has no previous close, a leg without a
  rate, legs not of consecutive sessions or sessions unknown, or the previous total value is not
  positive.

Returns are fractions rounded to four places, NULL when they do not fit NUMERIC(10,4). The run
counts and names what left a figure NULL: each missing rate of either leg with its date, and each
holding whose change over the day is unknown with the reason (`AAA (no close since 2024-05-03)`).

Trade positions (`positions`), executed on paper. A position's prices (`entry_price`,
`current_price`, `exit_price`) are in its security's currency; `market_value`, `unrealized_pnl` and
`realized_pnl` in its trade's currency (`trades.currency`). Direction is +1 for a long, -1 for a
short, and every rate is `fx_rate(security currency, trade currency, date of the close used)`:

- Opening (a trade's activation, `open_trade_positions`): `entry_price` is the latest close,
  `entry_price_date` its date, `entry_fx_rate` its rate (to the 10 decimals the column keeps), `quantity` = notional x
  allocation% / (entry_price x entry_fx_rate), to the column's 6 decimals; `status` 'open'.
- The nightly valuation (`value_trade_positions`, open positions of active trades): `current_price`
  is the current price as for holdings, `price_date` its date, `is_stale` and `sessions_behind` as
  for holdings, market value = direction x quantity x current_price x rate
  rounded to cents, unrealized P&L = direction x (quantity x current_price x rate - quantity x
  entry_price x entry_fx_rate), each product rounded to cents. Without a rate (or without an entry
  rate) they are NULL, counted and named.
- Closing (`close_trade_positions`): `exit_price` is the latest close, `realized_pnl` the unrealized
  P&L's formula at that close and its rate; the position is settled: `current_price` = exit_price
  (with its `price_date` and staleness),
  `market_value` = 0 and `unrealized_pnl` = 0 (it holds nothing any more), `status` 'closed'.
  Opening and closing refuse, changing nothing, when a position has no close or no rate.
- Splits (`apply_splits`, run before every valuation and every closing): an open position's
  `split_factor` is the product of the ratios of its security's splits dated after its entry
  price's date (`entry_price_date`; the opening date for positions opened before it was kept).
  Opening sets it to the product of the splits stored by then, which the restated close it opens
  at already reflects; a split stored later changes the product.
  When the stored factor differs (a new split, or a corrected or withdrawn one), `quantity`
  is multiplied and `entry_price` and `exit_price` divided by new / old factor, so each split is
  applied exactly once however often this runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

VALUATION_DATES = """
    valuation_date AS MATERIALIZED (SELECT valuation_date() AS day),
    sessions_known AS (SELECT max(date) AS through FROM market_sessions)
"""
"""Two one-row CTEs: the valuation date (`day`) and how far sessions are stored (`through`). The
first is MATERIALIZED: inlined, `valuation_date()` would run again for every row reading it."""

STALENESS = """
    LEFT JOIN LATERAL (
        SELECT
            CASE WHEN counted.known THEN counted.behind END AS sessions_behind,
            CASE WHEN counted.behind > 0 THEN true WHEN counted.known THEN false END AS is_stale
        FROM (
            SELECT
                (SELECT count(*) FROM market_sessions AS m
                 WHERE m.calendar = {calendar} AND m.date > {price_date} AND m.date <= v.day)
                    AS behind,
                k.through >= v.day AND EXISTS (
                    SELECT FROM market_sessions AS m
                    WHERE m.calendar = {calendar} AND m.date <= {price_date}
                ) AS known
        ) AS counted
    ) AS staleness ON true
"""
"""`sessions_behind` and `is_stale` of a price of `price_date` on `calendar` (see the module
docstring), joined to a FROM holding `valuation_date AS v` and `sessions_known AS k`."""

ISO_DAY = "to_char({}, 'YYYY-MM-DD')"

STALE_PRICE = f"""
    ticker || ' (close of ' || {ISO_DAY.format("price_date")}
    || coalesce(', ' || sessions_behind || ' session'
                || CASE WHEN sessions_behind = 1 THEN '' ELSE 's' END || ' behind', '')
    || ')'
"""
"""How a stale price is named: `AAA (close of 2024-05-03, 3 sessions behind)`."""


def conversion(target: str, day: str) -> str:
    """SQL naming a conversion of a row (ticker, currency) into `target` on `day`:
    `7203.T (JPY to USD on 2024-05-03)`."""
    on_day = ISO_DAY.format(day)
    return f"ticker || ' (' || currency || ' to ' || {target} || ' on ' || {on_day} || ')'"


def names(rows: str) -> str:
    """SQL of the distinct `name`s of `rows` (a table or a parenthesized query), sorted; an
    empty array for none."""
    distinct = "coalesce(array_agg(DISTINCT name ORDER BY name), '{}')"
    return f"(SELECT {distinct} FROM {rows})"  # noqa: S608 (this module's SQL only)


PORTFOLIO_COLUMNS = ("equity_value", "total_value", "total_return", "day_return")
"""The columns of `portfolios` that `VALUE_PORTFOLIOS` sets."""
HOLDING_COLUMNS = (
    "current_price",
    "market_value",
    "cost_basis",
    "unrealized_pnl",
    "unrealized_pnl_percent",
    "price_date",
    "is_stale",
    "sessions_behind",
)
"""The columns of `portfolio_holdings` that `VALUE_PORTFOLIOS` sets."""

VALUE_PORTFOLIOS = text(
    f"""
    WITH {VALUATION_DATES},
    held AS MATERIALIZED (  -- each security once per currency it is valued in
        SELECT DISTINCT h.security_id, coalesce(p.currency, 'USD') AS portfolio_currency
        FROM portfolio_holdings AS h
        JOIN portfolios AS p ON p.id = h.portfolio_id
    ),
    quotes AS MATERIALIZED (  -- once per security, not once per holding
        SELECT
            s.id AS security_id,
            s.ticker,
            s.trading_calendar AS calendar,
            coalesce(s.currency, 'USD') AS currency,
            coalesce(latest.close, s.current_price) AS current_price,
            latest.date AS price_date,
            coalesce(latest.date, CURRENT_DATE) AS rate_date,
            previous.close AS previous_close,
            previous.date AS previous_date,
            staleness.sessions_behind,
            staleness.is_stale,
            CASE  -- whether the two legs of the day's change are of consecutive sessions
                WHEN previous.date = latest.date THEN NOT staleness.is_stale
                WHEN EXISTS (
                    SELECT FROM market_sessions AS m
                    WHERE m.calendar = s.trading_calendar
                      AND m.date > previous.date AND m.date < latest.date
                ) THEN false
                WHEN EXISTS (
                    SELECT FROM market_sessions AS m
                    WHERE m.calendar = s.trading_calendar AND m.date = previous.date
                ) AND EXISTS (
                    SELECT FROM market_sessions AS m
                    WHERE m.calendar = s.trading_calendar AND m.date = latest.date
                ) THEN true
            END AS consecutive
        FROM securities AS s
        CROSS JOIN valuation_date AS v
        CROSS JOIN sessions_known AS k
        LEFT JOIN LATERAL latest_bar(s.id) AS latest ON true
        LEFT JOIN LATERAL latest_bar(s.id, v.day - 1) AS previous ON true
        {STALENESS.format(calendar="s.trading_calendar", price_date="latest.date")}
        WHERE s.id IN (SELECT security_id FROM held)
    ),
    rates AS MATERIALIZED (  -- each rate looked up once, not once per holding
        SELECT needed.*, fx_rate(needed.currency, needed.target, needed.day) AS rate
        FROM (
            SELECT DISTINCT q.currency, held.portfolio_currency AS target, d.day
            FROM held
            JOIN quotes AS q ON q.security_id = held.security_id
            CROSS JOIN LATERAL (VALUES (q.rate_date), (q.previous_date)) AS d (day)
            WHERE d.day IS NOT NULL  -- no previous close: nothing to convert
        ) AS needed
    ),
    conversions AS MATERIALIZED (  -- each quote in each currency it is valued in, at its rates
        SELECT q.*, held.portfolio_currency, r.rate, previous.rate AS previous_rate
        FROM held
        JOIN quotes AS q ON q.security_id = held.security_id
        LEFT JOIN rates AS r
            ON r.currency = q.currency AND r.target = held.portfolio_currency
            AND r.day = q.rate_date
        LEFT JOIN rates AS previous
            ON previous.currency = q.currency AND previous.target = held.portfolio_currency
            AND previous.day = q.previous_date
    ),
    amounts AS (
        SELECT
            h.id,
            h.portfolio_id,
            c.current_price,
            c.price_date,
            c.is_stale,
            c.sessions_behind,
            c.consecutive,
            c.rate IS NULL OR (c.previous_close IS NOT NULL AND c.previous_rate IS NULL)
                AS without_rate,
            CASE h.side WHEN 'long' THEN 1 WHEN 'short' THEN -1 END AS direction,
            round(h.quantity * c.current_price * c.rate, 2) AS gross_value,
            round(h.quantity * c.previous_close * c.previous_rate, 2) AS previous_gross_value,
            round(h.quantity * h.average_entry_price * c.rate, 2) AS cost_basis
        FROM portfolio_holdings AS h
        JOIN portfolios AS p ON p.id = h.portfolio_id
        LEFT JOIN conversions AS c  -- one each; LEFT, or the planner expects few
            ON c.security_id = h.security_id AND c.portfolio_currency = coalesce(p.currency, 'USD')
        OFFSET 0  -- each amount computed once, not again in every expression below that uses it
    ),
    holding_values AS MATERIALIZED (
        SELECT
            id,
            portfolio_id,
            current_price,
            price_date,
            is_stale,
            sessions_behind,
            consecutive,
            without_rate,
            cost_basis,
            direction * gross_value AS market_value,
            direction * previous_gross_value AS previous_market_value,
            direction * (gross_value - cost_basis) AS unrealized_pnl,
            round(direction * (gross_value - cost_basis) / nullif(cost_basis, 0), 4)
                AS pnl_fraction
        FROM amounts
    ),
    portfolio_sums AS (
        SELECT
            portfolio_id,
            bool_and(market_value IS NOT NULL) AS all_priced,
            bool_and(previous_market_value IS NOT NULL AND consecutive IS TRUE)
                AS all_previously_priced,
            sum(market_value) AS equity,
            sum(previous_market_value) AS previous_equity,
            sum(unrealized_pnl) AS unrealized_pnl,
            sum(cost_basis) AS cost_basis
        FROM holding_values
        GROUP BY portfolio_id
    ),
    portfolio_amounts AS (
        SELECT
            p.id,
            coalesce(p.cash_balance, 0) AS cash,
            CASE WHEN t.portfolio_id IS NULL THEN 0 WHEN t.all_priced THEN t.equity END
                AS equity_value,
            CASE WHEN t.portfolio_id IS NULL THEN 0 WHEN t.all_previously_priced
                THEN t.previous_equity END AS previous_equity,
            CASE WHEN t.all_priced
                THEN round(t.unrealized_pnl / nullif(t.cost_basis, 0), 4) END AS return_fraction
        FROM portfolios AS p
        LEFT JOIN portfolio_sums AS t ON t.portfolio_id = p.id
    ),
    portfolio_fractions AS (
        SELECT
            id,
            equity_value,
            cash + equity_value AS total_value,
            return_fraction,
            CASE WHEN cash + previous_equity > 0
                THEN round((equity_value - previous_equity) / (cash + previous_equity), 4)
            END AS day_fraction
        FROM portfolio_amounts
    ),
    portfolio_values AS (
        SELECT
            id,
            equity_value,
            total_value,
            CASE WHEN abs(return_fraction) < 1e6 THEN return_fraction END AS total_return,
            CASE WHEN abs(day_fraction) < 1e6 THEN day_fraction END AS day_return
        FROM portfolio_fractions
    ),
    updated_holdings AS (
        UPDATE portfolio_holdings AS h
        SET current_price = v.current_price,
            market_value = v.market_value,
            cost_basis = v.cost_basis,
            unrealized_pnl = v.unrealized_pnl,
            unrealized_pnl_percent = v.unrealized_pnl_percent,
            price_date = v.price_date,
            is_stale = v.is_stale,
            sessions_behind = v.sessions_behind
        FROM (
            SELECT id, current_price, market_value, cost_basis, unrealized_pnl,
                   CASE WHEN abs(pnl_fraction) < 1e6 THEN pnl_fraction END
                       AS unrealized_pnl_percent,
                   price_date, is_stale, sessions_behind
            FROM holding_values
        ) AS v
        WHERE h.id = v.id
          AND (h.current_price, h.market_value, h.cost_basis, h.unrealized_pnl,
               h.unrealized_pnl_percent, h.price_date, h.is_stale, h.sessions_behind)
              IS DISTINCT FROM
              (v.current_price, v.market_value, v.cost_basis, v.unrealized_pnl,
               v.unrealized_pnl_percent, v.price_date, v.is_stale, v.sessions_behind)
        RETURNING 1
    ),
    updated_portfolios AS (
        UPDATE portfolios AS p
        SET equity_value = v.equity_value,
            total_value = v.total_value,
            total_return = v.total_return,
            day_return = v.day_return
        FROM portfolio_values AS v
        WHERE p.id = v.id
          AND (p.equity_value, p.total_value, p.total_return, p.day_return)
              IS DISTINCT FROM (v.equity_value, v.total_value, v.total_return, v.day_return)
        RETURNING 1
    ),
    missing_rates AS (  -- named once per conversion, however many holdings it concerns
        SELECT {conversion("portfolio_currency", "rate_date")} AS name
        FROM conversions WHERE rate IS NULL
        UNION ALL
        SELECT {conversion("portfolio_currency", "previous_date")}
        FROM conversions WHERE previous_close IS NOT NULL AND previous_rate IS NULL
    ),
    unknown_day_changes AS (
        SELECT ticker || CASE
            WHEN previous_date IS NULL THEN ' (no previous close)'
            WHEN calendar IS NULL THEN ' (no trading calendar)'
            WHEN consecutive IS NULL THEN ' (sessions of ' || calendar || ' unknown)'
            WHEN previous_date = price_date
                THEN ' (no close since ' || {ISO_DAY.format("price_date")} || ')'
            ELSE ' (previous close ' || {ISO_DAY.format("previous_date")}
                || ' is not the session before ' || {ISO_DAY.format("price_date")} || ')'
        END AS name
        FROM quotes WHERE consecutive IS NOT TRUE
    ),
    holding_counts AS (  -- one pass over the holdings
        SELECT
            count(*) AS holdings,
            count(*) FILTER (WHERE market_value IS NULL) AS unpriced_holdings,
            count(*) FILTER (WHERE without_rate) AS holdings_without_rate,
            count(*) FILTER (WHERE is_stale) AS stale_holdings,
            count(*) FILTER (WHERE is_stale IS NULL) AS unknown_staleness,
            count(*) FILTER (WHERE consecutive IS NOT TRUE) AS holdings_without_day_change
        FROM holding_values
    )
    SELECT
        c.holdings,
        (SELECT count(*) FROM updated_holdings) AS holdings_updated,
        c.unpriced_holdings,
        (SELECT count(*) FROM portfolio_values) AS portfolios,
        (SELECT count(*) FROM updated_portfolios) AS portfolios_updated,
        c.holdings_without_rate,
        {names("missing_rates")} AS missing_rates,
        c.stale_holdings,
        c.unknown_staleness,
        {names(f"(SELECT {STALE_PRICE} AS name FROM quotes WHERE is_stale) AS stale")}
            AS stale_prices,  -- every quote is of a held security
        c.holdings_without_day_change,
        {names("unknown_day_changes")} AS unknown_day_changes
    FROM holding_counts AS c
    """  # noqa: S608 (composed of this module's SQL constants only)
)

POSITION_QUOTES = """
    SELECT
        pos.id,
        pos.trade_id,
        pos.security_id,
        pos.status,
        t.status AS trade_status,
        s.ticker,
        s.exchange,
        s.trading_calendar AS calendar,
        pos.position_type,
        CASE pos.position_type WHEN 'long' THEN 1 WHEN 'short' THEN -1 END AS direction,
        pos.allocation_percent,
        pos.quantity,
        pos.entry_price,
        pos.entry_fx_rate,
        coalesce(s.currency, 'USD') AS currency,
        t.currency AS trade_currency,
        t.notional,
        bar.date,
        bar.close,
        s.current_price AS cached_price
    FROM positions AS pos
    JOIN trades AS t ON t.id = pos.trade_id
    JOIN securities AS s ON s.id = pos.security_id
    LEFT JOIN LATERAL latest_bar(s.id) AS bar ON true
"""
"""Each position with its trade, its security's currency and calendar and its latest bar."""

POSITION_STALENESS = f"""
    CROSS JOIN valuation_date AS v
    CROSS JOIN sessions_known AS k
    {STALENESS.format(calendar="q.calendar", price_date="q.date")}
"""
"""The staleness of the close `q.date` of each position `q`, after `WITH {VALUATION_DATES}`."""

MARKET_VALUE = "direction * round(quantity * price * rate, 2)"
PNL = (
    "direction * (round(quantity * price * rate, 2)"
    " - round(quantity * entry_price * entry_fx_rate, 2))"
)
"""A position's market value and P&L in its trade's currency at `price` and `rate`."""

LACKING = """
    SELECT ticker, exchange, position_type, currency, trade_currency, date, close IS NULL
    FROM quotes WHERE close IS NULL OR rate IS NULL
    ORDER BY ticker, exchange, position_type
"""
"""The positions of `quotes` that have no close or no rate for it."""

SPLITS_AFTER = """
    coalesce(
        (SELECT round(exp(sum(ln(a.value))), 10) FROM corporate_actions AS a
         WHERE a.security_id = {security} AND a.action = 'split' AND a.date > {day}),
        1
    )
"""
"""The product of the ratios of a security's stored splits dated after a day (1 for none)."""

OPEN_POSITIONS = text(
    f"""
    WITH quotes AS MATERIALIZED (
        SELECT q.*, round(fx_rate(q.currency, q.trade_currency, q.date), 10) AS rate
        FROM ({POSITION_QUOTES}) AS q
        WHERE q.trade_id = :trade_id
    ),
    opened AS (
        UPDATE positions AS pos
        SET status = 'open',
            opened_at = :at,
            closed_at = NULL,
            entry_price = q.close,
            entry_fx_rate = q.rate,
            entry_price_date = q.date,
            quantity = coalesce(q.notional, :default_notional) * q.allocation_percent / 100
                / (q.close * q.rate),
            split_factor = {SPLITS_AFTER.format(security="q.security_id", day="q.date")},
            current_price = NULL,
            price_date = NULL,
            is_stale = NULL,
            sessions_behind = NULL,
            market_value = NULL,
            unrealized_pnl = NULL,
            exit_price = NULL,
            realized_pnl = NULL
        FROM quotes AS q
        WHERE pos.id = q.id
          AND NOT EXISTS (SELECT FROM quotes WHERE close IS NULL OR rate IS NULL)
    )
    {LACKING}
    """  # noqa: S608 (composed of this module's SQL constants only)
)

CLOSE_POSITIONS = text(
    f"""
    WITH {VALUATION_DATES},
    quotes AS MATERIALIZED (
        SELECT
            q.*,
            q.close AS price,
            fx_rate(q.currency, q.trade_currency, q.date) AS rate,
            staleness.sessions_behind,
            staleness.is_stale
        FROM ({POSITION_QUOTES}) AS q
        {POSITION_STALENESS}
        WHERE q.trade_id = :trade_id AND q.status = 'open'
    ),
    settled AS (
        SELECT id, price, date, is_stale, sessions_behind, {PNL} AS realized_pnl FROM quotes
    ),
    closed AS (
        UPDATE positions AS pos
        SET status = 'closed',
            closed_at = :at,
            exit_price = v.price,
            realized_pnl = v.realized_pnl,
            current_price = v.price,
            price_date = v.date,
            is_stale = v.is_stale,
            sessions_behind = v.sessions_behind,
            market_value = 0,
            unrealized_pnl = 0
        FROM settled AS v
        WHERE pos.id = v.id
          AND NOT EXISTS (SELECT FROM quotes WHERE close IS NULL OR rate IS NULL)
    )
    {LACKING}
    """  # noqa: S608 (composed of this module's SQL constants only)
)

SPLITS_AFTER_ENTRY = SPLITS_AFTER.format(
    security="pos.security_id", day="coalesce(pos.entry_price_date, pos.opened_at::date)"
)

APPLY_SPLITS = text(
    f"""
    WITH factors AS (
        SELECT
            pos.id,
            {SPLITS_AFTER_ENTRY} AS factor
        FROM positions AS pos
        JOIN trades AS t ON t.id = pos.trade_id
        WHERE pos.status = 'open' AND pos.opened_at IS NOT NULL AND t.status = 'active'
          AND (CAST(:trade_id AS uuid) IS NULL OR pos.trade_id = CAST(:trade_id AS uuid))
    )
    UPDATE positions AS pos
    SET quantity = pos.quantity * f.factor / pos.split_factor,
        entry_price = pos.entry_price * pos.split_factor / f.factor,
        exit_price = pos.exit_price * pos.split_factor / f.factor,
        split_factor = f.factor
    FROM factors AS f
    WHERE pos.id = f.id AND pos.status = 'open' AND pos.split_factor <> f.factor
    RETURNING pos.id
    """  # noqa: S608 (composed of this module's SQL constants only)
)

POSITION_COLUMNS = (
    "current_price",
    "market_value",
    "unrealized_pnl",
    "price_date",
    "is_stale",
    "sessions_behind",
    "quantity",
    "entry_price",
    "exit_price",
    "split_factor",
)
"""The columns of `positions` that `value_trade_positions` sets: the valuation
(`VALUE_TRADE_POSITIONS`) and the splits since entry (`APPLY_SPLITS`)."""

VALUE_TRADE_POSITIONS = text(
    f"""
    WITH {VALUATION_DATES},
    quotes AS MATERIALIZED (  -- each price looked up once
        SELECT
            q.*,
            coalesce(q.close, q.cached_price) AS price,
            coalesce(q.date, CURRENT_DATE) AS rate_date,
            staleness.sessions_behind,
            staleness.is_stale
        FROM ({POSITION_QUOTES}) AS q
        {POSITION_STALENESS}
        WHERE q.status = 'open' AND q.trade_status = 'active'
    ),
    rates AS MATERIALIZED (  -- each rate looked up once, not once per position
        SELECT needed.*, fx_rate(needed.currency, needed.trade_currency, needed.rate_date) AS rate
        FROM (SELECT DISTINCT currency, trade_currency, rate_date FROM quotes) AS needed
    ),
    position_values AS (
        SELECT
            q.id,
            q.ticker,
            q.currency,
            q.trade_currency,
            r.rate,
            q.rate_date,
            q.entry_fx_rate,
            q.date AS price_date,
            q.is_stale,
            q.sessions_behind,
            q.price AS current_price,
            {MARKET_VALUE} AS market_value,
            {PNL} AS unrealized_pnl
        FROM quotes AS q
        LEFT JOIN rates AS r  -- LEFT: every position has its rate, known or NULL
            ON r.currency = q.currency AND r.trade_currency = q.trade_currency
            AND r.rate_date = q.rate_date
    ),
    updated AS (
        UPDATE positions AS pos
        SET current_price = v.current_price,
            market_value = v.market_value,
            unrealized_pnl = v.unrealized_pnl,
            price_date = v.price_date,
            is_stale = v.is_stale,
            sessions_behind = v.sessions_behind
        FROM position_values AS v
        WHERE pos.id = v.id
          AND pos.status = 'open'  -- re-checked should a closing commit meanwhile
          AND (pos.current_price, pos.market_value, pos.unrealized_pnl, pos.price_date,
               pos.is_stale, pos.sessions_behind)
              IS DISTINCT FROM (v.current_price, v.market_value, v.unrealized_pnl, v.price_date,
                                v.is_stale, v.sessions_behind)
        RETURNING pos.id
    ),
    missing_rates AS (
        SELECT {conversion("trade_currency", "rate_date")} AS name
        FROM position_values WHERE rate IS NULL
        UNION ALL
        SELECT ticker || ' (' || currency || ' to ' || trade_currency || ' at entry)'
        FROM position_values WHERE entry_fx_rate IS NULL
    )
    SELECT
        (SELECT count(*) FROM position_values) AS positions,
        (SELECT coalesce(array_agg(id), '{{}}') FROM updated) AS revalued,
        (SELECT count(*) FROM position_values WHERE rate IS NULL OR entry_fx_rate IS NULL)
            AS without_rate,
        {names("missing_rates")} AS missing_rates,
        (SELECT count(*) FROM position_values WHERE is_stale) AS stale_positions,
        (SELECT count(*) FROM position_values WHERE is_stale IS NULL) AS unknown_staleness,
        {names(f"(SELECT {STALE_PRICE} AS name FROM position_values WHERE is_stale) AS stale")}
            AS stale_prices
    """  # noqa: S608 (composed of this module's SQL constants only)
)

PORTFOLIOS_PREVIEW = text(
    """
    SELECT name, currency, cash_balance, equity_value, total_value, total_return, day_return,
           holdings, unvalued_holdings, stale_holdings, last_synced_at
    FROM v_portfolio_summary WHERE is_active ORDER BY name LIMIT 10
    """
)


@dataclass(frozen=True)
class PortfolioValuationResult:
    """`unpriced_holdings`: holdings with no price or no rate, which leave their portfolio
    unvalued; `holdings_without_rate` counts those lacking the rate of their price or of their
    previous close, and `missing_rates` names each conversion concerned, e.g.
    `SHEL.L (GBp to USD on 2024-01-03)`. `stale_holdings` are priced at a close older than their
    exchange's latest session (`stale_prices` names them), `unknown_staleness` counts those that
    cannot be told. `holdings_without_day_change` leave their portfolio's day return NULL for a
    reason other than a rate, which `unknown_day_changes` names."""

    holdings: int
    holdings_updated: int
    unpriced_holdings: int
    portfolios: int
    portfolios_updated: int
    holdings_without_rate: int
    missing_rates: tuple[str, ...]
    stale_holdings: int
    unknown_staleness: int
    stale_prices: tuple[str, ...]
    holdings_without_day_change: int
    unknown_day_changes: tuple[str, ...]


@dataclass(frozen=True)
class PositionValuationResult:
    """`positions`: open positions of active trades valued; `updated`: those whose rows changed
    (a split, a new value or both); `split_adjusted`: those whose quantity and prices a split
    changed in this run; `without_rate`, `missing_rates` and the staleness as for portfolios
    (a position without an entry rate is counted and named too)."""

    positions: int
    updated: int
    split_adjusted: int
    without_rate: int
    missing_rates: tuple[str, ...]
    stale_positions: int
    unknown_staleness: int
    stale_prices: tuple[str, ...]


@dataclass(frozen=True)
class MissingQuote:
    """A position that cannot be opened or closed: its security has no close (`date` None), or
    no rate from its currency to the trade's for its close of `close_date`."""

    ticker: str
    exchange: str | None
    side: str
    currency: str
    trade_currency: str
    close_date: date | None
    no_price: bool

    def __str__(self) -> str:
        security = f"{self.ticker}@{self.exchange}" if self.exchange else self.ticker
        if self.no_price:
            return f"{security} {self.side}: no price"
        return (
            f"{security} {self.side}: no {self.currency} to {self.trade_currency} rate "
            f"for its close of {self.close_date}"
        )


def as_tuples(row: dict[str, Any]) -> dict[str, Any]:
    """A result row with its arrays (lists) as tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}


def value_portfolios(conn: Connection) -> PortfolioValuationResult:
    """Value every holding and every portfolio (see the module docstring for the conventions)."""
    return PortfolioValuationResult(**as_tuples(conn.execute(VALUE_PORTFOLIOS).one()._asdict()))


def portfolios_preview(conn: Connection) -> pd.DataFrame:
    """The first ten active portfolios by name, as `v_portfolio_summary` shows them."""
    return pd.read_sql_query(PORTFOLIOS_PREVIEW, conn)


def apply_splits(conn: Connection, trade_id: uuid.UUID | None = None) -> set[uuid.UUID]:
    """Bring the open positions of active trades (of `trade_id` only, when given) in line with
    the splits since their entry price; returns the ids of those that changed."""
    return set(conn.execute(APPLY_SPLITS, {"trade_id": trade_id}).scalars())


def value_trade_positions(conn: Connection) -> PositionValuationResult:
    """Apply new splits, then value the open positions of active trades: current price, its date
    and staleness, signed market value and unrealized P&L in the trade's currency.

    A position without a quantity, an entry price or an entry rate gets no P&L.
    """
    adjusted = apply_splits(conn)
    values = as_tuples(conn.execute(VALUE_TRADE_POSITIONS).one()._asdict())
    updated = len(adjusted | set(values.pop("revalued")))
    return PositionValuationResult(updated=updated, split_adjusted=len(adjusted), **values)


def open_trade_positions(
    conn: Connection, trade_id: uuid.UUID, at: datetime, default_notional: Decimal
) -> list[MissingQuote]:
    """Open every position of the trade at its security's latest close, investing the trade's
    notional (`default_notional` when it has none); or, when a position has no close or no rate,
    change nothing and return those positions."""
    params = {"trade_id": trade_id, "at": at, "default_notional": default_notional}
    return [MissingQuote(*r) for r in conn.execute(OPEN_POSITIONS, params)]


def close_trade_positions(
    conn: Connection, trade_id: uuid.UUID, at: datetime
) -> list[MissingQuote]:
    """Apply the trade's new splits, then close its open positions at their securities' latest
    closes, recording the realized P&L; or, when a position has no close or no rate, close none
    and return those positions."""
    apply_splits(conn, trade_id)
    return [
        MissingQuote(*r) for r in conn.execute(CLOSE_POSITIONS, {"trade_id": trade_id, "at": at})
    ]
