"""Shared fixtures: where the real third-party data lives.

Real data is found through ONE setting, ``PHENOTYPING_DATA`` (default ``../shared/data``
relative to the repository root). Tests that need it skip with that reason when it is
absent; ``.ci/run`` turns any such skip into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    return Path(os.environ.get("PHENOTYPING_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found: set PHENOTYPING_DATA (looked in {root})")
    return root


# --------------------------------------------------------------------------- strict mode
# CI sets PHENOTYPING_STRICT=1: a skipped test (missing data, missing broker...) is then a
# failure, so a run can never pass by skipping what it was meant to check.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.environ.get("PHENOTYPING_STRICT") == "1":
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.section("PHENOTYPING_STRICT: skipped tests count as failures")
        for nodeid in _skipped:
            terminalreporter.write_line(f"SKIPPED (not allowed) {nodeid}")
