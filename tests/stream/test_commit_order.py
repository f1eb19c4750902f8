"""The state changelog is acknowledged before the offsets behind it are committed.

At-least-once needs that order: a worker killed after committing offsets whose states the
broker does not have leaves its successor a restored state older than the committed offset,
and the records in between are never applied (a day closes without its data). faust's commit
flushes its producer first, but its buffer of table writes gives up after 0.1 s without
progress, so the agent itself waits for every changelog write's acknowledgement
(``StateTable.take_sent``) before it releases offsets.

The test has a real broker refuse the changelog (its acknowledgement never comes) while
records flow, and checks from outside, at every poll, that no device partition's committed
offset covers a record whose subject's state in the changelog (read after the offsets) has
not applied it. It fails with the wait removed from ``agents.flush`` (checked by removing
it: "sim-001: partition 1 committed to 51, its record at offset 50 is not in the stored
state (1, 42)"). Merely slow acknowledgements (a Kafka client quota throttling the worker's
producer) were tried and did not tell the two apart reliably: faust's flush does wait for
what already reached the Kafka client, so only writes still in faust's own buffer can fall
behind a commit, and they leave it within a round trip once the client moves again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from stream_helpers import (
    Deployment,
    committed,
    group_report,
    read_topic,
    wait_for_group,
)
from test_faults import _messages, _valid_records, produce

from phenotyping.config import KafkaSettings
from phenotyping.kafkaio import client_options
from phenotyping.stream.codec import unpack_state

pytestmark = [pytest.mark.kafka]

PARTITIONS = 4


@dataclass(frozen=True)
class Produced:
    subject: str
    partition: int
    offset: int


def send(d: Deployment, msgs: list[Any]) -> list[Produced]:
    where = produce(d.kafka, d.names.device, _valid_records(msgs))
    return [Produced(m.subject_id, p, o) for m, (p, o) in zip(msgs, where, strict=True)]


def stored(d: Deployment) -> dict[str, tuple[int, int]]:
    """Subject -> (partition, offset of the last record applied) of its latest state in the
    changelog (what a successor would restore)."""
    out: dict[str, tuple[int, int]] = {}
    for c in sorted(read_topic(d.kafka, d.names.changelog), key=lambda c: c.offset):
        assert c.key is not None
        if c.value is None:
            out.pop(c.key.decode(), None)
            continue
        partition, offset, _ = unpack_state(c.value)
        out[c.key.decode()] = (partition, offset)
    return out


def ahead_of_changelog(d: Deployment, produced: list[Produced]) -> list[str]:
    """Records below a committed offset whose subject's stored state has not applied them.

    The committed offsets are read first and the changelog after, so a state acknowledged
    before a commit is always seen; an empty list means no commit runs ahead."""
    offsets = committed(d.kafka, d.names.device)
    states = stored(d)
    last: dict[str, Produced] = {}
    for r in produced:  # the last record of each subject below its partition's commit
        if r.offset < offsets.get(r.partition, 0):
            if r.subject not in last or r.offset > last[r.subject].offset:
                last[r.subject] = r
    bad = []
    for subject, r in sorted(last.items()):
        state = states.get(subject)
        if state is None or state[0] != r.partition or state[1] < r.offset:
            bad.append(
                f"{subject}: partition {r.partition} committed to {offsets[r.partition]}, "
                f"its record at offset {r.offset} is not in the stored state {state}"
            )
    return bad


def wait_until(
    what: str, done: Callable[[], bool], check: Callable[[], None], timeout: float
) -> None:
    """Poll ``done`` (bounded), running the invariant ``check`` on every round."""
    deadline = time.monotonic() + timeout
    rounds = 0
    try:
        while not done():
            check()
            rounds += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {rounds} rounds")
            time.sleep(0.5)
        check()
    except AssertionError as exc:
        raise AssertionError(f"waiting for {what}: {exc}") from None
    print(f"{what}: {rounds} rounds")


async def _alter_topic(kafka: KafkaSettings, topic: str, configs: dict[str, str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


def test_committed_offsets_never_run_ahead_of_the_changelog(
    deployment: Callable[..., Deployment],
) -> None:
    """One worker, the invariant checked at every poll while:

    1. the first quarter of a cohort is stored and committed normally;
    2. the broker then refuses every changelog write (the changelog topic's
       ``max.message.bytes`` set below a state's size: the acknowledgement never comes)
       while the rest is sent. No offset after the first quarter's may be committed; with
       nothing it can store, the agent fails and the worker exits (code 70) so that the
       group rebalances (docs/failure-modes.md, "No live, stalled member").

    Without the wait, faust commits the offsets anyway (its commit flushes the producer,
    and a failed write counts as flushed): the check fails within seconds.
    """
    d = deployment(partitions=PARTITIONS, state_flush_s=0.2, commit_interval_s=0.5)
    msgs = _messages()
    worker = d.worker()
    wait_for_group(d.kafka, 1)
    produced: list[Produced] = []

    def check() -> None:
        bad = ahead_of_changelog(d, produced)
        assert not bad, "committed ahead of the changelog:\n" + "\n".join(bad)

    def ends() -> dict[int, int]:
        out: dict[int, int] = {}
        for r in produced:
            out[r.partition] = max(out.get(r.partition, 0), r.offset + 1)
        return out

    def all_committed() -> bool:
        worker.check_alive()
        got = committed(d.kafka, d.names.device)
        return all(got.get(p, 0) >= end for p, end in ends().items())

    q = len(msgs) // 4
    produced += send(d, msgs[:q])
    wait_until("the first quarter's commit", all_committed, check, timeout=180)
    stored_ends = ends()

    asyncio.run(_alter_topic(d.kafka, d.names.changelog, {"max.message.bytes": "1024"}))
    produced += send(d, msgs[q:])

    def exited() -> bool:
        return worker.proc.poll() is not None

    try:
        wait_until("the worker's exit", exited, check, timeout=180)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {group_report(d.kafka, d.names.device)}") from None
    assert worker.proc.returncode == 70, worker.tail()
    assert "device agent crashed" in worker.text()
    after = committed(d.kafka, d.names.device)
    assert all(after.get(p, 0) <= end for p, end in stored_ends.items()), (after, stored_ends)
