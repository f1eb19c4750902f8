"""Settings: defaults, TOML file, environment, precedence, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from phenotyping.config import load_settings
from phenotyping.features.day import EngineParams


def test_defaults_are_the_engine_defaults() -> None:
    assert load_settings().engine == EngineParams()


def test_file_then_environment_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[engine]\ngrace_min = 100\nwindow_days = 9\n[kafka]\nsasl_password = "pw"\n')
    monkeypatch.setenv("PHENOTYPING_ENGINE__WINDOW_DAYS", "5")
    s = load_settings(cfg)
    assert s.engine.grace_min == 100  # from the file
    assert s.engine.window_days == 5  # the environment wins over the file
    assert "pw" not in s.describe() and "********" in s.describe()


def test_unknown_setting_is_refused_by_name(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[kafka]\npartitons = 3\n")
    with pytest.raises(ValidationError, match="partitons"):
        load_settings(cfg)
