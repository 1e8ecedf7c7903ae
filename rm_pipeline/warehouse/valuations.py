"""Portfolio and trade valuations, computed inside the warehouse in one SQL statement each.

Prices. A security's current price is the close of its latest bar in `price_history`, falling back
to `securities.current_price` when it has no history. Its previous close is the close of its latest
bar dated before the valuation date, the latest date in `price_history` over all securities: a
security that did not trade on the valuation date thus shows no change that day.

Holdings (`portfolio_holdings`), with `quantity` always positive and `side` giving the direction:

- `market_value` is signed: +quantity x price for a long, -quantity x price for a short (a short is
  what the portfolio owes the lender; the proceeds of the short sale sit in the cash balance). Rounded
  to cents.
- `cost_basis` = quantity x average_entry_price, positive for both sides (for a short, the proceeds
  received when it was opened). Rounded to cents.
- `unrealized_pnl`: long = market_value - cost_basis; short = cost_basis + market_value, i.e.
  (entry - current) x quantity. Taken from the rounded figures, so the identities hold to the cent.
- `unrealized_pnl_percent` = unrealized_pnl / cost_basis, a fraction (0.1 = 10%) rounded to four
  places; NULL when the cost basis is zero or the ratio does not fit NUMERIC(10,4).

Portfolios (`portfolios`), with a NULL cash balance counted as zero:

- `equity_value` = the sum of the holdings' signed market values (0 without holdings);
  `total_value` = cash_balance + equity_value. Both, and both returns, are NULL when any holding has
  no price at all: a partial sum would misstate the portfolio silently.
- `total_return` = sum of unrealized P&L / sum of cost bases over the holdings: the unrealized return
  on the capital committed to the current holdings (cash, deposits and realized gains are outside
  it, as the warehouse does not record them). NULL without holdings.
- `day_return` = (equity_value - previous equity) / (cash_balance + previous equity), the previous
  equity being the same holdings at their previous closes: the day's change of the current holdings
  over the portfolio's previous total value. NULL when a holding has no previous close or the
  previous total value is not positive.

Returns are fractions rounded to four places, NULL when they do not fit NUMERIC(10,4).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

VALUE_PORTFOLIOS = text(
    """
    WITH valuation_date AS (
        SELECT max(bar.date) AS day
        FROM securities AS s
        CROSS JOIN LATERAL (
            SELECT p.date FROM price_history AS p
            WHERE p.security_id = s.id ORDER BY p.date DESC LIMIT 1
        ) AS bar
    ),
    quotes AS MATERIALIZED (  -- once per security, not once per holding
        SELECT
            s.id AS security_id,
            coalesce(
                (SELECT p.close FROM price_history AS p
                 WHERE p.security_id = s.id ORDER BY p.date DESC LIMIT 1),
                s.current_price
            ) AS current_price,
            (SELECT p.close FROM price_history AS p, valuation_date AS v
             WHERE p.security_id = s.id AND p.date < v.day ORDER BY p.date DESC LIMIT 1)
                AS previous_close
        FROM securities AS s
        WHERE s.id IN (SELECT security_id FROM portfolio_holdings)
    ),
    amounts AS (
        SELECT
            h.id,
            h.portfolio_id,
            CASE h.side WHEN 'long' THEN 1 WHEN 'short' THEN -1 END AS direction,
            q.current_price,
            round(h.quantity * q.current_price, 2) AS gross_value,
            round(h.quantity * q.previous_close, 2) AS previous_gross_value,
            round(h.quantity * h.average_entry_price, 2) AS cost_basis
        FROM portfolio_holdings AS h
        JOIN quotes AS q ON q.security_id = h.security_id
    ),
    holding_values AS (
        SELECT
            id,
            portfolio_id,
            current_price,
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
            bool_and(previous_market_value IS NOT NULL) AS all_previously_priced,
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
            unrealized_pnl_percent = v.unrealized_pnl_percent
        FROM (
            SELECT id, current_price, market_value, cost_basis, unrealized_pnl,
                   CASE WHEN abs(pnl_fraction) < 1e6 THEN pnl_fraction END
                       AS unrealized_pnl_percent
            FROM holding_values
        ) AS v
        WHERE h.id = v.id
          AND (h.current_price, h.market_value, h.cost_basis, h.unrealized_pnl,
               h.unrealized_pnl_percent)
              IS DISTINCT FROM
              (v.current_price, v.market_value, v.cost_basis, v.unrealized_pnl,
               v.unrealized_pnl_percent)
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
    )
    SELECT
        (SELECT count(*) FROM holding_values),
        (SELECT count(*) FROM updated_holdings),
        (SELECT count(*) FROM holding_values WHERE market_value IS NULL),
        (SELECT count(*) FROM portfolio_values),
        (SELECT count(*) FROM updated_portfolios)
    """
)

VALUE_TRADE_POSITIONS = text(
    """
    WITH open_positions AS MATERIALIZED (  -- each price looked up once
        SELECT
            pos.id,
            CASE pos.position_type WHEN 'long' THEN 1 WHEN 'short' THEN -1 END AS direction,
            pos.quantity,
            pos.entry_price,
            coalesce(
                (SELECT p.close FROM price_history AS p
                 WHERE p.security_id = s.id ORDER BY p.date DESC LIMIT 1),
                s.current_price
            ) AS current_price
        FROM positions AS pos
        JOIN trades AS t ON t.id = pos.trade_id
        JOIN securities AS s ON s.id = pos.security_id
        WHERE pos.status = 'open' AND t.status = 'active'
    ),
    position_values AS (
        SELECT
            id,
            current_price,
            direction * round(quantity * current_price, 2) AS market_value,
            direction * (round(quantity * current_price, 2) - round(quantity * entry_price, 2))
                AS unrealized_pnl
        FROM open_positions
    ),
    updated AS (
        UPDATE positions AS pos
        SET current_price = v.current_price,
            market_value = v.market_value,
            unrealized_pnl = v.unrealized_pnl
        FROM position_values AS v
        WHERE pos.id = v.id
          AND (pos.current_price, pos.market_value, pos.unrealized_pnl)
              IS DISTINCT FROM (v.current_price, v.market_value, v.unrealized_pnl)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM position_values), (SELECT count(*) FROM updated)
    """
)


@dataclass(frozen=True)
class PortfolioValuationResult:
    """`unpriced_holdings`: holdings with no price at all, which leave their portfolio unvalued."""

    holdings: int
    holdings_updated: int
    unpriced_holdings: int
    portfolios: int
    portfolios_updated: int


@dataclass(frozen=True)
class PositionValuationResult:
    positions: int
    updated: int


def value_portfolios(conn: Connection) -> PortfolioValuationResult:
    """Value every holding and every portfolio (see the module docstring for the conventions)."""
    row = conn.execute(VALUE_PORTFOLIOS).one()
    return PortfolioValuationResult(*row)


def value_trade_positions(conn: Connection) -> PositionValuationResult:
    """Value the open positions of active trades: current price, signed market value and P&L.

    Market value and unrealized P&L follow the holdings' conventions; a position without a
    quantity or an entry price gets no market value or no P&L.
    """
    positions, updated = conn.execute(VALUE_TRADE_POSITIONS).one()
    return PositionValuationResult(positions=positions, updated=updated)
