"""RiskParams refuses settings outside their meaningful range, naming the field and rule.

Each case is a boundary written by hand from the rule (the value just inside is accepted,
the value just outside is refused), so a loosened or tightened check fails here.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from phenotyping.errors import InputError
from phenotyping.risk.params import PRIOR_SCALE, RiskParams

# (field, accepted, refused, rule as the message says it)
BOUNDARIES: list[tuple[str, Any, Any, str]] = [
    ("baseline_days", 8, 0, ">= 1"),  # 8: the smallest the other defaults allow
    ("exclude_recent_days", 0, -1, ">= 0 and < baseline_days"),
    ("exclude_recent_days", 27, 28, ">= 0 and < baseline_days"),
    ("min_baseline_days", 1, 0, ">= 1 and <= baseline_days"),
    ("min_baseline_days", 28, 29, ">= 1 and <= baseline_days"),
    ("prior_days", 0.0, -0.5, ">= 0"),
    ("min_per_daytype", 1, 0, ">= 1"),
    ("k", 0.0, -0.1, ">= 0"),
    ("floor", 0.0, -0.1, ">= 0"),
    ("h", 0.01, 0.0, "> 0"),
    ("h_single", 0.01, 0.0, "> 0"),
    ("k_sleep_long", 0.0, -0.1, ">= 0"),
    ("phase_activity_gate", math.inf, 0.0, "> 0"),
    ("warmup_factor", 1.0, 0.99, ">= 1"),
    ("z_clip", 0.51, 0.5, "> k"),
    ("ewma_lambda", 1.0, 1.5, "> 0 and <= 1"),
    ("ewma_lambda", 0.01, 0.0, "> 0 and <= 1"),
    ("band_z", 0.01, 0.0, "> 0"),
    ("close_after_days", 1, 0, ">= 1"),
    ("cooldown_days", 0, -1, ">= 0"),
    ("washout_days", 0, -1, ">= 0"),
    ("max_episode_days", 4, 3, "> close_after_days"),
    ("gap_notice_days", 1, 0, ">= 1"),
    ("low_wear_days", 6, 7, ">= 0 and < 7"),
    ("low_wear_days", 0, -1, ">= 0 and < 7"),
    ("low_wear_days", 0, 8, ">= 0 and < 7"),  # beyond the boundary too, not only at it
    ("post_session_washout_days", 0, -1, ">= 0"),
    ("response_phq9_drop", 0.99, 1.0, "> 0 and < 1"),
    ("response_phq9_drop", 0.01, 0.0, "> 0 and < 1"),
    ("response_phq9_drop", 0.5, -0.5, "> 0 and < 1"),  # below 0, not only at it
    ("contacted_fine_days", 0, -1, ">= 0"),
    ("contacted_fine_factor", 1.0, 0.9, ">= 1"),
    ("feature_window_days", 1, 0, ">= 1"),
]


@pytest.mark.parametrize(("name", "ok", "bad", "rule"), BOUNDARIES)
def test_each_setting_is_checked_at_its_boundary(name: str, ok: Any, bad: Any, rule: str) -> None:
    assert getattr(RiskParams(**{name: ok}), name) == ok
    with pytest.raises(InputError) as err:
        RiskParams(**{name: bad})
    assert str(err.value) == f"RiskParams.{name}: must be {rule} (got {bad!r})"


def test_the_defaults_are_valid_and_every_numeric_setting_has_a_rule() -> None:
    RiskParams()  # the shipped configuration passes its own rules
    numeric = {
        name
        for name, value in vars(RiskParams()).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    assert numeric == {name for name, *_ in BOUNDARIES}


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_a_prior_scale_must_be_finite_and_positive(scale: float) -> None:
    prior = tuple(sorted({**PRIOR_SCALE, "sleep_tst_min": scale}.items()))
    with pytest.raises(InputError, match=r"prior_scale\['sleep_tst_min'\]: must be finite and > 0"):
        RiskParams(prior_scale=prior)
