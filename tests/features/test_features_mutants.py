"""Edge values of the feature functions that mutation testing found unchecked (issue 14).

Every expected value is worked out by hand in the test (the docstrings say how); none is
computed by the code under test. They check the public functions' documented behaviour,
not their internals.
"""

from __future__ import annotations

import json
import math
import struct
import zlib

import numpy as np
import pytest

from phenotyping.errors import InputError, StateError
from phenotyping.features import circadian as c
from phenotyping.features import hrv
from phenotyping.features import sleep as sl
from phenotyping.features.envelope import unpack

# ----------------------------------------------------------------------------- circadian


def test_iv_and_is_are_defined_with_exactly_two_valid_hours() -> None:
    """Hourly sums 0 and 60 (the rest missing): one step of 60, so mean squared step 3600;
    sample variance (ddof=1) of {0, 60} = 1800: IV = 2. The 24-h profile is {0, 60} too:
    IS = 1800 / 1800 = 1. Two values are enough for a sample variance."""
    x = np.r_[np.zeros(60), np.ones(60), np.full(22 * 60, np.nan)]
    assert c.intradaily_variability(x, 0) == pytest.approx(2.0)
    assert c.interdaily_stability(x, 0) == pytest.approx(1.0)
    one_hour = np.r_[np.ones(60), np.full(23 * 60, np.nan)]
    assert math.isnan(c.intradaily_variability(one_hour, 0))


def test_no_window_qualifies_gives_minus_one_and_nan() -> None:
    # a width outside 1..1440 minutes, a negative one included (fourth mutation round)
    for width in (0, 1441, -1, -300):
        start, value = c.least_most_active(np.ones(1440), width, lowest=True)
        assert start == -1 and math.isnan(value)
    start, value = c.least_most_active(np.full(1440, np.nan), 300, lowest=False)
    assert start == -1 and math.isnan(value)


def test_windows_with_too_few_observed_minutes_are_never_chosen() -> None:
    """Minutes 0-799 missing, 800-1439 observed: value 2, except a quiet hour 1000-1059
    of 1s.

    M10 (600 minutes, needs >= 300 observed): mean 2 needs a window without the quiet
    hour; windows ending by minute 1000 have < 300 observed, so the first is the one
    starting at 1060 (1060-1439 observed, 380 minutes).

    L5 (300 minutes, needs >= 150 observed): a window starting at s in [700, 760] holds
    s-700 ones and 200 twos over s-500 observed minutes, mean (s-300)/(s-500), falling
    with s; from 760 to 1000 it holds the whole quiet hour and (s+300-800)-60 twos, mean
    (2s-1060)/(s-500), rising. So the least active window starts at 760: 460/260."""
    p = np.full(1440, np.nan)
    p[800:] = 2.0
    p[1000:1060] = 1.0
    assert c.least_most_active(p, 600, lowest=False) == (1060, 2.0)
    start, value = c.least_most_active(p, 300, lowest=True)
    assert start == 760 and value == pytest.approx(460 / 260)


def test_m10_starting_at_midnight_is_reported_as_minute_0() -> None:
    """Two identical days, 5 counts/min 00:00-10:00 and 1 after: the most active 10 h
    start at minute 0 (M10 = 5), the least active 5 h at 600 (first of the tied windows,
    L5 = 1)."""
    day = np.r_[np.full(600, 5.0), np.ones(840)]
    rows = np.vstack([day, day])
    out = c.day_rows_summary(
        np.concatenate([c.hourly_totals(r, 0)[0] for r in rows]),
        rows.sum(axis=0),
        np.full(1440, 2, np.int64),
    )
    assert out["M10_start_minute"] == 0.0 and out["M10"] == 5.0
    assert out["L5_start_minute"] == 600.0 and out["L5"] == 1.0


# --------------------------------------------------------------------------------- sleep


def test_main_sleep_period_accepts_no_bridging() -> None:
    """``max_gap=0`` (documented as allowed, ``>= 0``) bridges nothing: of bouts of 40 and
    50 minutes 20 minutes apart, the 50-minute one (minutes 70-119) is the main period."""
    s = np.r_[np.zeros(10), np.ones(40), np.zeros(20), np.ones(50), np.zeros(10)]
    assert sl.main_sleep_period(s, max_gap=0) == (70, 120)
    with pytest.raises(ValueError, match="max_gap"):
        sl.main_sleep_period(s, max_gap=-1)


def test_in_bed_window_may_start_at_the_first_epoch() -> None:
    """In bed from epoch 0 to 30; wake 0-4, asleep 5-24, awake 25-29: TIB 30, SOL 5,
    TST 20, WASO 5 (lying awake after the final awakening counts), SE 20/30."""
    s = np.r_[np.zeros(5), np.ones(20), np.zeros(5)]
    r = sl.summarise_sleep(s, in_bed=(0, 30))
    assert (r["tib_min"], r["sol_min"], r["tst_min"], r["waso_min"]) == (30.0, 5.0, 20.0, 5.0)
    assert r["se"] == pytest.approx(20 / 30)
    with pytest.raises(ValueError, match="in_bed"):
        sl.summarise_sleep(s, in_bed=(-1, 30))


# ----------------------------------------------------------------------------------- hrv


@pytest.mark.parametrize(("rr_ms", "n"), [(301.0, 33), (302.0, 7), (304.0, 3), (1000.0, 10)])
def test_a_constant_rhythm_has_zero_sd_from_the_streamed_sums(rr_ms: float, n: int) -> None:
    """n identical intervals: SDNN, SD of HR and SDSD are exactly 0 by definition, mean HR
    60000 / RR. (For these values the shifted HR sums round to a variance of -1e-11 ..
    -1e-9: it must be clamped to 0, not turned into NaN.)"""
    rr = np.full(n, rr_ms)
    t = hrv.beat_times(0.0, rr)
    m = hrv.metrics_from_sums(
        hrv.combine(hrv.segment_sums(rr, t, np.ones(n, bool), [0.0, float(t[-1]) + 1.0]))
    )
    assert m["n_nn"] == n
    assert (m["sdnn"], m["sd_hr"], m["sdsd"], m["rmssd"]) == (0.0, 0.0, 0.0, 0.0)
    assert m["mean_hr"] == pytest.approx(60_000 / rr_ms)


# ------------------------------------------------------------------------------ envelope


def test_a_state_inflating_to_exactly_64_mib_loads_and_one_byte_more_is_refused() -> None:
    """The documented bound (docs/failure-modes.md: a stored state inflates to at most
    64 MB, 2**26 bytes): a payload of exactly 2**26 bytes -- 4-byte header length, the
    header, one uint8 array of the rest -- unpacks; the same with one more byte is a
    StateError naming the limit, not a memory spike."""
    limit = 64 * 1024 * 1024

    def blob(total: int) -> tuple[bytes, int]:
        n = total - 4 - len(b'{"arrays":{"x":00000000}}')
        head = b'{"arrays":{"x":%08d}}' % n
        payload = struct.pack("<I", len(head)) + head + bytes(n)
        assert len(payload) == total
        return b"TEST" + struct.pack("<H", 1) + zlib.compress(payload, 1), n

    ok, n = blob(limit)
    _, arrays = unpack(ok, b"TEST", 1, {"x": np.dtype("u1")})
    assert arrays["x"].size == n
    del arrays
    too_big, _ = blob(limit + 1)
    with pytest.raises(StateError, match="more than 67,108,864 bytes"):
        unpack(too_big, b"TEST", 1, {"x": np.dtype("u1")})


def _framed(payload: bytes, magic: bytes = b"TEST") -> bytes:
    """An envelope around a chosen (uncompressed) payload: magic, version 1, zlib."""
    return magic + struct.pack("<H", 1) + zlib.compress(payload)


def test_a_wrong_magic_is_refused_whichever_way_it_sorts() -> None:
    """The magic must be equal, not merely not-greater: b"AAAA" (sorts below b"TEST") and
    b"ZZZZ" (above) are both another kind of state."""
    payload = struct.pack("<I", 13) + b'{"arrays":{}}'
    assert unpack(_framed(payload), b"TEST", 1, {}) == ({}, {})
    for other in (b"AAAA", b"ZZZZ"):
        with pytest.raises(StateError, match="bad magic"):
            unpack(_framed(payload, other), b"TEST", 1, {})


def test_a_payload_shorter_than_its_header_length_is_named() -> None:
    """3 bytes cannot hold the 4-byte header length: "no header", not a generic error."""
    for short in (b"", b"a", b"abc"):
        with pytest.raises(StateError, match=r"corrupt \(no header\)"):
            unpack(_framed(short), b"TEST", 1, {})


@pytest.mark.parametrize("n", [-1, -2, 1.0, "1"])
def test_an_array_length_that_is_not_a_count_is_refused(n: object) -> None:
    """A declared length must be a non-negative int: -1 would make NumPy read "all the
    remaining bytes" and accept a state nobody wrote."""
    head = b'{"arrays":{"x":%s}}' % json.dumps(n).encode()
    payload = struct.pack("<I", len(head)) + head + bytes(8)
    with pytest.raises(StateError, match="out of bounds"):
        unpack(_framed(payload), b"TEST", 1, {"x": np.dtype("u1")})


# ---------------------------------------------------------------- fourth mutation round


@pytest.mark.parametrize("data", [b"TEST", b"TEST\x01", b"TES"])
def test_a_state_cut_inside_its_version_is_refused_as_such(data: bytes) -> None:
    """Fewer than magic + 2 version bytes: a StateError (not a struct.error escaping the
    "StateError and nothing else" contract), even when the magic itself is complete."""
    with pytest.raises(StateError, match="bad magic"):
        unpack(data, b"TEST", 1, {})


def test_an_array_declared_longer_than_the_payload_is_named() -> None:
    """8 bytes present, 9 declared: the refusal names the array and the rule ("out of
    bounds"), not NumPy's own error."""
    head = b'{"arrays":{"x":9}}'
    payload = struct.pack("<I", len(head)) + head + bytes(8)
    with pytest.raises(StateError, match=r"corrupt \(array 'x' out of bounds\)"):
        unpack(_framed(payload), b"TEST", 1, {"x": np.dtype("u1")})
    # exactly 8 declared: read
    head = b'{"arrays":{"x":8}}'
    payload = struct.pack("<I", len(head)) + head + bytes(8)
    assert unpack(_framed(payload), b"TEST", 1, {"x": np.dtype("u1")})[1]["x"].size == 8


def test_an_unknown_array_is_named_by_its_first_40_characters_only() -> None:
    """The name comes from untrusted bytes: quoted, cut at 40 characters."""
    name = "a" * 40 + "b" * 60
    head = json.dumps({"arrays": {name: 0}}).encode()
    payload = struct.pack("<I", len(head)) + head
    with pytest.raises(StateError) as err:
        unpack(_framed(payload), b"TEST", 1, {})
    assert str(err.value) == "state: unknown array '" + "a" * 40 + "'"


def test_a_bad_interval_is_named_by_its_own_index() -> None:
    """0.5 ms is short but positive (allowed here; the message schema bounds RR);
    the first interval that is not > 0 is number 2."""
    with pytest.raises(InputError, match=r"rr_ms\[2\]: intervals must be finite and > 0, got 0"):
        hrv.beat_times(0.0, [0.5, 1.0, 0.0, -1.0])


def test_two_intervals_are_each_others_reference() -> None:
    """With two intervals each is judged against the other (Kamath: 1300 > 1.325 x 800 and
    800 < 0.755 x 1300): both are edited -- neither can be told to be the normal one; two
    close ones (800, 810) are both kept."""
    assert hrv.artefact_mask([800.0, 1300.0]).keep.tolist() == [False, False]
    assert hrv.artefact_mask([800.0, 810.0]).keep.tolist() == [True, True]
