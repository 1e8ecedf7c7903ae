"""The standard frames every provider returns, each defined once as a pandera model.

Units and meanings (docs/PROVIDERS.md has the full story):

* dates are naive `datetime64[ns]` at midnight and mean the trading date at the exchange;
* `open`, `high`, `low`, `close` are as traded, restated for later splits but not for dividends;
  `adj_close` is also adjusted for dividends (use it for returns);
* a split's `value` is new shares per old share (4.0 for 4-for-1, 0.1 for 1-for-10), a
  dividend's `value` is cash per share in the price currency;
* `dividend_yield` is a fraction (0.005 = 0.5 %).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from rm_pipeline.providers.tickers import MAX_TICKER_LENGTH

SECURITY_TYPES: Final = ("equity", "bond", "option", "future", "index", "etf", "crypto")
ACTION_TYPES: Final = ("split", "dividend")
CURRENCY_PATTERN: Final = r"^[A-Z]{3}$"
"""A major currency's ISO 4217 code; minor units (`GBp`) are not exchange-rate currencies."""


def _ticker_field() -> Any:
    return pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_TICKER_LENGTH})


def _at_midnight(dates: pd.Series) -> pd.Series:
    return dates.isna() | (dates == dates.dt.normalize())


class _Frame(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True
        ordered = True


class SecurityFrame(_Frame):
    """Reference data, one row per ticker."""

    ticker: Series[str] = _ticker_field()
    name: Series[str] = pa.Field(nullable=False)
    security_type: Series[str] = pa.Field(isin=SECURITY_TYPES)
    exchange: Series[str] = pa.Field(nullable=True)
    currency: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True)
    sector: Series[str] = pa.Field(nullable=True)
    industry: Series[str] = pa.Field(nullable=True)
    description: Series[str] = pa.Field(nullable=True)

    class Config:
        unique = ["ticker"]


class DailyBarFrame(_Frame):
    """One row per ticker and trading date."""

    ticker: Series[str] = _ticker_field()
    date: Series[pd.Timestamp] = pa.Field(nullable=False)
    open: Series[float] = pa.Field(gt=0)
    high: Series[float] = pa.Field(gt=0)
    low: Series[float] = pa.Field(gt=0)
    close: Series[float] = pa.Field(gt=0)
    adj_close: Series[float] = pa.Field(gt=0)
    volume: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    """Shares traded; missing (NULL) when the source did not say."""

    @pa.check("date", name="trading_date_at_midnight")
    def _date_at_midnight(cls, dates: Series[pd.Timestamp]) -> pd.Series:
        return _at_midnight(dates)

    @pa.dataframe_check(name="low_le_high")
    def _low_le_high(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["low"] <= frame["high"]

    class Config:
        unique = ["ticker", "date"]


class CorporateActionFrame(_Frame):
    """Splits and cash dividends, one row per ticker, date and action."""

    ticker: Series[str] = _ticker_field()
    date: Series[pd.Timestamp] = pa.Field(nullable=False)
    action: Series[str] = pa.Field(isin=ACTION_TYPES)
    value: Series[float] = pa.Field(gt=0)

    @pa.check("date", name="trading_date_at_midnight")
    def _date_at_midnight(cls, dates: Series[pd.Timestamp]) -> pd.Series:
        return _at_midnight(dates)

    class Config:
        unique = ["ticker", "date", "action"]


class FundamentalsFrame(_Frame):
    """A snapshot of valuation and trading figures, one row per ticker."""

    ticker: Series[str] = _ticker_field()
    as_of: Series[pd.Timestamp] = pa.Field(nullable=False)
    current_price: Series[float] = pa.Field(nullable=True, gt=0)
    market_cap: Series[float] = pa.Field(nullable=True, ge=0)
    volume: Series[float] = pa.Field(nullable=True, ge=0)
    avg_volume: Series[float] = pa.Field(nullable=True, ge=0)
    pe_ratio: Series[float] = pa.Field(nullable=True)
    ps_ratio: Series[float] = pa.Field(nullable=True)
    pb_ratio: Series[float] = pa.Field(nullable=True)
    ev_ebitda: Series[float] = pa.Field(nullable=True)
    dividend_yield: Series[float] = pa.Field(nullable=True, ge=0)
    fifty_two_week_high: Series[float] = pa.Field(nullable=True, gt=0)
    fifty_two_week_low: Series[float] = pa.Field(nullable=True, gt=0)

    @pa.check("as_of", name="date_at_midnight")
    def _as_of_at_midnight(cls, dates: Series[pd.Timestamp]) -> pd.Series:
        return _at_midnight(dates)

    class Config:
        unique = ["ticker"]


class FxRateFrame(_Frame):
    """Daily exchange rates, one row per currency pair and date: `rate` units of
    `quote_currency` buy one unit of `base_currency` at the day's close (EUR/USD 1.08)."""

    base_currency: Series[str] = pa.Field(str_matches=CURRENCY_PATTERN)
    quote_currency: Series[str] = pa.Field(str_matches=CURRENCY_PATTERN)
    date: Series[pd.Timestamp] = pa.Field(nullable=False)
    rate: Series[float] = pa.Field(gt=0)

    @pa.check("date", name="date_at_midnight")
    def _date_at_midnight(cls, dates: Series[pd.Timestamp]) -> pd.Series:
        return _at_midnight(dates)

    @pa.dataframe_check(name="distinct_currencies")
    def _distinct(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["base_currency"] != frame["quote_currency"]

    class Config:
        unique = ["base_currency", "quote_currency", "date"]


class RejectedFrame(_Frame):
    """Rows a provider set aside, with the reason (see validation.RejectReason)."""

    ticker: Series[str] = pa.Field(nullable=False)
    date: Series[pd.Timestamp] = pa.Field(nullable=True)
    reason: Series[str] = pa.Field(nullable=False)
    raw: Series[str] = pa.Field(nullable=True)
    """The row's values as the source sent them, as JSON text."""


FrameModel = type[_Frame]


def columns(model: FrameModel) -> list[str]:
    """The model's column names, in order."""
    return list(model.to_schema().columns)


def empty_frame(model: FrameModel) -> pd.DataFrame:
    """A zero-row frame with the model's columns and dtypes."""
    return _empty_frame(model).copy()


@cache
def _empty_frame(model: FrameModel) -> pd.DataFrame:
    """Validated once per model: pandera's fixed cost is the whole cost of an empty frame."""
    return conform(model, pd.DataFrame({name: [] for name in columns(model)}))


def concat_frames(frames: list[pd.DataFrame], model: FrameModel) -> pd.DataFrame:
    """The non-empty frames stacked, or an empty frame with the model's columns."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=columns(model))
    return pd.concat(frames, ignore_index=True)


def conform(model: FrameModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate `frame` against `model`: exact columns in order, coerced dtypes, fresh index.

    Timezone-aware datetimes are refused rather than coerced: pandera would convert them to
    UTC, which moves an Asian trading date to the previous day.
    """
    for name in ("date", "as_of"):
        if name in frame.columns and isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            raise TypeError(f"{model.__name__}.{name} must be a naive local trading date")
    validated = model.validate(frame.reset_index(drop=True), lazy=True)
    return validated.reset_index(drop=True)
