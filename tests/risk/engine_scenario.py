"""One subject's 120 days through every path of the risk engine's baseline: warm-up, the
regular window, episodes (pinned baseline), a holiday, a treatment response completed from
a marked remission period, a device re-anchoring, "contacted fine", data gaps, weekday and
weekend days. Used by ``test_engine_table.py``.

Run as a script with another engine on ``PYTHONPATH`` to write the reference that test
compares with -- it was written by ``main`` at b0c1c0c (the engine that looped over
features) with::

    PYTHONPATH=<git archive of b0c1c0c> python tests/risk/engine_scenario.py

which writes ``tests/risk/data/risk_state_v2_day60.bin`` (the state after day 59, as that
engine serialised it) and ``risk_scenario_b0c1c0c.json`` (digests of its outputs and of its
serialised state after every later step).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

START = dt.date(2024, 1, 1)  # a Monday
EPOCH = dt.date(1970, 1, 1)
DATA = Path(__file__).resolve().parent / "data"
CUT = 60  # the state is saved before day CUT
Step = tuple[int, str, tuple[Any, ...], dict[str, Any]]  # (day, what, args, keywords)


def day_no(i: int) -> int:
    return (START + dt.timedelta(days=i) - EPOCH).days


def _row(i: int, rng: np.random.Generator) -> dict[str, Any]:
    act = 0.6 if 28 <= i < 36 or 100 <= i < 112 else 1.0  # two relapse-like drops
    late = 70.0 if 28 <= i < 36 else 0.0
    row: dict[str, Any] = {
        "date": (START + dt.timedelta(days=i)).isoformat(),
        "valid": True,
        "sleep_valid": True,
        "hrv_valid": i % 9 != 0,  # some nights without beat-level HRV: device values used
        "activity_mean_worn": rng.normal(250, 30) * act,
        "steps_total": rng.normal(8000, 900) * act if i % 5 else 0.0,  # zeros: log(0 + 1)
        "sleep_tst_min": rng.normal(440, 35),
        "sleep_midpoint_clock_min": (rng.normal(150, 60) + late) % 1440,  # across midnight
        "sri7d": rng.normal(70, 4),
        "night_rmssd": rng.normal(45, 5),
        "night_mean_hr": rng.normal(58, 2),
        "circ7d_IV": rng.normal(0.6, 0.05),
        "circ7d_IS": rng.normal(0.6, 0.04),
        "circ7d_RA": rng.normal(0.9, 0.02),
        "circ7d_cosinor_peak_minute_of_day": rng.normal(900, 20) + late,
        "dev_rmssd": rng.normal(40, 6),
        "dev_resting_hr": rng.normal(60, 1.5),
        "coverage": 0.95,
        "night_coverage": 1.0,
    }
    if 62 <= i < 67:  # a data gap: nothing usable
        row = {k: (v if k == "date" else None) for k, v in row.items()}
    if i in (31, 32, 86):  # a day with clock times only
        for k in list(row):
            if k not in ("date", "sleep_midpoint_clock_min", "sleep_valid"):
                row[k] = None if k.startswith(("circ", "sri", "dev_")) else row[k]
    return row


def steps() -> list[Step]:
    """The scenario: (day, "assess", (subject, row), {}), (day, "clinical", (date, kind), kw)."""
    rng = np.random.default_rng(20261128)
    events: dict[int, list[tuple[str, dict[str, Any]]]] = {
        20: [("self_report", {"instrument": "PHQ-9", "score": 18.0})],
        25: [("remission_period", {"date": day_no(5), "until": day_no(24)})],
        44: [("feedback", {"reason": "holiday_travel", "until": day_no(47)})],
        56: [("treatment_session", {"modality": "ketamine"})],
        58: [("self_report", {"instrument": "PHQ-9", "score": 17.0})],
        68: [("self_report", {"instrument": "PHQ-9", "score": 7.0})],  # a response
        90: [("feedback", {"reason": "device_problem"})],
        104: [("feedback", {"reason": "contacted_fine"})],
        110: [("course_end", {})],
    }
    out: list[Step] = []
    for i in range(120):
        for kind, kw in events.get(i, []):
            kw = dict(kw)
            out.append((i, "clinical", (kw.pop("date", day_no(i)), kind), kw))
        out.append((i, "assess", ("p-01", _row(i, rng)), {}))
    return out


def cut_index(all_steps: list[Step]) -> int:
    """Index of the first step of day ``CUT``."""
    return next(k for k, step in enumerate(all_steps) if step[0] >= CUT)


def canon(v: Any) -> str:
    """Every value with its type, floats exactly (for digests)."""
    if isinstance(v, dict):
        return "{" + ",".join(f"{canon(k)}:{canon(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return type(v).__name__ + "[" + ",".join(canon(x) for x in v) + "]"
    if isinstance(v, float | np.floating):
        return type(v).__name__ + ":" + ("nan" if math.isnan(v) else float(v).hex())
    return type(v).__name__ + ":" + repr(v)


def play(state: Any, todo: list[Step]) -> tuple[str, str]:
    """Run ``todo`` on ``state``: (digest of the outputs, digest of to_bytes after each)."""
    out, raw = hashlib.sha256(), hashlib.sha256()
    for _, what, args, kw in todo:
        if what == "assess":
            result: Any = state.assess(args[0], dict(args[1]))
        else:
            result = state.clinical(*args, **kw)
        out.update(canon(result).encode())
        raw.update(state.to_bytes())
    return out.hexdigest(), raw.hexdigest()


def write_reference() -> None:  # pragma: no cover (run by hand with the reference engine)
    from phenotyping.risk.engine import RiskState

    todo = steps()
    k = cut_index(todo)
    state = RiskState(version="scenario")
    play(state, todo[:k])
    DATA.mkdir(exist_ok=True)
    (DATA / "risk_state_v2_day60.bin").write_bytes(state.to_bytes())
    outputs, states = play(state, todo[k:])
    (DATA / "risk_scenario_b0c1c0c.json").write_text(
        json.dumps({"steps_after_cut": len(todo) - k, "outputs": outputs, "states": states}) + "\n"
    )


if __name__ == "__main__":  # pragma: no cover
    write_reference()
