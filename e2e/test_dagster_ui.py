"""The Dagster UI in a real browser: what the catalog, the asset graph, `price_history`'s page and a
run launched from the UI show, checked against the project's definitions and warehouse."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import dagster as dg
import psycopg
import pytest
from playwright.sync_api import Page, expect

from e2e.artifacts import Screenshots
from e2e.dagster_ui import DagsterUI
from rm_pipeline.definitions import defs
from rm_pipeline.defs.partitions import range_tags

ASSETS = sorted(defs.resolve_all_asset_specs(), key=lambda spec: spec.key.to_user_string())
GROUPS = sorted({spec.group_name for spec in ASSETS if spec.group_name})
PRICE_HISTORY = next(spec for spec in ASSETS if spec.key == dg.AssetKey("price_history"))
LOADED_PARTITIONS = 3
"""The latest partitions loaded before the checks: a cheap range, one run."""
RUN_SECONDS = 120
PARTITION_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def asset_path(spec: dg.AssetSpec) -> str:
    return "/".join(spec.key.path)


@pytest.fixture(scope="module")
def price_partitions() -> list[str]:
    partitions = PRICE_HISTORY.partitions_def
    assert partitions is not None
    return list(partitions.get_partition_keys())


@dataclass(frozen=True)
class LoadedHistory:
    partitions: list[str]
    run_id: str


def run_to_success(dagster_ui: DagsterUI, job: str, tags: Mapping[str, str]) -> str:
    run_id = dagster_ui.launch_run(job, tags)
    assert dagster_ui.wait_for_run(run_id, RUN_SECONDS) == "SUCCESS", f"{job} run {run_id}"
    return run_id


@pytest.fixture(scope="module")
def loaded_history(dagster_ui: DagsterUI, price_partitions: list[str]) -> LoadedHistory:
    """The securities master, then the last LOADED_PARTITIONS price partitions as one range run,
    launched as the UI's launchpad launches runs."""
    loaded = price_partitions[-LOADED_PARTITIONS:]
    run_to_success(dagster_ui, "refresh_securities", {})
    run_id = run_to_success(dagster_ui, "ingest_price_history", range_tags(loaded[0], loaded[-1]))
    return LoadedHistory(partitions=loaded, run_id=run_id)


def stored_bars_from(dagster_ui: DagsterUI, first_day: str) -> int:
    """Bars the warehouse holds from `first_day` on."""
    with psycopg.connect(dagster_ui.warehouse_uri()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM price_history WHERE date >= %s", (date.fromisoformat(first_day),)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_catalog_lists_every_asset_with_its_group(
    page: Page, dagster_ui: DagsterUI, screenshots: Screenshots
) -> None:
    page.goto(f"{dagster_ui.url}/assets")
    for spec in ASSETS:
        path = asset_path(spec)
        expect(page.locator(f'a[href="/assets/{path}"]')).to_be_visible()
        # The group column links to the asset in its group's lineage, and names the group.
        group_link = page.locator(f'a[href^="/asset-groups"][href$="/{path}"]')
        expect(group_link).to_have_text(str(spec.group_name))
    expect(page.locator('a[href^="/assets/"]')).to_have_count(len(ASSETS))
    expect(page.get_by_text(re.compile(r"^Loading"))).to_have_count(0)
    screenshots.save(page, "asset-catalog")


def test_asset_graph_shows_each_group_with_its_assets(
    page: Page, dagster_ui: DagsterUI, screenshots: Screenshots
) -> None:
    graph = page.locator("svg foreignObject")  # the graph draws each node as HTML in the SVG
    for group in GROUPS:
        page.goto(f'{dagster_ui.url}/asset-groups~group:"{group}"')
        for spec in ASSETS:
            node = graph.get_by_text(asset_path(spec), exact=True)
            expect(node).to_have_count(1 if spec.group_name == group else 0)
    page.goto(f"{dagster_ui.url}/asset-groups")
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name=re.compile("Expand all groups")).click()
    page.keyboard.press("Escape")
    for group in GROUPS:
        expect(graph.get_by_text(group, exact=True)).to_be_visible()
    expect(page.get_by_role("menuitem")).to_have_count(0)
    screenshots.save(page, "asset-graph")


def test_price_history_page_shows_partitions_columns_and_latest_load(
    page: Page,
    dagster_ui: DagsterUI,
    screenshots: Screenshots,
    price_partitions: list[str],
    loaded_history: LoadedHistory,
) -> None:
    page.goto(f"{dagster_ui.url}/assets/price_history")

    columns = page.get_by_role("table").filter(
        has=page.get_by_role("cell", name="Column name", exact=True)
    )
    schema = PRICE_HISTORY.metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    expect(columns.get_by_role("row")).to_have_count(len(schema.columns) + 1)
    for column in schema.columns:
        row = columns.get_by_role("row").filter(
            has=page.get_by_role("cell", name=column.name, exact=True)
        )
        type_cell = row.get_by_role("cell").nth(1)
        expect(type_cell).to_contain_text(column.type)
        assert column.description, f"{column.name} has no description"
        shown = column.description.split(";")[0].split("(")[0].replace("`", "").strip()
        expect(row).to_contain_text(shown)
        if column.constraints.nullable:
            expect(type_cell).not_to_contain_text("non-nullable")
        else:
            expect(type_cell).to_contain_text("non-nullable")

    # The latest materialization is the loading run's, for its last partition: the bars the
    # warehouse holds for that partition are the ones the run inserted.
    expect(page.locator(f'a[href^="/runs/{loaded_history.run_id}"]').first).to_be_visible()
    metadata = page.get_by_role("table").filter(
        has=page.get_by_role("cell", name="Key", exact=True)
    )
    rows_inserted = metadata.get_by_role("row").filter(
        has=page.get_by_role("cell", name="rows_inserted", exact=True)
    )
    expected_rows = stored_bars_from(dagster_ui, loaded_history.partitions[-1])
    assert expected_rows > 0
    expect(rows_inserted.get_by_role("cell").last).to_have_text(str(expected_rows))
    # The load's quarantine summary: how many rows it refused (none here), and how to look.
    for key, shown in (
        ("quarantined_by_run", "0"),
        ("quarantine", f"rm-pipeline quarantine list --run {loaded_history.run_id[:8]}"),
    ):
        row = metadata.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
        expect(row.get_by_role("cell").last).to_have_text(shown)
    screenshots.save(page, "price-history")
    rows_inserted.scroll_into_view_if_needed()
    screenshots.save(page, "price-history-metadata")

    page.get_by_role("tab", name="Partitions").click()
    expect(page).to_have_url(re.compile(r"view=partitions"))
    total, loaded = len(price_partitions), len(loaded_history.partitions)
    expect(page.get_by_text(f"{total} Partitions Selected")).to_be_visible()
    expect(page.get_by_text(f"Materialized ({loaded})", exact=True)).to_be_visible()
    missing_label = f"Missing ({total - loaded})"
    missing = page.get_by_text(missing_label, exact=True)
    expect(missing).to_be_visible()
    screenshots.save(page, "price-history-partitions")
    missing.click()  # hide the missing partitions: the materialized ones are left, newest first
    expect(page.get_by_role("checkbox", name=missing_label)).not_to_be_checked()
    listed = page.get_by_title(PARTITION_KEY)
    expect(listed).to_have_count(loaded)
    for position, key in enumerate(reversed(loaded_history.partitions)):
        expect(listed.nth(position)).to_have_attribute("title", key)


def test_materialize_securities_from_the_ui_ends_in_a_successful_run(
    page: Page, dagster_ui: DagsterUI, screenshots: Screenshots
) -> None:
    page.goto(f"{dagster_ui.url}/assets/securities")
    page.get_by_role("button", name=re.compile(r"Materialize$")).click()

    notifications = page.get_by_role("region", name=re.compile("Notifications"))
    launched = notifications.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))
    short_id = launched.inner_text().split()[-1]
    notifications.get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(rf"/runs/{short_id}[0-9a-f-]{{28}}$"))
    expect(page.get_by_text("Success", exact=True)).to_be_visible(timeout=RUN_SECONDS * 1000)
    expect(page.get_by_text("RUN_SUCCESS", exact=True)).to_be_visible()
    screenshots.save(page, "securities-run")


def test_portfolio_valuations_page_shows_the_value_chart(
    page: Page, dagster_ui: DagsterUI, screenshots: Screenshots, loaded_history: LoadedHistory
) -> None:
    """After the demo portfolios are seeded and the analytics run, the latest materialization's
    `value_chart` metadata, opened from the metadata table, is a PNG the browser decodes and
    draws."""
    dagster_ui.seed_demo()
    run_id = run_to_success(dagster_ui, "refresh_analytics", {})
    page.goto(f"{dagster_ui.url}/assets/portfolio_valuations")
    expect(page.locator(f'a[href^="/runs/{run_id}"]').first).to_be_visible()
    metadata = page.get_by_role("table").filter(
        has=page.get_by_role("cell", name="Key", exact=True)
    )
    value_chart = metadata.get_by_role("row").filter(
        has=page.get_by_role("cell", name="value_chart", exact=True)
    )
    value_chart.get_by_text("[Show Markdown]").click()  # markdown opens in a dialog
    chart = page.get_by_role("dialog").locator('img[src^="data:image/png"]').first
    expect(chart).to_be_visible()
    natural_width = chart.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert natural_width > 100, natural_width
    chart.scroll_into_view_if_needed()
    screenshots.save(page, "portfolio-valuations-chart")
