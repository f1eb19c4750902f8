"""Repository-wide pytest hooks: strict mode (``PHENOTYPING_STRICT=1``).

CI sets ``PHENOTYPING_STRICT=1``: then ANY skip fails the run, wherever it comes from --

* a test under ``tests/`` that skips in setup or in its body (``pytest.skip``, a skipping
  fixture, ``skipif`` markers);
* a doctest in ``phenotyping/`` skipped by ``+SKIP`` (``--doctest-modules``);
* a module or package skipped while it is collected (``pytest.skip(allow_module_level=True)``,
  ``pytest.importorskip``, a skip raised by a ``conftest.py``);
* an ``xfail`` -- an expected failure is a check that does not currently check anything.

It also makes every test independent of the developer's environment: an autouse fixture
removes every ``PHENOTYPING_*`` variable except the few the test harness itself reads
(:data:`HARNESS_ENV`), so a ``PHENOTYPING_CONFIG`` or ``PHENOTYPING_ENGINE__WINDOW_DAYS``
left in a shell cannot change what a test computes.

This file lives at the repository root, not under ``tests/``, so that its hooks see the
reports of every collector and item (a ``tests/conftest.py`` hook never sees the doctests of
``phenotyping/``). It is tested by ``tests/test_strict_mode.py``, which runs pytest on a
small temporary project holding one of each kind of skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

_STRICT_ENV = "PHENOTYPING_STRICT"

#: Variables of the test harness, kept: where the shared data is, strict mode, where CI keeps
#: screenshots, an external Kafka broker and the knobs of the test broker's launcher.
HARNESS_ENV = frozenset(
    {
        "PHENOTYPING_DATA",
        "PHENOTYPING_STRICT",
        "PHENOTYPING_ARTIFACTS",
        "PHENOTYPING_BROKER",
        "PHENOTYPING_KAFKA_KEEP",
        "PHENOTYPING_KAFKA_DIR",
        "PHENOTYPING_KAFKA_HOME",
        "PHENOTYPING_KAFKA_PORT",
        "PHENOTYPING_KAFKA_HEAP",
        "PHENOTYPING_KAFKA_JAVA_OPTS",
    }
)


def _foreign_env() -> list[str]:
    return [k for k in os.environ if k.startswith("PHENOTYPING_") and k not in HARNESS_ENV]


@pytest.fixture(scope="session", autouse=True)
def _no_developer_settings_session() -> Iterator[None]:
    """Before any session fixture (a demo replay, a broker) reads its settings."""
    with pytest.MonkeyPatch.context() as mp:
        for key in _foreign_env():
            mp.delenv(key)
        yield


@pytest.fixture(autouse=True)
def _no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Again per test: a test that set a variable without monkeypatch cannot leak it."""
    for key in _foreign_env():
        monkeypatch.delenv(key)


_offences: list[str] = []


def _strict() -> bool:
    return os.environ.get(_STRICT_ENV) == "1"


def _why(report: pytest.CollectReport | pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return f"xfail: {report.wasxfail}" if report.wasxfail else "xfail"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


class _StrictSkips:
    """Registered as a *global* plugin (``pytest_configure``), not left as conftest hooks:
    pytest routes a conftest's hooks only to nodes under its directory, and a skip raised
    while a sub-directory's ``conftest.py`` is imported is reported outside that routing."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Skips (and xfails) of tests and doctests, in setup, call or teardown."""
        if report.skipped:
            _offences.append(f"{report.nodeid} ({report.when}): {_why(report)}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Skips while collecting: module-level skip, importorskip, a skipping conftest."""
        if report.skipped:
            _offences.append(f"{report.nodeid or '<collection>'} (collect): {_why(report)}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if _offences and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if _strict() and not config.pluginmanager.has_plugin("phenotyping-strict"):
        _offences.clear()
        config.pluginmanager.register(_StrictSkips(), "phenotyping-strict")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _offences:
        terminalreporter.section(f"{_STRICT_ENV}=1: skips count as failures", red=True)
        for line in _offences:
            terminalreporter.write_line(f"SKIPPED (not allowed) {line}")
