"""The risk engine's compiled core (``risk/kernels.py``, issue 12) against the NumPy
function it replaces, bit for bit: :func:`compiled` (``baseline.estimate_day``: the
kernel and what it leaves to the reference) is ``baseline.estimate_all`` on the same
tables -- random ones, the clock times that cancel out, signed zeros, and every day of
the scenario; and ``RiskState._advance`` (the day's z-scores, signal scores and CUSUMs)
is the z loop and ``RiskState._update_signals`` it replaced."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phenotyping.risk import baseline as bl
from phenotyping.risk import kernels
from phenotyping.risk.engine import RiskState
from phenotyping.risk.params import RiskParams
from tests.risk import engine_scenario as sc
from tests.risk.test_engine_table import FEATURES, baselines, same_float

COLS = bl.Columns.of(FEATURES)


def compiled(
    cols: bl.Columns,
    values: np.ndarray,
    tvalues: np.ndarray,
    chosen: np.ndarray,
    weekend: np.ndarray,
    today_weekend: bool,
    params: RiskParams,
    prior: np.ndarray,
    wanted: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``estimate_day`` called as ``estimate_all`` is (day types as booleans, the features
    wanted as a mask): a weekend cell as day 2 (a Saturday), a weekday as day 0 (a
    Thursday); a wanted feature needs no values, another more than it can have."""
    dates = np.where(weekend, 2, 0).astype(np.int64)
    need = np.where(wanted, 0, values.shape[1] + 1).astype(np.int64)
    med, scale, _ = bl.estimate_day(
        cols, values, tvalues, dates, chosen, today_weekend, params, prior, need
    )
    return med, scale


def both(*args: object) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    with np.errstate(all="ignore"):  # log1p of large values, as in estimate
        return bl.estimate_all(COLS, *args), compiled(COLS, *args)  # type: ignore[arg-type]


def assert_same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    for i, f in enumerate(FEATURES):
        assert same_float(a[0][i], b[0][i]), (f.column, "median", a[0][i], b[0][i])
        assert same_float(a[1][i], b[1][i]), (f.column, "scale", a[1][i], b[1][i])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(baselines())
def test_the_compiled_estimate_is_estimate_all(b: dict[str, object]) -> None:
    values = b["values"]
    assert isinstance(values, np.ndarray)
    with np.errstate(all="ignore"):
        tvalues = bl.transform_all(COLS, values)
    ref, got = both(
        values,
        tvalues,
        b["chosen"],
        b["weekend"],
        bool(b["today"]),
        b["params"],
        b["prior"],
        b["wanted"],
    )
    assert_same(ref, got)


@pytest.mark.parametrize("today_weekend", [False, True])
@pytest.mark.parametrize("weekend_clock", [(360.0, 1080.0), (100.0, 130.0), (0.0, 720.0)])
def test_clock_times_that_cancel_out_in_one_day_type_or_all(
    today_weekend: bool, weekend_clock: tuple[float, float]
) -> None:
    dates = np.arange(19723, 19723 + 21)
    weekend = (dates + 3) % 7 >= 5
    values = np.full((len(FEATURES), dates.size), np.nan)
    a, b = weekend_clock
    for i, f in enumerate(FEATURES):
        if f.circular:
            values[i] = np.where(weekend, np.where(np.arange(dates.size) % 2 == 0, a, b), 100.0)
            values[i][~weekend] += np.arange((~weekend).sum()) % 3 * 10.0
        else:
            values[i] = np.arange(dates.size) % 5 * 1.5 + i
    chosen = ~np.isnan(values)
    for params in (RiskParams(), RiskParams(day_of_week=False)):
        # all days, and the cancelling pairs alone (no split: the centre of all)
        for pick in (chosen, chosen & weekend):
            ref, got = both(
                values,
                values,
                pick,
                weekend,
                today_weekend,
                params,
                np.full(len(FEATURES), np.nan),
                pick.any(axis=1),
            )
            assert_same(ref, got)


def test_signed_zeros_are_left_to_the_reference() -> None:
    values = np.tile(np.array([0.0, -0.0, 0.0, 1.0, -0.0, 2.0, 0.0]), (len(FEATURES), 1))
    chosen = np.ones(values.shape, bool)
    weekend = np.array([0, 0, 0, 0, 1, 1, 1], bool)
    args = (weekend, True, RiskParams(min_per_daytype=2), np.full(len(FEATURES), 3.0))
    ref, got = both(values, values, chosen, *args, np.ones(len(FEATURES), bool))
    assert_same(ref, got)
    _, _, judged, redo = kernels.estimate_rows(
        values,
        chosen,
        np.where(weekend, 19728, 19723)[None, :],  # a Saturday, a Monday
        True,
        True,
        2,
        7.0,
        np.full(len(FEATURES), 3.0),
        np.full(len(FEATURES), 7),
        COLS.clock_row,
        COLS.min_scale,
    )
    assert judged.all()
    assert redo.all()


def test_every_day_of_the_scenario_is_estimated_as_estimate_all_does() -> None:
    # the tables the engine really passes (window slices, the pinned baseline, warm-up),
    # day by day through an episode, a holiday and a treatment response
    state = RiskState(version="scenario")
    p = state.params
    days = 0
    for day, what, args, kw in sc.steps():
        if what == "clinical":
            state.clinical(*args, **kw)
            continue
        d = sc.day_no(day)
        need, prior = state._need_prior()
        vals, tvals, dates, chosen, _ = state._baselines(d)
        wk = (dates + 3) % 7 >= 5
        judged = chosen.sum(axis=1) >= need
        weekend = d % 7 in (2, 3)  # (d + 3) % 7 >= 5
        ref, got = both(vals, tvals, chosen, wk, weekend, p, prior, judged)
        assert_same(ref, got)
        # as the engine calls it: the day types from the dates, judged from the counts
        med, scale, judged_day = bl.estimate_day(
            COLS, vals, tvals, dates, chosen, weekend, p, prior, need
        )
        assert_same(ref, (med, scale))
        assert judged_day.tolist() == judged.tolist()
        days += int(np.isfinite(ref[1]).any())
        state.assess(*args)
    assert days > 50
    assert math.isfinite(p.prior_days)


# --------------------------------------------------------------------------- signals


@st.composite
def days(draw: st.DrawFn) -> dict[str, object]:
    """A day's inputs to the signals and a state's CUSUMs before it."""
    nf, ns = len(FEATURES), len(RiskState()._signals)
    val = st.one_of(
        st.just(math.nan), st.floats(-5000, 5000), st.sampled_from([0.0, -0.0, 3.0, 1439.0])
    )
    scale = st.one_of(st.just(math.nan), st.floats(0, 100), st.sampled_from([0.0, 1e-300, 0.5]))
    c = st.one_of(st.floats(0, 20), st.sampled_from([0.0, 2.0, 2.5]))
    edges = st.sampled_from([-1.0, -0.25, 0.0])  # at the late-phase gate
    return {
        "today": np.array([draw(val) for _ in range(nf)]),
        "med": np.array([draw(val) for _ in range(nf)]),
        "scale": np.array([draw(scale) for _ in range(nf)]),
        "wheld": np.array([draw(st.booleans()) and draw(st.booleans()) for _ in range(nf)]),
        "c": [draw(c) for _ in range(ns)],
        "run": [draw(st.sampled_from([-1, 19700, 19720])) for _ in range(ns)],
        "ewma": [draw(st.one_of(st.just(math.nan), st.floats(-3, 3), edges)) for _ in range(ns)],
        "held": draw(st.booleans()) and draw(st.booleans()),
        "fine": draw(st.integers(0, (1 << ns) - 1)) if draw(st.booleans()) else None,
        "params": RiskParams(
            k=draw(st.sampled_from([0.5, 0.25])),
            k_sleep_long=draw(st.sampled_from([0.5, 1.0])),
            phase_activity_gate=draw(st.sampled_from([1.0, 0.25])),
            ewma_lambda=draw(st.sampled_from([0.5, 0.3])),
            z_clip=draw(st.sampled_from([3.0, 2.0])),
        ),
    }


@settings(max_examples=300, deadline=None, derandomize=True)
@given(days())
def test_the_compiled_day_of_signals_is_the_z_loop_and_update_signals(b: dict[str, Any]) -> None:
    from phenotyping.risk.engine import SIG_DTYPE, _clipped_z

    d = 19730
    states = []
    for _ in range(2):
        s = RiskState(params=b["params"])
        s.sig = np.array(list(zip(b["c"], b["run"], b["ewma"], strict=True)), SIG_DTYPE)
        if b["held"]:
            s.excl_mode, s.excl_from, s.excl_until = "exclude", d - 2, d + 2
        if b["fine"] is not None:
            s.fine_from, s.fine_until, s.fine_signals = d - 1, d + 5, b["fine"]
        states.append(s)
    ref, new = states
    args = (b["today"], b["med"], b["scale"], b["wheld"])
    z_ref = _clipped_z(ref._layout, ref.params, *args)
    e_ref, contributing_ref, rising_ref, scored_ref = ref._update_signals(d, z_ref)
    z, e, contributing, rising, scored = new._advance(d, *args)
    assert [x.hex() for x in z] == [x.hex() for x in z_ref]
    assert e.hex() == e_ref.hex()
    assert (contributing, rising, scored) == (contributing_ref, rising_ref, scored_ref)
    assert new.sig.tobytes() == ref.sig.tobytes()


# --------------------------------------------------------------------------- window


@st.composite
def tables_of_days(draw: st.DrawFn) -> dict[str, Any]:
    """A state's table: increasing days with gaps; each feature's values eligible at
    random up to a day of its own (so some have long warm-up baselines and short
    windows); the day judged and the baseline start often on a day of the table."""
    nf = len(FEATURES)
    gaps = draw(st.lists(st.integers(1, 3), min_size=30, max_size=80))
    dates = 19700 + np.cumsum(np.array([0, *gaps], dtype=np.int64))
    n = dates.size
    elig = np.zeros((nf, n), bool)
    for k in range(nf):
        upto = draw(st.integers(0, n))
        dense = draw(st.sampled_from([0.3, 0.9, 1.0]))
        elig[k, :upto] = [draw(st.floats(0, 1)) < dense for _ in range(upto)]
    on_a_day = st.integers(0, n - 1).map(lambda i: int(dates[i]))
    return {
        "dates": dates,
        "elig": elig,
        "d": draw(on_a_day) + draw(st.sampled_from([0, 1, 7, 8, 35])),
        "baseline_from": draw(
            st.one_of(st.just(-(2**40)), on_a_day, st.integers(int(dates[0]) - 3, int(dates[-1])))
        ),
        "response": draw(st.sampled_from([-1, int(dates[0])])),
    }


@settings(max_examples=300, deadline=None, derandomize=True)
@given(tables_of_days())
def test_the_compiled_window_is_the_per_feature_choice(t: dict[str, Any]) -> None:
    # RiskState._baselines (choose_window unless remission days complete the window)
    # against RiskState._baseline, the per-feature definition
    state = RiskState(version="window")
    dates, elig = t["dates"], t["elig"]
    state._dates = dates
    state._vals = np.where(elig, np.arange(elig.size, dtype=float).reshape(elig.shape), np.nan)
    state._elig, state._tvals = elig.copy(), state._vals.copy()
    state.baseline_from, state.response_date = t["baseline_from"], t["response"]
    need, _ = state._need_prior()
    vals, _, _, chosen, warm = state._baselines(t["d"])
    for i in range(len(FEATURES)):
        ref, _, ref_warm = state._baseline(
            i, t["d"], bool(need[i] == state.params.min_baseline_days)
        )
        assert vals[i][chosen[i]].tobytes() == ref.tobytes(), i
        assert bool(warm[i]) == ref_warm, i
