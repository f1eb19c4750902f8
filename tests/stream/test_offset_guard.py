"""``OffsetGuard``: the per-partition order rule of the device agent (stop at the hole).

Pure unit tests; the agent's use of it on a real broker is ``tests/stream/test_holes.py``.
"""

from __future__ import annotations

import pytest

from phenotyping.stream.holes import OffsetGuard


def run(guard: OffsetGuard[str], offsets: list[int], tp: str = "p") -> list[str]:
    return [guard.check(tp, o) for o in offsets]


def test_in_order_records_are_processed_and_move_the_expected_offset() -> None:
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("p", 5)
    assert run(g, [5, 6, 7]) == ["process"] * 3
    assert g.expected("p") == 8
    assert g.open_holes() == {}


def test_nothing_after_a_hole_is_processed_until_the_hole_is_filled() -> None:
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("p", 0)
    # 0..2 arrive, 3..5 are lost by the fetch loop, 6..9 were already fetched
    assert run(g, [0, 1, 2, 6, 7, 8, 9]) == ["process"] * 3 + ["seek"] + ["drop"] * 3
    assert g.open_holes() == {"p": 3}
    # the re-read after the seek back: everything again, in order
    assert run(g, [3, 4, 5, 6, 7, 8, 9]) == ["process"] * 7
    assert g.expected("p") == 10 and g.open_holes() == {}


def test_a_hole_that_comes_back_unchanged_is_accepted_after_the_retries() -> None:
    g: OffsetGuard[str] = OffsetGuard(max_retries=3)
    g.reset("p", 10)
    # offset 10 holds no record (a commit marker): every re-read starts at 11
    assert run(g, [11, 12, 11, 12, 11, 12, 11]) == [
        "seek", "drop", "seek", "drop", "seek", "drop", "accept",
    ]  # fmt: skip
    assert g.expected("p") == 12
    assert run(g, [12, 13]) == ["process", "process"]


def test_a_hole_that_shrinks_is_still_a_hole() -> None:
    g: OffsetGuard[str] = OffsetGuard(max_retries=3)
    g.reset("p", 0)
    assert run(g, [5, 3, 0, 1, 2, 3, 4, 5]) == ["seek", "seek"] + ["process"] * 6


def test_records_below_the_expected_offset_are_processed_as_before() -> None:
    """Redeliveries: the processor skips them by the subjects' stored offsets, or applies
    them as new after a topic reset; the guard does not change that."""
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("p", 50)
    assert run(g, [3, 49, 50]) == ["process"] * 3
    assert g.expected("p") == 51


def test_a_seek_resets_and_a_revocation_forgets() -> None:
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("p", 0)
    assert g.check("p", 4) == "seek"
    g.reset("p", 4)  # a rebalance sought it to its committed offset 4
    assert g.open_holes() == {} and g.check("p", 4) == "process"
    g.forget("p")
    assert g.expected("p") is None
    # unknown partition (no seek seen): the record sets where it continues
    assert run(g, [7, 8, 10]) == ["process", "process", "seek"]


def test_partitions_are_independent() -> None:
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("a", 0)
    g.reset("b", 0)
    assert g.check("a", 2) == "seek"
    assert run(g, [0, 1, 2], tp="b") == ["process"] * 3
    assert g.open_holes() == {"a": 0}


def test_stale_holes_are_offered_for_another_seek() -> None:
    g: OffsetGuard[str] = OffsetGuard()
    g.reset("a", 0)
    g.reset("b", 0)
    assert g.check("a", 3) == "seek"
    g.sought("a", now=100.0)
    assert g.stale(now=104.0, after=5.0) == []
    assert g.stale(now=105.0, after=5.0) == ["a"]
    assert g.check("a", 0) == "process"  # the hole is being filled: nothing stale
    assert g.stale(now=200.0, after=5.0) == []


def test_max_retries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_retries: must be >= 1"):
        OffsetGuard(max_retries=0)
