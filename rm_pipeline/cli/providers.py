"""`rm-pipeline providers ...`: look at what the market data providers return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import click
import pandas as pd

from rm_pipeline.core.words import counted
from rm_pipeline.providers import MarketDataProvider, ProviderResult, build_provider
from rm_pipeline.settings import ProviderName, get_settings

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])
"""A date option or argument written YYYY-MM-DD."""


@click.group()
def providers() -> None:
    """Inspect the market data providers (no database needed).

    Every command prints the provider's validated frame, each ticker's outcome (ok, no_data,
    delisted, rate_limited, error, invalid) and any rows set aside as invalid. The exit status
    is 1 when any ticker failed (an outcome other than ok or no_data).
    """


def _provider_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--files-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Directory of CSV/Parquet files for the files provider (implies --provider files; "
        "default RM_PROVIDER_FILES_DIR).",
    )(command)
    return click.option(
        "--provider",
        "-p",
        type=click.Choice(get_args(ProviderName)),
        help="Where the data comes from (default RM_PROVIDER, else synthetic). yfinance needs "
        "network access to Yahoo.",
    )(command)


def _range_options(default_days: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--days",
            type=click.IntRange(min=0),
            default=default_days,
            show_default=True,
            help="Calendar days before END to start from (ignored with --start).",
        )(command)
        command = click.option(
            "--end", type=ISO_DATE, help="Last date, YYYY-MM-DD (default today)."
        )(command)
        return click.option("--start", type=ISO_DATE, help="First date, YYYY-MM-DD.")(command)

    return decorate


def _build(provider: str | None, files_dir: Path | None) -> MarketDataProvider:
    updates: dict[str, object] = {}
    if files_dir is not None:
        updates |= {"provider": "files", "provider_files_dir": files_dir}
    if provider is not None:
        updates["provider"] = provider
    settings = get_settings()  # outside the try: a bad setting (a ValueError too) is one line
    try:
        return build_provider(settings.model_copy(update=updates))
    except (ValueError, FileNotFoundError) as err:
        raise click.UsageError(str(err)) from err


def _dates(start: datetime | None, end: datetime | None, days: int) -> tuple[date, date]:
    last = end.date() if end else date.today()
    first = start.date() if start else last - timedelta(days=days)
    if first > last:
        raise click.UsageError(f"--start {first} is after --end {last}")
    return first, last


def _show(result: ProviderResult, per_ticker: int | None = None, key: str = "ticker") -> None:
    """Print the frame (the last rows per `key` value when asked), the outcomes and the
    rejections."""
    frame = result.frame
    if per_ticker is not None:
        frame = frame.groupby(key, sort=False).tail(per_ticker)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
        if len(frame) < len(result.frame):
            click.echo(
                f"(the last {per_ticker} of each {key.removeprefix('base_')}: {len(frame):,} of "
                f"{counted(len(result.frame), 'row')}; --rows shows more)"
            )
        click.echo("\nOutcomes:")
        outcomes = pd.DataFrame([asdict(o) for o in result.outcomes])
        click.echo(outcomes.to_string(index=False) if len(outcomes) else "(no tickers)")
        if len(result.rejected):
            click.echo(f"\nRejected rows ({len(result.rejected)}):")
            click.echo(result.rejected.to_string(index=False))
    if result.failed():
        raise SystemExit(1)


def _rows_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--rows`: how many rows of each ticker (or currency) to show."""
    return click.option(
        "--rows", type=click.IntRange(min=1), default=5, show_default=True, help=help_text
    )


@providers.command()
@click.argument("tickers", nargs=-1, required=True)
@_provider_options
@_range_options(default_days=7)
@_rows_option("Bars shown per ticker.")
def bars(
    tickers: tuple[str, ...],
    provider: str | None,
    files_dir: Path | None,
    start: datetime | None,
    end: datetime | None,
    days: int,
    rows: int,
) -> None:
    """Daily bars of TICKERS over a date range (both ends included).

    Prices are as traded, adjusted for later splits but not for dividends; adj_close is also
    adjusted for dividends.

    \b
    Examples:
      rm-pipeline providers bars AAPL MSFT --days 5
      rm-pipeline providers bars 7203.T --provider yfinance --start 2024-01-01 --end 2024-01-31
      rm-pipeline providers bars AAPL --files-dir ./exports
    """
    first, last = _dates(start, end, days)
    _show(_build(provider, files_dir).daily_bars(list(tickers), first, last), per_ticker=rows)


@providers.command()
@click.argument("currencies", nargs=-1, required=True)
@_provider_options
@_range_options(default_days=7)
@_rows_option("Rates shown per currency.")
def fx(
    currencies: tuple[str, ...],
    provider: str | None,
    files_dir: Path | None,
    start: datetime | None,
    end: datetime | None,
    days: int,
    rows: int,
) -> None:
    """Daily exchange rates of CURRENCIES in US dollars (USD per unit) over a date range.

    CURRENCIES are major ISO codes (EUR, GBP, JPY; not USD, not minor units such as GBp). Each
    is fetched as Yahoo's pair ticker, which names its outcome: EUR as EURUSD=X (the files
    provider reads EURUSD=X.csv).

    \b
    Examples:
      rm-pipeline providers fx EUR GBP JPY --days 5
      rm-pipeline providers fx CHF --provider yfinance --start 2024-01-01 --end 2024-01-31
    """
    first, last = _dates(start, end, days)
    result = _build(provider, files_dir).fx_rates(list(currencies), first, last)
    _show(result, per_ticker=rows, key="base_currency")


@providers.command()
@click.argument("tickers", nargs=-1, required=True)
@_provider_options
@_range_options(default_days=365)
def actions(
    tickers: tuple[str, ...],
    provider: str | None,
    files_dir: Path | None,
    start: datetime | None,
    end: datetime | None,
    days: int,
) -> None:
    """Splits and dividends of TICKERS over a date range (both ends included).

    A split's value is new shares per old share (4.0 for 4-for-1); a dividend's is cash per
    share.
    """
    first, last = _dates(start, end, days)
    _show(_build(provider, files_dir).corporate_actions(list(tickers), first, last))


@providers.command()
@click.argument("tickers", nargs=-1)
@_provider_options
def securities(tickers: tuple[str, ...], provider: str | None, files_dir: Path | None) -> None:
    """Reference data of TICKERS; with none, the provider's default universe."""
    _show(_build(provider, files_dir).securities(list(tickers) or None))


@providers.command()
@click.argument("tickers", nargs=-1, required=True)
@_provider_options
def fundamentals(tickers: tuple[str, ...], provider: str | None, files_dir: Path | None) -> None:
    """The latest fundamentals snapshot of TICKERS (dividend_yield is a fraction)."""
    _show(_build(provider, files_dir).fundamentals(list(tickers)))
