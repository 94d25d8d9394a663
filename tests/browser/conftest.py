"""Browser fixtures: the sandbox in-process and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, async_playwright

from sandbox.redis_server import RedisServer
from sandbox.run import Sandbox, SandboxOptions

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/img when refreshing the README's pictures, else a temporary directory."""
    if os.environ.get("JITBOT_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        return DOCS_IMG
    return tmp_path / "shots"


@pytest.fixture
async def sandbox(redis_server: RedisServer) -> AsyncIterator[Sandbox]:
    """``jitbot sandbox`` in this process, on a free port and the suite's Redis."""
    async with Sandbox(SandboxOptions(port=0, redis_url=redis_server.url, environ={})) as running:
        yield running


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium; missing is a failure in CI (scripts/dev setup installs it) and a skip elsewhere."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/dev setup installs chromium")
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 820},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            await context.close()
