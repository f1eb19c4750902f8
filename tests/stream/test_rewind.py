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

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: 0 for tp in tps}

    async def position(self, tp: TP) -> int:
        return self.positions.get(tp, 50)

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek_to_beginning(self, *tps: TP) -> None:
        self.rewound += tps


def seek(
    committed: dict[TP, int | None], positions: dict[TP, int] | None = None
) -> tuple[Any, list[TP]]:
    consumer = object.__new__(RewindingConsumer)  # no transport, no threads: the rule only
    thread = Thread(committed, positions)
    consumer._thread = thread
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acking_topics={DEVICE}))
    got = asyncio.run(consumer.seek_to_committed())
    return got, thread.rewound


def test_uncommitted_source_partitions_go_back_to_their_beginning() -> None:
    committed = {
        TP(DEVICE, 0): None,  # never committed: the successor-stall case
        TP(DEVICE, 1): 0,  # committed at 0: aiokafka does not seek that either
        TP(DEVICE, 2): 17,  # committed: aiokafka seeks it, left alone here
        TP(CHANGELOG, 0): None,  # a changelog: faust seeks those itself while restoring
    }
    got, rewound = seek(committed)
    assert sorted(rewound) == [TP(DEVICE, 0), TP(DEVICE, 1)]
    assert got == committed  # faust's perform_seek gets what aiokafka answered


def test_nothing_moves_when_every_source_partition_has_a_commit() -> None:
    got, rewound = seek({TP(DEVICE, 0): 5, TP(DEVICE, 1): 98, TP(CHANGELOG, 1): None})
    assert rewound == []
    assert got[TP(DEVICE, 1)] == 98


def test_a_partition_not_read_past_its_start_is_not_moved() -> None:
    """A fresh worker's partitions sit at their start: a seek there would change nothing
    and open faust's fetch/seek race for no gain."""
    got, rewound = seek({TP(DEVICE, 0): None, TP(DEVICE, 1): None}, {TP(DEVICE, 0): 0})
    assert rewound == [TP(DEVICE, 1)]
