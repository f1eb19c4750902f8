"""``RewindingConsumer``: after a rebalance, a source partition with no committed offset is
read from its beginning (the successor stall of docs/failure-modes.md).

A unit test of the rule on faust's real consumer class, with its consumer thread (the
aiokafka side) replaced by a recorder: which partitions are sent back to their beginning,
and that faust still gets the committed offsets it asked for. The end-to-end scenario
(kill -9 before the first commit, then a successor) is ``tests/stream/successor_stall.py``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from phenotyping.stream.agents import RewindingConsumer
from phenotyping.stream.holes import OffsetGuard

DEVICE = "demo.device"
CHANGELOG = "demo-subject_state-changelog"


class Thread:
    """The consumer thread's two calls, recorded."""

    def __init__(
        self, committed: dict[TP, int | None], positions: dict[TP, int] | None = None
    ) -> None:
        self.committed = committed
        self.positions = positions or {}  # fetch positions (default: past a start of 0)
        self.rewound: list[TP] = []

    starts: dict[TP, int] = {}  # log start offsets (default 0)

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.starts.get(tp, 0) for tp in tps}

    async def position(self, tp: TP) -> int:
        return self.positions.get(tp, 50)

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek_to_beginning(self, *tps: TP) -> None:
        self.rewound += tps


def seek(
    committed: dict[TP, int | None],
    positions: dict[TP, int] | None = None,
    starts: dict[TP, int] | None = None,
) -> tuple[Any, list[TP], OffsetGuard[TP]]:
    consumer = object.__new__(RewindingConsumer)  # no transport, no threads: the rule only
    thread = Thread(committed, positions)
    thread.starts = starts or {}
    consumer._thread = thread
    consumer.guard = OffsetGuard()
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acking_topics={DEVICE}))
    got = asyncio.run(consumer.seek_to_committed())
    return got, thread.rewound, consumer.guard


def test_uncommitted_source_partitions_go_back_to_their_beginning() -> None:
    committed = {
        TP(DEVICE, 0): None,  # never committed: the successor-stall case
        TP(DEVICE, 1): 0,  # committed at 0: aiokafka does not seek that either
        TP(DEVICE, 2): 17,  # committed: aiokafka seeks it, left alone here
        TP(CHANGELOG, 0): None,  # a changelog: faust seeks those itself while restoring
    }
    got, rewound, _ = seek(committed)
    assert sorted(rewound) == [TP(DEVICE, 0), TP(DEVICE, 1)]
    assert got == committed  # faust's perform_seek gets what aiokafka answered


def test_nothing_moves_when_every_source_partition_has_a_commit() -> None:
    got, rewound, _ = seek({TP(DEVICE, 0): 5, TP(DEVICE, 1): 98, TP(CHANGELOG, 1): None})
    assert rewound == []
    assert got[TP(DEVICE, 1)] == 98


def test_a_partition_not_read_past_its_start_is_not_moved() -> None:
    """A fresh worker's partitions sit at their start: a seek there would change nothing
    and open faust's fetch/seek race for no gain."""
    got, rewound, _ = seek({TP(DEVICE, 0): None, TP(DEVICE, 1): None}, {TP(DEVICE, 0): 0})
    assert rewound == [TP(DEVICE, 1)]


def test_the_seek_sets_where_each_source_partition_must_continue() -> None:
    """Stop at the hole: the agent may process a partition's records only from the
    committed offset on, or from the partition's start when nothing is committed (or the
    commit lies below the start: records deleted by retention)."""
    _, _, guard = seek(
        {TP(DEVICE, 0): None, TP(DEVICE, 1): 17, TP(DEVICE, 2): 3, TP(CHANGELOG, 0): 5},
        starts={TP(DEVICE, 0): 4, TP(DEVICE, 2): 9},
    )
    assert guard.expected(TP(DEVICE, 0)) == 4
    assert guard.expected(TP(DEVICE, 1)) == 17
    assert guard.expected(TP(DEVICE, 2)) == 9
    assert guard.expected(TP(CHANGELOG, 0)) is None  # not a source: faust's own business
