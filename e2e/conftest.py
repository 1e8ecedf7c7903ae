"""Fixtures of the browser tests: one `rm-pipeline dev` for the whole run, in a throwaway directory,
and Debian's Chromium driven by Playwright.

Screenshots (and the server's log) go to `.rm_pipeline/e2e/`, listed at the end of the run; a
failed test leaves a screenshot of the page it failed on there too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from e2e.artifacts import ARTIFACTS, Screenshots
from e2e.dagster_ui import DagsterUI, running_dagster_ui

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # No network here: Chromium's own background connections would only fail.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1600, "height": 1000}
PAGE_TIMEOUT_MS = 30_000
PINNED_SETTINGS = {
    # Four weeks of partitions: few enough for the partitions page to list them quickly.
    "RM_HISTORY_START": (date.today() - timedelta(weeks=4)).isoformat(),
    "RM_PROVIDER": "synthetic",
}
SAVED = pytest.StashKey[list[Path]]()
FAILED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """Pin the settings the definitions read when imported (the price partitions start at
    RM_HISTORY_START) before the test modules import them, so this process and the server
    build the same definitions."""
    os.environ.update(PINNED_SETTINGS)
    config.stash[SAVED] = []
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if saved := config.stash[SAVED]:
        terminalreporter.write_sep("-", "screenshots and the server's log")
        for path in saved:
            terminalreporter.write_line(str(path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed, for the `page` fixture's teardown."""
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def screenshots(pytestconfig: pytest.Config) -> Screenshots:
    return Screenshots(saved=pytestconfig.stash[SAVED])


@pytest.fixture(scope="session")
def dagster_ui(pytestconfig: pytest.Config) -> Iterator[DagsterUI]:
    log_path = ARTIFACTS / "dagster-dev.log"
    pytestconfig.stash[SAVED].append(log_path)
    with (
        tempfile.TemporaryDirectory(prefix="rm-e2e-") as workdir,
        log_path.open("w") as log,
        running_dagster_ui(Path(workdir), PINNED_SETTINGS, log) as ui,
    ):
        yield ui


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def welcome_dismissed(dagster_ui: DagsterUI, browser: Browser) -> None:
    """Skip the UI's one-time "Join the Dagster community" dialog, as a first visitor would, so it
    covers no page the tests look at."""
    if not dagster_ui.shows_welcome():
        return
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(dagster_ui.url)
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog).to_be_hidden()
    page.close()
    assert not dagster_ui.shows_welcome()


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    welcome_dismissed: None,
    screenshots: Screenshots,
) -> Iterator[Page]:
    """A fresh browser context's page; a screenshot of it is kept when the test fails."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    if request.node.stash.get(FAILED, False):
        screenshots.save(page, f"failed-{request.node.name}")
    context.close()
