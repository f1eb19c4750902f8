"""Tests for phenotyping.features.hrv.

Expected values come from hand derivations (synthetic cases), from pyHRV's own report
for its sample series (parsed from SampleReport.txt, compared at its printed precision),
or from independent computations written out in the test (MMASH).
"""

from __future__ import annotations

import csv
import gzip
import math
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from phenotyping.errors import InputError
from phenotyping.features import hrv

F64 = NDArray[np.float64]
B1 = NDArray[np.bool_]


# ----------------------------------------------------------------------------- helpers


def assert_metrics_close(
    got: dict[str, float], want: dict[str, float], rel: float = 1e-9, abs_: float = 0.0
) -> None:
    assert list(got) == list(hrv.METRIC_KEYS)
    assert list(want) == list(hrv.METRIC_KEYS)
    for key in hrv.METRIC_KEYS:
        g, w = got[key], want[key]
        if math.isnan(w):
            assert math.isnan(g), (key, g, w)
        else:
            assert g == pytest.approx(w, rel=rel, abs=abs_), (key, g, w)


def sums_route(rr: F64, keep: B1, burst_start: B1 | None = None) -> dict[str, float]:
    """Metrics through beat times -> 5-minute bins -> combine, bins covering all beats."""
    bs = np.zeros(rr.size, bool) if burst_start is None else burst_start
    if rr.size:
        bs = bs.copy()
        bs[0] = True
    starts = np.flatnonzero(bs)
    ends = np.r_[starts[1:], rr.size]
    t = np.concatenate(
        [hrv.beat_times(0.0, rr[s:e]) for s, e in zip(starts, ends, strict=True)] or [np.zeros(0)]
    )
    hi = float(t.max()) + 1.0 if t.size else 1.0
    edges = np.arange(0.0, hi + 300_000.0, 300_000.0)
    s = hrv.segment_sums(rr, t, keep, edges, burst_start=burst_start)
    return hrv.metrics_from_sums(hrv.combine(s))


# ----------------------------------------------------------------------------- beat_times


def test_beat_times_first_interval_ends_at_t0_plus_rr0() -> None:
    t = hrv.beat_times(10_000.0, np.array([1000.0, 500.0, 250.0]))
    assert t.tolist() == [11_000.0, 11_500.0, 11_750.0]
    assert hrv.beat_times(5.0, np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("bad", [[800.0, np.nan], [800.0, 0.0], [-1.0], [np.inf]])
def test_beat_times_rejects_unusable_intervals(bad: list[float]) -> None:
    with pytest.raises(InputError, match="rr_ms"):
        hrv.beat_times(0.0, np.array(bad))


def test_beat_times_rejects_bad_t0_and_shape() -> None:
    with pytest.raises(InputError, match="t0_ms"):
        hrv.beat_times(float("nan"), np.array([800.0]))
    with pytest.raises(InputError, match="1-D"):
        hrv.beat_times(0.0, np.ones((2, 2)))


def test_beat_times_keeps_sub_ms_resolution_at_epoch_scale() -> None:
    t0 = 1_700_000_000_000.0  # 2023 in ms since the epoch
    t = hrv.beat_times(t0, np.full(40_000, 800.5))
    assert t[-1] - t0 == pytest.approx(40_000 * 800.5, abs=1e-3)


# ----------------------------------------------------------------------------- range filter


def test_range_filter_is_inclusive_and_drops_nan() -> None:
    rr = np.array([249.0, 250.0, 2500.0, 2501.0, np.nan, 0.0, -5.0])
    m = hrv.artefact_mask(rr, rule="none")
    assert m.in_range.tolist() == [False, True, True, False, False, False, False]
    assert m.keep.tolist() == m.in_range.tolist()
    assert not m.ectopic.any()
    assert m.fraction_edited == pytest.approx(5 / 7)


def test_range_filter_custom_bounds_and_validation() -> None:
    m = hrv.artefact_mask(
        np.array([300.0, 400.0, 2000.0]), rr_min_ms=350.0, rr_max_ms=1500.0, rule="none"
    )
    assert m.keep.tolist() == [False, True, False]
    with pytest.raises(InputError, match="rr_min_ms"):
        hrv.artefact_mask(np.array([800.0]), rr_min_ms=900.0, rr_max_ms=800.0)


# ----------------------------------------------------------------------------- ectopic rules


@pytest.mark.parametrize(
    ("x", "kept"),
    [(1325.0, True), (1326.0, False), (755.0, True), (754.0, False), (1000.0, True)],
)
def test_kamath_thresholds_are_strict_and_asymmetric(x: float, kept: bool) -> None:
    # reference 1000 ms: > 32.5 % longer (> 1325) or > 24.5 % shorter (< 755) is ectopic
    for reference in ("clean", "previous"):
        m = hrv.artefact_mask(np.array([1000.0, 1000.0, x]), reference=reference)
        assert m.keep.tolist() == [True, True, kept], reference


@pytest.mark.parametrize(
    ("x", "kept"), [(1200.0, True), (1201.0, False), (800.0, True), (799.0, False)]
)
def test_malik_thresholds_are_strict_and_symmetric(x: float, kept: bool) -> None:
    m = hrv.artefact_mask(np.array([1000.0, 1000.0, x]), rule="malik")
    assert m.keep.tolist() == [True, True, kept]


def test_kamath_and_malik_differ_where_they_should() -> None:
    # -23 % and +30 %: inside Kamath's band (-24.5 %/+32.5 %), outside Malik's 20 %
    for x in (770.0, 1300.0):
        rr = np.array([1000.0, 1000.0, x])
        assert hrv.artefact_mask(rr, rule="kamath").keep[2]
        assert not hrv.artefact_mask(rr, rule="malik").keep[2]


def test_premature_beat_with_compensatory_pause() -> None:
    rr = np.array([800.0, 800.0, 500.0, 1100.0, 800.0, 810.0])
    # previous: 500 vs 800 (short), 1100 vs 500 (long), 800 vs 1100 (-27 % < -24.5 %)
    prev = hrv.artefact_mask(rr, reference="previous")
    assert prev.keep.tolist() == [True, True, False, False, False, True]
    # clean: pass 2 compares 1100 and the following 800 with the last pass-1-clean 800
    clean = hrv.artefact_mask(rr)
    assert clean.keep.tolist() == [True, True, False, False, True, True]
    assert clean.ectopic.tolist() == [False, False, True, True, False, False]
    assert clean.fraction_edited == pytest.approx(2 / 6)


def test_reference_skips_out_of_range_intervals() -> None:
    # a split beat: 200 (out of range) + 600; 600 must be compared with 800, not with 200
    rr = np.array([800.0, 800.0, 200.0, 600.0, 800.0, 800.0])
    m = hrv.artefact_mask(rr)
    assert m.in_range.tolist() == [True, True, False, True, True, True]
    assert m.ectopic.tolist() == [False, False, False, True, False, False]
    # with "previous" the 800 after the split is compared with 600 (+33.3 % > 32.5 %)
    assert hrv.artefact_mask(rr, reference="previous").keep.tolist() == [
        True,
        True,
        False,
        False,
        False,
        True,
    ]


def test_step_change_does_not_lock_in() -> None:
    # A genuine 30 % drop in RR. A "previous accepted" recursion would reject every 560
    # (each is compared with the last accepted 800); clean rejects only the first two.
    rr = np.array([800.0] * 5 + [560.0] * 5)
    m = hrv.artefact_mask(rr)
    assert m.keep.tolist() == [True] * 5 + [False, False, True, True, True]
    # previous rejects only the first
    assert hrv.artefact_mask(rr, reference="previous").keep.tolist() == (
        [True] * 5 + [False] + [True] * 4
    )


def test_first_interval_is_judged_against_its_successor() -> None:
    # a burst that opens on a missed beat (1800 ~ 2 x 900)
    rr = np.array([1800.0, 900.0, 910.0, 905.0])
    # pass 1: 1800 vs its successor 900 and 900 vs 1800 are both flagged; pass 2 judges
    # both against the nearest pass-1-clean interval (910): only 1800 goes
    assert hrv.artefact_mask(rr).keep.tolist() == [False, True, True, True]
    assert hrv.artefact_mask(rr, reference="previous").keep.tolist() == [False, False, True, True]


def test_no_reference_across_bursts() -> None:
    rr = np.array([800.0, 800.0, 500.0, 510.0])
    # one burst: a step change, the first two intervals of the new level go
    assert hrv.artefact_mask(rr).keep.tolist() == [True, True, False, False]
    # 500 opens a new burst: judged against its successor 510, not against 800
    bs = np.array([True, False, True, False])
    assert hrv.artefact_mask(rr, burst_start=bs).keep.tolist() == [True] * 4
    # a burst with one usable interval has no reference at all: kept
    m = hrv.artefact_mask(np.array([800.0, 2000.0, 800.0]), burst_start=np.array([True] * 3))
    assert m.keep.all()


def test_artefact_mask_edges() -> None:
    empty = hrv.artefact_mask(np.zeros(0))
    assert empty.keep.shape == (0,) and math.isnan(empty.fraction_edited)
    single = hrv.artefact_mask(np.array([800.0]))
    assert single.keep.tolist() == [True] and single.fraction_edited == 0.0
    gone = hrv.artefact_mask(np.array([100.0, 3000.0, np.nan]))
    assert not gone.keep.any() and gone.fraction_edited == 1.0


def test_artefact_mask_rejects_bad_options() -> None:
    rr = np.array([800.0, 810.0])
    with pytest.raises(InputError, match="rule"):
        hrv.artefact_mask(rr, rule="karlsson")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="reference"):
        hrv.artefact_mask(rr, reference="accepted")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="burst_start"):
        hrv.artefact_mask(rr, burst_start=np.array([1, 0]))
    with pytest.raises(InputError, match="burst_start"):
        hrv.artefact_mask(rr, burst_start=np.array([True]))


# ----------------------------------------------------------------------------- differences


def test_differences_only_between_adjacent_kept_beats() -> None:
    rr = np.array([800.0, 900.0, 3000.0, 850.0, 870.0])
    keep = hrv.artefact_mask(rr, rule="none").keep
    assert hrv.successive_diff_mask(keep).tolist() == [False, True, False, False, True]
    m = hrv.time_domain(rr, keep)
    # differences: 900-800 = 100 and 870-850 = 20 (never 850-900 across the removed beat)
    assert m["n_diff"] == 2.0
    assert m["rmssd"] == pytest.approx(math.sqrt((100.0**2 + 20.0**2) / 2))
    assert (m["nn50"], m["pnn50"]) == (1.0, 50.0)
    assert (m["nn20"], m["pnn20"]) == (1.0, 50.0)  # |20| is not > 20
    assert m["n_beats"] == 5.0 and m["n_nn"] == 4.0
    assert m["fraction_edited"] == pytest.approx(0.2)


def test_nn50_nn20_thresholds_are_strict() -> None:
    m = hrv.time_domain(np.array([800.0, 850.0, 870.0, 921.0, 942.0]))
    # |d| = 50, 20, 51, 21
    assert (m["nn50"], m["nn20"], m["n_diff"]) == (1.0, 3.0, 4.0)
    assert (m["pnn50"], m["pnn20"]) == (25.0, 75.0)


def test_sdsd_signed_versus_pyhrv_absolute() -> None:
    m = hrv.time_domain(np.array([800.0, 850.0, 800.0, 850.0]))
    # d = +50, -50, +50 -> mean 50/3; SD (ddof=1) = sqrt(3333.3...) ; |d| constant -> 0
    assert m["sdsd"] == pytest.approx(math.sqrt(10000.0 / 3.0))
    assert m["sdsd_pyhrv"] == 0.0
    assert m["rmssd"] == 50.0 and m["mean_abs_diff"] == 50.0


def test_mean_hr_is_mean_of_instantaneous_hr() -> None:
    m = hrv.time_domain(np.array([500.0, 1000.0]))
    assert m["mean_hr"] == pytest.approx(90.0)  # (120 + 60) / 2, not 60000/750 = 80
    assert m["sd_hr"] == pytest.approx(math.sqrt(1800.0))
    assert m["mean_nn"] == 750.0 and m["sdnn"] == pytest.approx(math.sqrt(125000.0))


def test_time_domain_edges_give_nan_without_warnings() -> None:
    empty = hrv.time_domain(np.zeros(0))
    assert empty["n_beats"] == 0.0 and empty["nn50"] == 0.0
    assert all(
        math.isnan(empty[k])
        for k in ("fraction_edited", "mean_nn", "sdnn", "rmssd", "pnn50", "mean_hr", "sd_hr")
    )
    one = hrv.time_domain(np.array([800.0]))
    assert one["mean_nn"] == 800.0 and one["mean_hr"] == 75.0
    assert math.isnan(one["sdnn"]) and math.isnan(one["rmssd"]) and one["n_diff"] == 0.0
    two = hrv.time_domain(np.array([800.0, 830.0]))
    assert two["rmssd"] == 30.0 and math.isnan(two["sdsd"]) and two["pnn20"] == 100.0
    removed = hrv.time_domain(np.array([800.0, 810.0]), np.array([False, False]))
    assert removed["fraction_edited"] == 1.0 and math.isnan(removed["mean_nn"])
    # NaN and non-positive intervals are never kept, even if the mask says so
    nan_in = hrv.time_domain(np.array([800.0, np.nan, 810.0, 0.0]), np.ones(4, bool))
    assert nan_in["n_nn"] == 2.0 and nan_in["n_diff"] == 0.0


def test_time_domain_burst_start_breaks_differences() -> None:
    rr = np.array([800.0, 900.0, 700.0, 760.0])
    m = hrv.time_domain(rr, burst_start=np.array([True, False, True, False]))
    assert m["n_diff"] == 2.0 and m["rmssd"] == pytest.approx(math.sqrt((100.0**2 + 60.0**2) / 2))


# ----------------------------------------------------------------------------- sums


def test_segment_sums_assigns_difference_to_second_beat() -> None:
    rr = np.array([800.0, 860.0, 840.0, 800.0])
    t = hrv.beat_times(0.0, rr)  # 800, 1660, 2500, 3300
    s = hrv.segment_sums(rr, t, np.ones(4, bool), np.array([0.0, 2000.0, 4000.0]))
    assert s.dtype == hrv.HRV_SUMS_DTYPE and s.shape == (2,)
    assert s["n_beats"].tolist() == [2, 2] and s["n_kept"].tolist() == [2, 2]
    # d(860-800)=+60 at 1660 -> bin 0; d(-20) at 2500 and d(-40) at 3300 -> bin 1
    assert s["n_diff"].tolist() == [1, 2]
    assert s["sum_diff"].tolist() == [60.0, -60.0]
    assert s["sum_diff2"].tolist() == [3600.0, 2000.0]
    assert s["sum_abs_diff"].tolist() == [60.0, 60.0]
    assert s["nn50"].tolist() == [1, 0] and s["nn20"].tolist() == [1, 1]
    # shifted sums: NN - 1000 and 60000/NN - 60
    assert s["sum_nn"].tolist() == [-200.0 - 140.0, -160.0 - 200.0]
    assert s["sum_hr"][1] == pytest.approx(60000 / 840 - 60 + 60000 / 800 - 60)
    # window = bin 1: its metrics include d(-20), whose first beat lies in bin 0
    w = hrv.metrics_table(s)
    assert w["rmssd"][1] == pytest.approx(math.sqrt(1000.0))
    assert w["mean_nn"].tolist() == [830.0, 820.0]


def test_segment_sums_half_open_bins_outside_and_nan_times() -> None:
    rr = np.array([800.0, 800.0, 800.0, 800.0])
    t = np.array([-1.0, 0.0, 1000.0, np.nan])
    s = hrv.segment_sums(rr, t, np.ones(4, bool), np.array([0.0, 1000.0, 2000.0]))
    assert s["n_beats"].tolist() == [1, 1]  # -1 outside, 1000 in bin 1, NaN nowhere
    assert s["n_diff"].tolist() == [1, 1]


def test_segment_sums_counts_removed_beats_and_validates() -> None:
    rr = np.array([800.0, 3000.0, 810.0])
    t = hrv.beat_times(0.0, rr)
    m = hrv.artefact_mask(rr)
    s = hrv.segment_sums(rr, t, m.keep, np.array([0.0, 10_000.0]))
    assert (int(s["n_beats"][0]), int(s["n_kept"][0]), int(s["n_diff"][0])) == (3, 2, 0)
    assert hrv.metrics_from_sums(s)["fraction_edited"] == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="bin_edges_ms"):
        hrv.segment_sums(rr, t, m.keep, np.array([0.0]))
    with pytest.raises(InputError, match="bin_edges_ms"):
        hrv.segment_sums(rr, t, m.keep, np.array([0.0, 5.0, 5.0]))
    with pytest.raises(InputError, match="beat_times_ms"):
        hrv.segment_sums(rr, t[:2], m.keep, np.array([0.0, 5.0]))
    with pytest.raises(InputError, match="keep"):
        hrv.segment_sums(rr, t, None, np.array([0.0, 5.0]))  # type: ignore[arg-type]


def test_empty_input_and_empty_sums() -> None:
    s = hrv.segment_sums(np.zeros(0), np.zeros(0), np.zeros(0, bool), np.array([0.0, 1.0]))
    assert s.shape == (1,) and int(s["n_beats"][0]) == 0
    got = hrv.metrics_from_sums(hrv.combine(s))
    assert_metrics_close(got, hrv.time_domain(np.zeros(0)))
    assert hrv.metrics_table(hrv.empty_sums(0))["rmssd"].shape == (0,)


def test_combine_axis_and_errors() -> None:
    s = hrv.empty_sums((2, 3))
    s["n_kept"] = [[1, 2, 3], [4, 5, 6]]
    s["sum_nn"] = 1.5
    assert hrv.combine(s, axis=1)["n_kept"].tolist() == [6, 15]
    total = hrv.combine(s)
    assert total.shape == () and int(total["n_kept"]) == 21 and float(total["sum_nn"]) == 9.0
    with pytest.raises(InputError, match="one record"):
        hrv.metrics_from_sums(s)
    with pytest.raises(InputError, match="HRV_SUMS_DTYPE"):
        hrv.combine(np.zeros(3))  # type: ignore[arg-type]


def test_combine_is_bit_identical_whatever_the_record_order() -> None:
    rng = np.random.default_rng(11)
    rr = 900.0 + 50.0 * rng.standard_normal(3000) + 0.123
    t = hrv.beat_times(0.0, rr)
    s = hrv.segment_sums(rr, t, np.ones(rr.size, bool), np.arange(0.0, t[-1] + 60e3, 60e3))
    a = hrv.metrics_from_sums(hrv.combine(s))
    for _ in range(5):
        b = hrv.metrics_from_sums(hrv.combine(s[rng.permutation(s.size)]))
        assert a == b  # exact, not approx
    stacked = np.stack([s, s[::-1]])
    c = hrv.combine(stacked, axis=1)
    assert c[0].tobytes() == c[1].tobytes()


def test_sums_equal_direct_on_random_bursts() -> None:
    rng = np.random.default_rng(20240611)
    n = 6000
    rr = 850.0 + 60.0 * rng.standard_normal(n) + 0.37  # non-integer ms
    spikes = rng.random(n) < 0.03
    rr[spikes] *= rng.choice([0.4, 0.6, 1.6, 2.0, 3.5], spikes.sum())
    rr[rng.random(n) < 0.002] = np.nan
    bs = rng.random(n) < 0.01
    bs[0] = True
    keep = hrv.artefact_mask(rr, burst_start=bs).keep
    direct = hrv.time_domain(rr, keep, burst_start=bs)
    assert direct["n_diff"] < direct["n_nn"] - 1  # the case is not trivial

    # stream: one burst at a time with its own t0 (gaps between bursts), same bin edges
    starts = np.flatnonzero(bs)
    ends = np.r_[starts[1:], n]
    t_all = np.empty(n)
    t0 = 1_700_000_000_000.0
    for s0, e0 in zip(starts, ends, strict=True):
        seg = np.nan_to_num(rr[s0:e0], nan=900.0)  # a lost interval still takes time
        t_all[s0:e0] = hrv.beat_times(t0, seg)
        t0 = t_all[e0 - 1] + rng.uniform(1_000.0, 60_000.0)
    inner = np.sort(rng.uniform(t_all.min(), t_all.max(), 40))
    edges = np.r_[t_all.min() - 1.0, inner, t_all.max() + 1.0]
    per_burst = np.stack(
        [
            hrv.segment_sums(rr[s0:e0], t_all[s0:e0], keep[s0:e0], edges)
            for s0, e0 in zip(starts, ends, strict=True)
        ]
    )
    streamed = hrv.combine(per_burst, axis=0)  # per-bin totals
    assert streamed.shape == (edges.size - 1,)
    at_once = hrv.segment_sums(rr, t_all, keep, edges, burst_start=bs)
    assert_metrics_close(hrv.metrics_from_sums(hrv.combine(streamed)), direct)
    assert_metrics_close(hrv.metrics_from_sums(hrv.combine(at_once)), direct)
    for key in ("n_beats", "n_kept", "n_diff", "nn50", "nn20"):
        assert streamed[key].tolist() == at_once[key].tolist()


def test_shifted_sums_are_precise_on_long_low_variance_series() -> None:
    # A paced rhythm (SD 0.5 ms) accumulated over a month of nights (1e6 beats) is the
    # hard case for sums of squares. Measured when writing this test: unshifted sums
    # (sum x**2 - (sum x)**2 / n) give 4.9e-10 relative error on SDNN at 1000 ms and
    # 1.1e-10 at 600 ms; the 1000-ms shift gives ~2e-16 and ~2e-11.
    rng = np.random.default_rng(7)
    for mean, rel in ((1000.0, 1e-12), (600.0, 1e-9)):
        rr = mean + 0.5 * rng.standard_normal(1_000_000)
        got = sums_route(rr, np.ones(rr.size, bool))
        assert got["sdnn"] == pytest.approx(float(np.std(rr, ddof=1)), rel=rel)
        assert got["sd_hr"] == pytest.approx(float(np.std(60000.0 / rr, ddof=1)), rel=rel)


# ----------------------------------------------------------------------------- pyHRV sample

PYHRV_KEYS = {
    "Number of NNIs (-)": "n_nn",
    "Mean NNI (ms)": "mean_nn",
    "SDNN (ms)": "sdnn",
    "RMSSD (ms)": "rmssd",
    "SDSD (ms)": "sdsd_pyhrv",
    "Mean Delta-NNI (ms)": "mean_abs_diff",
    "NN50 (-)": "nn50",
    "pNN50 (%)": "pnn50",
    "NN20 (-)": "nn20",
    "pNN20 (%)": "pnn20",
    "Mean Heart Rate (bpm)": "mean_hr",
    "Standard Deviation of Heart Rate (bpm)": "sd_hr",
}


def pyhrv_report(data_dir: Path) -> dict[str, float]:
    """The time-domain section of pyHRV's SampleReport.txt, label -> printed value."""
    text = (data_dir / "pyhrv-sample-nni" / "SampleReport.txt").read_text()
    section = text.split("\nTime Domain\n", 1)[1].split("Frequency Domain", 1)[0]
    out: dict[str, float] = {}
    for line in section.splitlines():
        found = re.match(r"^(.+?)\s*;\s*([-+0-9.eE]+)\s*$", line)
        if found:
            out[found.group(1).strip()] = float(found.group(2))
    return out


@pytest.fixture(scope="module")
def long_nni(data_dir: Path) -> F64:
    path = data_dir / "pyhrv-sample-nni" / "SampleNNISeriesLong.npy"
    return np.asarray(np.load(path), dtype=np.float64)


@pytest.mark.realdata
def test_pyhrv_long_series_reproduces_report(data_dir: Path, long_nni: F64) -> None:
    report = pyhrv_report(data_dir)
    assert set(PYHRV_KEYS) <= set(report), sorted(report)
    direct = hrv.time_domain(long_nni)  # pyHRV's report is on the unfiltered series
    streamed = sums_route(long_nni, np.ones(long_nni.size, bool))
    for label, key in PYHRV_KEYS.items():
        for got in (direct[key], streamed[key]):
            # printed with 3 decimals: a match means |got - printed| <= 0.0005
            assert abs(got - report[label]) <= 0.0005 + 1e-9, (label, got, report[label])
    # pNN50 denominator is N - 1 differences; N in the report is the NN count
    assert direct["n_diff"] == report["Number of NNIs (-)"] - 1


@pytest.mark.realdata
def test_pyhrv_conventions_are_the_ones_that_match(data_dir: Path, long_nni: F64) -> None:
    report = pyhrv_report(data_dir)
    m = hrv.time_domain(long_nni)
    # the report's SDSD is not the SD of the signed differences (that is ~RMSSD)...
    assert abs(m["sdsd"] - report["SDSD (ms)"]) > 10.0
    # ...it is the SD of |d|: SDSD^2 = n/(n-1) (RMSSD^2 - mean|d|^2), from report numbers
    n = report["Number of NNIs (-)"] - 1
    implied = math.sqrt(
        n / (n - 1) * (report["RMSSD (ms)"] ** 2 - report["Mean Delta-NNI (ms)"] ** 2)
    )
    assert implied == pytest.approx(report["SDSD (ms)"], abs=0.01)
    # mean HR is mean(60000/NN), not 60000/mean(NN)
    assert abs(60000.0 / m["mean_nn"] - report["Mean Heart Rate (bpm)"]) > 0.5
    # pNN50 with denominator N (not N - 1) would not match the printed value
    assert abs(100.0 * m["nn50"] / m["n_nn"] - report["pNN50 (%)"]) > 0.0005
    # extremes as a further check of units/orientation
    assert float(long_nni.min()) == report["Minimum NNI (ms)"]
    assert float(long_nni.max()) == report["Maximum NNI (ms)"]


@pytest.mark.realdata
def test_pyhrv_series_sums_precision_and_filter(data_dir: Path, long_nni: F64) -> None:
    short = np.load(data_dir / "pyhrv-sample-nni" / "SampleNNISeriesShort.npy").astype(float)
    assert short.size == 337  # SOURCE.md; the report does not cover the short series
    rng = np.random.default_rng(3)
    # 30 copies of the hour (a month of nights) with sub-ms jitter: float, long, real HRV
    month = np.tile(long_nni, 30) + rng.uniform(-0.5, 0.5, long_nni.size * 30)
    rules: tuple[hrv.Rule, ...] = ("kamath", "malik")
    for rr in (short, long_nni, month):
        for rule in rules:
            keep = hrv.artefact_mask(rr, rule=rule).keep
            assert_metrics_close(sums_route(rr, keep), hrv.time_domain(rr, keep), rel=1e-12)
    # NSRDB sample: all in range, few ectopic candidates
    m = hrv.artefact_mask(long_nni)
    assert m.in_range.all()
    assert m.fraction_edited < 0.02


# ----------------------------------------------------------------------------- MMASH


def load_mmash_rr(data_dir: Path, user: int) -> tuple[F64, F64]:
    """Intervals in ms (rounded to the integer ms the Polar H7 reports) and wall-clock
    seconds since midnight of day 1."""
    path = data_dir / "mmash" / f"user_{user}" / "RR.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    rr = np.array([round(float(r["ibi_s"]) * 1000.0) for r in rows], dtype=np.float64)
    wall = np.array(
        [
            (int(r["day"]) - 1) * 86400
            + sum(int(v) * m for v, m in zip(r["time"].split(":"), (3600, 60, 1), strict=True))
            for r in rows
        ],
        dtype=np.float64,
    )
    return rr, wall


def mmash_bursts(rr: F64, wall: F64) -> B1:
    """MMASH's RR series has thousands of dropouts: the wall clock jumps (typically ~8 s)
    while the next interval is a normal one. A burst ends where the wall clock and the
    cumulative intervals disagree by more than 2 s from one row to the next (1-s clock
    resolution)."""
    drift = wall - np.cumsum(rr) / 1000.0
    bs = np.zeros(rr.size, dtype=bool)
    bs[0] = True
    bs[1:] = np.abs(np.diff(drift)) > 2.0
    return bs


def mmash_beat_times(rr: F64, wall: F64, bs: B1) -> F64:
    """Per burst, as the stream engine would: t0 = wall clock of the burst's first row
    (taken as the time its interval ends) minus that interval."""
    starts = np.flatnonzero(bs)
    ends = np.r_[starts[1:], rr.size]
    return np.concatenate(
        [
            hrv.beat_times(wall[s] * 1000.0 - rr[s], rr[s:e])
            for s, e in zip(starts, ends, strict=True)
        ]
    )


def in_bed_window_ms(data_dir: Path, user: int) -> tuple[float, float]:
    with open(data_dir / "mmash" / f"user_{user}" / "sleep.csv", newline="") as f:
        row = next(csv.DictReader(f))

    def at(day: str, hhmm: str) -> float:
        h, m = hhmm.split(":")
        return ((int(day) - 1) * 86400 + int(h) * 3600 + int(m) * 60) * 1000.0

    return at(row["In Bed Date"], row["In Bed Time"]), at(row["Out Bed Date"], row["Out Bed Time"])


@pytest.mark.realdata
@pytest.mark.parametrize("user", [2, 4])
def test_mmash_artefacts_are_removed(data_dir: Path, user: int) -> None:
    rr, wall = load_mmash_rr(data_dir, user)
    bs = mmash_bursts(rr, wall)
    m = hrv.artefact_mask(rr, burst_start=bs)

    # 1. every interval outside 250..2500 ms is removed, and only those fail the range
    out = (rr < 250.0) | (rr > 2500.0)
    assert out.sum() > 0 and not m.keep[out].any()
    assert (~m.in_range).tolist() == out.tolist()
    if user == 2:
        assert rr[0] == 6512.0 and not m.keep[0]  # first row of user_2 (SOURCE.md)

    # 2. hand-checkable patterns, all five intervals in one burst, p ~ a ~ b (+-10 %):
    #    p, a, s, l, b with s < 0.7 a and l > 1.4 a (isolated short-long pair)
    #    p, a, m, b', b with 1.8 a <= m <= 2.2 a (isolated missed beat)
    i = np.arange(2, rr.size - 2)
    bid = np.cumsum(bs)
    p, a, x, y, b = rr[i - 2], rr[i - 1], rr[i], rr[i + 1], rr[i + 2]

    def near(u: F64, v: F64) -> B1:
        return np.abs(u - v) <= 0.1 * v

    base = (bid[i - 2] == bid[i + 2]) & (a >= 500) & (a <= 1500) & near(p, a) & near(b, a)
    short_long = i[base & (x < 0.7 * a) & (y > 1.4 * a) & (y <= 2500)]
    missed = i[base & (x >= 1.8 * a) & (x <= 2.2 * a) & near(y, a)]
    assert short_long.size >= 5 and missed.size >= 5
    assert not m.keep[short_long].any() and not m.keep[short_long + 1].any()
    assert m.keep[short_long + 2].all()  # the normal beat after the pair survives
    assert not m.keep[missed].any() and m.keep[missed + 1].all()

    # 3. plausibility against an independent detector: |rr - median of 11| > 40 % of it.
    #    Bound: the filter removes >= 80 % of those gross outliers and <= 5 % of the rest.
    med = np.median(sliding_window_view(np.pad(rr, 5, mode="edge"), 11), axis=1)
    gross = np.abs(rr - med) > 0.4 * med
    removed_gross = 1.0 - m.keep[gross].mean()
    removed_other = 1.0 - m.keep[~gross].mean()
    print(
        f"\nMMASH user_{user}: n={rr.size} bursts={int(bs.sum())} out-of-range={int(out.sum())}"
        f" ectopic={int(m.ectopic.sum())} fraction_edited={m.fraction_edited:.4f}"
        f" gross={gross.mean():.4f} removed_gross={removed_gross:.4f}"
        f" removed_other={removed_other:.4f}"
        f" short_long={short_long.size} missed={missed.size}"
    )
    assert removed_gross >= 0.80
    assert removed_other <= 0.05
    assert out.mean() <= m.fraction_edited <= gross.mean() + 0.05


@pytest.mark.realdata
@pytest.mark.parametrize("user", [2, 4])
def test_mmash_night_from_streamed_sums(data_dir: Path, user: int) -> None:
    rr, wall = load_mmash_rr(data_dir, user)
    bs = mmash_bursts(rr, wall)
    keep = hrv.artefact_mask(rr, burst_start=bs).keep
    t = mmash_beat_times(rr, wall, bs)

    # whole recording: bins covering every beat == direct computation
    edges_all = np.arange(np.floor(t.min()), t.max() + 300_000.0, 300_000.0)
    whole = hrv.segment_sums(rr, t, keep, edges_all, burst_start=bs)
    direct = hrv.time_domain(rr, keep, burst_start=bs)
    assert_metrics_close(hrv.metrics_from_sums(hrv.combine(whole)), direct)

    # the night (in bed -> out of bed, sleep.csv) in 5-minute bins, one burst at a time
    t_in, t_out = in_bed_window_ms(data_dir, user)
    edges = np.arange(t_in, t_out + 1.0, 300_000.0)
    night = hrv.empty_sums(edges.size - 1)
    starts = np.flatnonzero(bs)
    for s0, e0 in zip(starts, np.r_[starts[1:], rr.size], strict=True):
        part = hrv.segment_sums(rr[s0:e0], t[s0:e0], keep[s0:e0], edges)
        for name in hrv.HRV_SUMS_DTYPE.names or ():
            night[name] += part[name]
    got = hrv.metrics_from_sums(hrv.combine(night))

    # independent computation over the same beats: NN = kept beats in [edges[0], edges[-1]);
    # d = kept, adjacent, same-burst pairs whose second beat is in that window
    inw = (t >= edges[0]) & (t < edges[-1])
    nn = rr[keep & inw]
    j = np.arange(1, rr.size)
    j = j[keep[j] & keep[j - 1] & ~bs[j] & inw[j]]
    d = rr[j] - rr[j - 1]
    assert got["n_beats"] == inw.sum() and got["n_nn"] == nn.size and got["n_diff"] == d.size
    assert got["mean_nn"] == pytest.approx(float(nn.mean()), rel=1e-9)
    assert got["sdnn"] == pytest.approx(float(nn.std(ddof=1)), rel=1e-9)
    assert got["rmssd"] == pytest.approx(float(np.sqrt(np.mean(d**2))), rel=1e-9)
    assert got["pnn50"] == pytest.approx(100.0 * float(np.mean(np.abs(d) > 50.0)), rel=1e-9)
    assert got["mean_hr"] == pytest.approx(float(np.mean(60000.0 / nn)), rel=1e-9)
    assert got["sd_hr"] == pytest.approx(float(np.std(60000.0 / nn, ddof=1)), rel=1e-9)

    print(
        f"\nMMASH user_{user} in bed {edges[0] / 3.6e6 - 24:+.2f} h .. "
        f"{edges[-1] / 3.6e6 - 24:+.2f} h (day-2 clock): beats={int(got['n_beats'])} "
        f"fraction_edited={got['fraction_edited']:.4f} RMSSD={got['rmssd']:.2f} ms "
        f"SDNN={got['sdnn']:.2f} ms meanNN={got['mean_nn']:.1f} ms "
        f"meanHR={got['mean_hr']:.2f} bpm pNN50={got['pnn50']:.2f} %"
    )
    # plausibility for a healthy young man asleep
    assert 15.0 <= got["rmssd"] <= 150.0
    assert 40.0 <= got["mean_hr"] <= 80.0
    assert got["fraction_edited"] <= 0.35
