"""The risk engine judges every feature at once (issue 12): its history is a features x days
table, the baselines of all features are chosen and estimated with array operations. Held
here to the definitions it replaced, bit for bit: ``baseline.estimate`` feature by feature,
``stats.median`` / ``stats.robust_center``, the per-feature ``RiskState._baseline``, and
the engine that looped over features (``main`` at b0c1c0c), through a state it wrote and
the outputs it gave after it (``engine_scenario.py``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phenotyping.risk import baseline as bl
from phenotyping.risk import stats
from phenotyping.risk.engine import RiskState
from phenotyping.risk.params import PRIOR_SCALE, RiskParams
from tests.risk import engine_scenario as sc

FEATURES = RiskState()._feats  # every watched feature, as the engine orders them


def same_float(a: float, b: float) -> bool:
    """Equal bit for bit (NaN equal to NaN)."""
    return (math.isnan(a) and math.isnan(b)) or float(a).hex() == float(b).hex()


# --------------------------------------------------------------------------- state


def test_a_state_written_by_the_feature_loop_engine_loads_and_writes_the_same_bytes() -> None:
    # written by main at b0c1c0c after 60 days of the scenario (an episode has come and
    # gone, a holiday, remission days known): the table holds exactly what it held
    data = (sc.DATA / "risk_state_v2_day60.bin").read_bytes()
    state = RiskState.from_bytes(data)
    assert state.to_bytes() == data  # saved unused: the entries as loaded
    state._unpack()  # the table made from them, and the entries again from the table
    state._entries = None
    assert state.to_bytes() == data
    assert state.hist.size > 0 and state.frozen.size > 0 and state.remission.size > 0
    assert state._vals.shape == (len(FEATURES), np.unique(state.hist["date"]).size)


def test_the_engine_continues_that_state_as_the_feature_loop_engine_did() -> None:
    # every output (values and types, floats exactly) and the serialised state after
    # every step of the remaining 60 days, against digests written by that engine
    want = json.loads((sc.DATA / "risk_scenario_b0c1c0c.json").read_text())
    todo = sc.steps()
    rest = todo[sc.cut_index(todo) :]
    assert len(rest) == want["steps_after_cut"]
    state = RiskState.from_bytes((sc.DATA / "risk_state_v2_day60.bin").read_bytes())
    assert sc.play(state, rest) == (want["outputs"], want["states"])


def test_serialising_the_state_before_any_step_changes_nothing() -> None:
    todo = sc.steps()
    plain, kept = RiskState(version="scenario"), RiskState(version="scenario")
    for step in todo:
        kept = RiskState.from_bytes(kept.to_bytes())
        assert sc.play(plain, [step]) == sc.play(kept, [step])


def test_every_feature_baseline_at_once_is_the_per_feature_choice() -> None:
    # before each judged day of the scenario: for every feature, what the engine would
    # judge with (the values in order, their dates, warm-up or not) is what _baseline
    # chooses for it alone; a feature with too few values to be judged may be left as is
    state = RiskState(version="scenario")
    need = [
        state.params.min_baseline_days * (1 if f.column in PRIOR_SCALE else 2) for f in FEATURES
    ]
    paths = set()
    for day, what, args, kw in sc.steps():
        if what == "clinical":
            state.clinical(*args, **kw)
            continue
        d = sc.day_no(day)
        vals, tvals, dates, chosen, warm = state._baselines(d)
        dates = np.broadcast_to(dates, vals.shape)
        for i, f in enumerate(FEATURES):
            ref, ref_dates, ref_warm = state._baseline(i, d, f.column in PRIOR_SCALE)
            got = vals[i][chosen[i]]
            if ref.size < need[i] and got.size < need[i]:
                continue  # not judged either way
            assert got.tobytes() == ref.tobytes(), (day, f.column)
            assert dates[i][chosen[i]].tolist() == ref_dates.tolist(), (day, f.column)
            assert bool(warm[i]) == ref_warm, (day, f.column)
            assert tvals[i][chosen[i]].tobytes() == bl.transform(f, ref).tobytes()
            paths.add("warm" if ref_warm else "frozen" if state.frozen.size else "window")
        state.assess(*args)
    assert paths == {"warm", "frozen", "window"}


# --------------------------------------------------------------------------- medians


@st.composite
def tables(draw: st.DrawFn, circular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A NaN-padded table: row k has n[k] chosen values in random cells."""
    k = draw(st.integers(1, 6))
    width = draw(st.integers(1, 40))
    if circular:
        # clock times, some on opposite sides of the clock (cancelling means)
        pool = st.sampled_from([0.0, 60.0, 720.0, 1380.0, 1439.5, 300.25])
        el = st.one_of(st.floats(0, 1439.99, width=64), pool)
    else:
        el = st.one_of(
            st.floats(-1e6, 1e6, width=64), st.sampled_from([0.0, 1.0, 1.0, 2.5, 1e-300])
        )
    vals = np.array([[draw(el) for _ in range(width)] for _ in range(k)])
    chosen = np.array([[draw(st.booleans()) for _ in range(width)] for _ in range(k)])
    return np.where(chosen, vals, np.nan), chosen.sum(axis=1)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(tables())
def test_row_medians_are_the_medians_of_each_row(t: tuple[np.ndarray, np.ndarray]) -> None:
    x, n = t
    got = stats.row_medians(x, stats.median_picks(n, x.shape[1]))
    for k in range(x.shape[0]):
        row = x[k][~np.isnan(x[k])]
        want = stats.median(row)
        zeros = np.signbit(row[row == 0])
        if zeros.any() and not zeros.all():  # tied zeros of both signs: either may be picked
            assert got[k] == want, (k, got[k], want)
        else:
            assert same_float(got[k], want), (k, got[k], want)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(tables(circular=True))
def test_circular_centers_are_the_robust_circular_centres_of_each_row(
    t: tuple[np.ndarray, np.ndarray],
) -> None:
    x, n = t
    got = stats.circular_centers(x, stats.median_picks(n, x.shape[1]))
    for k in range(x.shape[0]):
        want = stats.robust_center(x[k][~np.isnan(x[k])], circular=True)
        assert same_float(got[k], want), (k, got[k], want)


def test_circular_centers_of_clock_times_that_cancel_out_are_undefined() -> None:
    x = np.array([[360.0, 1080.0, np.nan], [100.0, 110.0, 120.0]])
    got = stats.circular_centers(x, stats.median_picks(np.array([2, 3]), 3))
    assert math.isnan(got[0]) and got[1] == pytest.approx(110.0)


# --------------------------------------------------------------------------- estimate


@st.composite
def baselines(draw: st.DrawFn) -> dict[str, object]:
    nf = len(FEATURES)
    width = draw(st.integers(1, 30))
    values = np.empty((nf, width))
    for i, f in enumerate(FEATURES):
        if f.circular:
            el = st.one_of(
                st.floats(0, 1439.99, width=64), st.sampled_from([120.0, 840.0, 0.0, 1439.0])
            )
        else:
            el = st.one_of(
                st.floats(0, 1e5, width=64),
                st.sampled_from([0.0, -0.0, 5.0, 5.0, 7.25]),
                st.floats(-50, 50, width=64),
            )
        values[i] = [draw(el) for _ in range(width)]
    chosen = np.array([[draw(st.booleans()) for _ in range(width)] for _ in range(nf)])
    weekend = np.array([draw(st.booleans()) for _ in range(width)])
    prior = np.array(
        [draw(st.one_of(st.just(math.nan), st.floats(0.01, 100.0))) for _ in range(nf)]
    )
    params = RiskParams(
        day_of_week=draw(st.booleans()),
        min_per_daytype=draw(st.integers(1, 5)),
        prior_days=draw(st.sampled_from([0.0, 7.0, 2.5])),
    )
    wanted = np.array([draw(st.booleans()) for _ in range(nf)]) & (chosen.sum(axis=1) > 0)
    return {
        "values": values,
        "chosen": chosen,
        "weekend": weekend,
        "today": draw(st.booleans()),
        "params": params,
        "prior": prior,
        "wanted": wanted,
    }


@settings(max_examples=200, deadline=None, derandomize=True)
@given(baselines())
def test_estimate_all_is_estimate_feature_by_feature(b: dict[str, object]) -> None:
    values, chosen, weekend = b["values"], b["chosen"], b["weekend"]
    prior, wanted, params = b["prior"], b["wanted"], b["params"]
    assert isinstance(values, np.ndarray) and isinstance(chosen, np.ndarray)
    assert isinstance(weekend, np.ndarray) and isinstance(prior, np.ndarray)
    assert isinstance(wanted, np.ndarray) and isinstance(params, RiskParams)
    cols = bl.Columns.of(FEATURES)
    with np.errstate(all="ignore"):  # log1p of large values, as in estimate
        med, scale = bl.estimate_all(
            cols,
            values,
            bl.transform_all(cols, values),
            chosen,
            weekend,
            bool(b["today"]),
            params,
            prior,
            wanted,
        )
    for i, f in enumerate(FEATURES):
        if not wanted[i]:
            assert math.isnan(med[i]) and math.isnan(scale[i])
            continue
        p = None if math.isnan(prior[i]) else float(prior[i])
        with np.errstate(all="ignore"):
            m, s = bl.estimate(
                f, values[i][chosen[i]], weekend[chosen[i]], bool(b["today"]), params, p
            )
        assert same_float(med[i], m), (f.column, med[i], m)
        assert same_float(scale[i], s), (f.column, scale[i], s)


@pytest.mark.parametrize("today_weekend", [False, True])
@pytest.mark.parametrize("weekend_clock", [(360.0, 1080.0), (100.0, 130.0)])
def test_estimate_all_when_a_day_type_of_a_clock_time_has_no_centre(
    today_weekend: bool, weekend_clock: tuple[float, float]
) -> None:
    # sleep midpoint: weekday nights 100-120, weekend nights either cancelling out on the
    # clock (no circular mean) or usual; estimate gives NaN for the median or the scale
    i = next(k for k, f in enumerate(FEATURES) if f.column == "sleep_midpoint_clock_min")
    dates = np.arange(19723, 19723 + 21)  # 2024-01-01 (a Monday) and 20 more days
    weekend = (dates + 3) % 7 >= 5
    values = np.full((len(FEATURES), dates.size), np.nan)
    a, b = weekend_clock
    values[i] = np.where(weekend, np.where(np.arange(dates.size) % 2 == 0, a, b), 100.0)
    values[i][~weekend] += np.arange((~weekend).sum()) % 3 * 10.0
    chosen = ~np.isnan(values)
    wanted = chosen.any(axis=1)
    prior = np.full(len(FEATURES), np.nan)
    cols = bl.Columns.of(FEATURES)
    params = RiskParams()
    med, scale = bl.estimate_all(
        cols, values, values, chosen, weekend, today_weekend, params, prior, wanted
    )
    m, s = bl.estimate(FEATURES[i], values[i], weekend, today_weekend, params, None)
    assert same_float(med[i], m) and same_float(scale[i], s)
    if weekend_clock == (360.0, 1080.0):
        assert math.isnan(s) and math.isnan(m) == today_weekend


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(st.just(math.nan), st.floats(-3, 3), st.sampled_from([0.0, -0.0])),
        min_size=len(FEATURES),
        max_size=len(FEATURES),
    )
)
def test_the_engine_scores_every_signal_as_change_score_does(z: list[float]) -> None:
    from phenotyping.risk.change import score
    from phenotyping.risk.engine import _features, _scores

    lay = _features(RiskParams().feature_window_days)
    got = _scores(lay, z)
    for j, sg in enumerate(lay.signals):
        assert same_float(got[j], score(sg, np.array(z), np.array(lay.roots))[0]), sg.name


def test_a_state_whose_history_names_an_unknown_feature_is_refused() -> None:
    from phenotyping.errors import StateError
    from phenotyping.features.envelope import pack, unpack
    from phenotyping.risk import engine as eng

    dtypes = {"hist": eng.HIST_DTYPE, "sig": eng.SIG_DTYPE, "frozen": eng.FROZEN_DTYPE}
    dtypes["remission"] = eng.FROZEN_DTYPE
    data = (sc.DATA / "risk_state_v2_day60.bin").read_bytes()
    header, arrays = unpack(data, eng._MAGIC, eng._VERSION, dtypes)
    arrays["hist"]["feature"][3] = len(FEATURES)  # one past the last watched feature
    with pytest.raises(StateError, match="unknown feature"):
        RiskState.from_bytes(pack(eng._MAGIC, eng._VERSION, header, arrays))
