"""``phenotyping worker`` whose faust fetch loop loses a run of records once (test only).

faust's fetch loop and its seek after a rebalance race each other: records fetched during
the restore can be dropped while later records of the same partition are delivered
(docs/failure-modes.md). This reproduces the effect deterministically: faust's
``Consumer.getmany`` (what the fetch loop iterates) leaves out the records of one device
partition at offsets ``FIRST..LAST`` the first time each is fetched; fetched again (after a
seek back) they are delivered. Everything else is the real worker on a real broker.

Usage: ``python tests/stream/hole_worker.py PARTITION FIRST LAST worker --loglevel info``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

from faust.transport.consumer import Consumer


def main() -> int:
    partition, first, last = (int(a) for a in sys.argv[1:4])
    original = Consumer.getmany
    lost: set[int] = set()

    async def getmany(self: Consumer, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        async for tp, message in original(self, timeout):
            if (
                tp.topic.endswith(".device")
                and tp.partition == partition
                and first <= message.offset <= last
                and message.offset not in lost
            ):
                lost.add(message.offset)
                print(f"hole_worker: dropped offset {message.offset}", flush=True)
                continue
            yield tp, message

    Consumer.getmany = getmany  # type: ignore[method-assign]
    from phenotyping.cli import main as cli

    return cli(sys.argv[4:])


if __name__ == "__main__":
    sys.exit(main())
