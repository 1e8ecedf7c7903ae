"""Where the browser tests leave what a person looks at afterwards: screenshots and the server's
log, under the gitignored `.rm_pipeline/e2e/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[1] / ".rm_pipeline" / "e2e"


@dataclass(frozen=True)
class Screenshots:
    """Screenshots saved to ARTIFACTS, each path added to `saved` (listed at the end of the run)."""

    saved: list[Path]

    def save(self, page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=path)
        self.saved.append(path)
        return path
