"""Tests do not depend on the developer's ``PHENOTYPING_*`` settings (root ``conftest.py``).

Run in a subprocess with a polluted environment: the test body must see none of the
settings and still see the harness variables; and the real settings loader must give its
defaults.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import os

from phenotyping.config import load_settings
from phenotyping.features.day import EngineParams


def test_settings_are_the_defaults():
    assert "PHENOTYPING_ENGINE__WINDOW_DAYS" not in os.environ
    assert "PHENOTYPING_CONFIG" not in os.environ
    assert "PHENOTYPING_RISK__K" not in os.environ
    assert os.environ["PHENOTYPING_DATA"] == "/somewhere/data"
    assert os.environ["PHENOTYPING_BROKER"] == "127.0.0.1:1"
    assert load_settings().engine == EngineParams()


def test_a_leak_from_one_test_does_not_reach_the_next():
    os.environ["PHENOTYPING_RISK__K"] = "7"


def test_the_next():
    assert "PHENOTYPING_RISK__K" not in os.environ
"""


def test_developer_settings_do_not_reach_tests(tmp_path: Path) -> None:
    shutil.copyfile(REPO / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHENOTYPING_", "PYTEST_"))}
    env.update(
        PHENOTYPING_ENGINE__WINDOW_DAYS="3",
        PHENOTYPING_RISK__K="9",
        PHENOTYPING_CONFIG=str(tmp_path / "missing.toml"),
        PHENOTYPING_DATA="/somewhere/data",
        PHENOTYPING_BROKER="127.0.0.1:1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "test_probe.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
