"""Fixtures of the feed tests: the demo cohort's real outputs, rosters, a real Kafka broker,
headless Chromium.

The alerts and feature rows the feed shows are never made up here: they come from the
in-process replay of the synthetic demo cohort (``phenotyping demo``'s cohort), the same
code path the stream workers run.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # kafka_broker
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "stream"))  # stream_helpers
sys.path.insert(0, str(Path(__file__).resolve().parent))  # feed_helpers

from phenotyping.config import load_settings  # noqa: E402
from phenotyping.replay.run import replay  # noqa: E402
from phenotyping.simulate import demo_spec, simulate, write_jsonl  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium (Debian packages chromium, chromium-driver)"
    )


@dataclass(frozen=True)
class Demo:
    """The demo cohort as wire messages, and its in-process replay's outputs."""

    cohort: Path
    daily: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    out = tmp_path_factory.mktemp("demo")
    cohort = out / "cohort.jsonl"
    write_jsonl(simulate(demo_spec()), cohort)
    settings = load_settings()
    result = replay([cohort], fmt="jsonl", params=settings.engine, risk=settings.risk)
    assert result.alerts, "the demo cohort is meant to raise alerts (one relapsing subject)"
    return Demo(cohort, list(result.daily), list(result.alerts))


# --------------------------------------------------------------------------- Kafka
# --------------------------------------------------------------------------- browser
@pytest.fixture
def chromium_paths() -> tuple[str, str]:
    """``(chromium, chromedriver)``; skipped with the reason when either is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium not installed: pip install -e '.[test]'")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "headless Chromium not installed: apt-get install chromium chromium-driver "
            "(.ci/run installs them)"
        )
    return chromium, driver


@pytest.fixture
def browser(chromium_paths: tuple[str, str], tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium driven through chromedriver (selenium), with a fresh profile and
    the flags this machine needs (no sandbox as root, no GPU, no background network)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``PHENOTYPING_ARTIFACTS`` (CI keeps it) or the test's tmp dir."""
    root = os.environ.get("PHENOTYPING_ARTIFACTS")
    path = Path(root) if root else tmp_path / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
