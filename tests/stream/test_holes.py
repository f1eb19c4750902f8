"""Stop at the hole (docs/failure-modes.md): no device record is processed, nor its offset
released, while an earlier offset of its partition has not been processed.

On a real broker with the real worker:

* ``test_records_the_fetch_loop_lost_are_read_again_in_order`` -- faust's fetch loop loses
  a run of 20 records of one partition once (``tests/stream/hole_worker.py``: what its
  fetch/seek race does after a rebalance, made deterministic) while the later records
  arrive. The agent must seek back and process them in order: every daily row and alert
  equals the in-process replay and every partition is committed to its end. Without the
  guard (``guard = None`` in ``agents.register``) it fails: the later records are applied
  over the hole, the lost ones are then skipped as redelivered, and faust's gap
  bookkeeping commits past them (a day closes without them: a row differs from the
  replay's).
* ``test_transaction_markers_are_accepted_holes`` -- records written by a transactional
  producer leave an offset per transaction that holds no record (the commit marker). The
  hole comes back unchanged; the agent accepts it after its bounded re-reads, logs it
  (offsets only) and nothing stalls.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from stream_helpers import Deployment, committed, wait_for_group
from subprocess_helpers import CliProcess
from test_faults import (
    Expected,
    _alive,
    _messages,
    _valid_records,
    produce,
    wait_no_stall,
    wait_outputs,
)

from phenotyping.events import AnyMessage
from phenotyping.kafkaio import client_options
from phenotyping.stream.codec import default_partition

pytestmark = [pytest.mark.kafka]

PARTITIONS = 4
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cohort() -> tuple[list[AnyMessage], Expected]:
    msgs = _messages()
    return msgs, Expected.of(msgs)


def hole_worker(d: Deployment, partition: int, first: int, last: int) -> CliProcess:
    """``phenotyping worker`` whose fetch loop loses ``partition``'s records at offsets
    ``first..last`` the first time it fetches them."""
    n = len(d.workers)
    env = {**d.env, "PHENOTYPING_KAFKA__DATA_DIR": str(d.workdir / f"worker{n}-data")}
    cmd = [sys.executable, str(HERE / "hole_worker.py"), str(partition), str(first), str(last)]
    w = CliProcess([*cmd, "worker", "--loglevel", "info"], env, d.workdir / f"worker{n}.log")
    d.workers.append(w)
    return w


def test_records_the_fetch_loop_lost_are_read_again_in_order(
    deployment: Callable[..., Deployment], cohort: tuple[list[AnyMessage], Expected]
) -> None:
    msgs, expected = cohort
    d = deployment(partitions=PARTITIONS)
    partition = default_partition(b"sim-001", PARTITIONS)  # the subject with alerts
    in_partition = sum(1 for m in msgs if m.subject_id == "sim-001")
    assert in_partition > 80, in_partition
    worker = hole_worker(d, partition, 40, 59)
    wait_for_group(d.kafka, 1)
    produce(d.kafka, d.names.device, _valid_records(msgs))
    alive = _alive(d.workers, allowed=())
    wait_outputs(d, expected, alive, timeout=180)
    wait_no_stall(d.kafka, d.names.device, alive, timeout=120)
    log = worker.text()
    assert log.count("hole_worker: dropped offset") == 20, "the fault was not injected"
    assert f"device partition {partition}: offset" in log and "seeking back" in log


async def _produce_in_transactions(
    d: Deployment, msgs: list[AnyMessage], n: int
) -> dict[int, int]:
    """``msgs`` in ``n`` committed transactions; partition -> offset after its last record
    (a partition's end offset is one more: the last commit marker)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        **client_options(d.kafka), transactional_id=f"{d.kafka.app_id}-test-tx"
    )
    await producer.start()
    try:
        records = _valid_records(msgs)
        step = -(-len(records) // n)
        ends: dict[int, int] = {}
        for i in range(0, len(records), step):
            async with producer.transaction():
                futs = [
                    await producer.send(d.names.device, value, key=key)
                    for key, value, _ in records[i : i + step]
                ]
            for meta in await asyncio.gather(*futs):
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        return ends
    finally:
        await producer.stop()


def test_transaction_markers_are_accepted_holes(
    deployment: Callable[..., Deployment], cohort: tuple[list[AnyMessage], Expected]
) -> None:
    msgs, expected = cohort
    d = deployment(partitions=PARTITIONS)
    worker = d.worker()
    wait_for_group(d.kafka, 1)
    ends = asyncio.run(_produce_in_transactions(d, msgs, 3))
    alive = _alive(d.workers, allowed=())
    wait_outputs(d, expected, alive, timeout=180)
    # every record's offset committed (not the partition's end: a marker that is a
    # partition's last offset has no record after it, and faust commits the offset after
    # the last record it was given, with or without the guard)
    deadline = time.monotonic() + 120
    while True:
        got = committed(d.kafka, d.names.device)
        if all(got.get(p, 0) >= end for p, end in ends.items()):
            break
        alive()
        assert time.monotonic() < deadline, f"a partition stalls: committed {got}, ends {ends}"
        time.sleep(1.0)
    text = worker.text()
    assert "did not come back after 3 re-reads" in text
    assert "transaction markers or deleted records" in text
