"""The state changelog is acknowledged before the offsets behind it are committed.

At-least-once needs that order: a worker killed after committing offsets whose states the
broker does not have leaves its successor a restored state older than the committed offset,
and the records in between are never applied (a day closes without its data). faust's commit
flushes its producer first, but its buffer of table writes gives up after 0.1 s without
progress, so the agent itself waits for every changelog write's acknowledgement
(``StateTable.take_sent``) before it releases offsets.

These tests hold a real broker's changelog acknowledgements back while records flow, and
check from outside, at every poll, that no device partition's committed offset covers a
record whose subject's state in the changelog (read after the offsets) has not applied it.
Each test fails with the wait removed from ``agents.flush`` (checked by removing it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from stream_helpers import Deployment, group_report, read_topic, wait_for_group
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


async def _committed(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(kafka.app_id)
    finally:
        await admin.close()
    return {tp.partition: m.offset for tp, m in got.items() if tp.topic == topic and m.offset >= 0}


def committed(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """Device partition -> committed offset (partitions without a commit left out)."""
    return asyncio.run(_committed(kafka, topic))


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
    while not done():
        check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)
    check()


async def _alter_topic(kafka: KafkaSettings, topic: str, configs: dict[str, str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


def test_a_changelog_the_broker_refuses_is_never_committed_past(
    deployment: Callable[..., Deployment],
) -> None:
    """The broker stops acknowledging the state changelog (it refuses every write: its
    topic's ``max.message.bytes`` set below a state's size) while records keep coming. The
    worker must not commit a single offset whose state the broker refused; with nothing it
    can store, its agent fails and the worker exits (code 70) so that the group rebalances
    (docs/failure-modes.md, "No live, stalled member")."""
    d = deployment(partitions=PARTITIONS, state_flush_s=0.2, commit_interval_s=0.5)
    msgs = _messages()
    worker = d.worker()
    wait_for_group(d.kafka, 1)
    head = msgs[: len(msgs) // 4]
    produced = send(d, head)
    ends: dict[int, int] = {}
    for r in produced:
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)

    def check() -> None:
        bad = ahead_of_changelog(d, produced)
        assert not bad, "committed ahead of the changelog:\n" + "\n".join(bad)

    def head_committed() -> bool:  # the first quarter is stored and committed normally
        worker.check_alive()
        got = committed(d.kafka, d.names.device)
        return all(got.get(p, 0) >= end for p, end in ends.items())

    wait_until("the first records' commit", head_committed, check, timeout=180)
    asyncio.run(_alter_topic(d.kafka, d.names.changelog, {"max.message.bytes": "1024"}))
    produced += send(d, msgs[len(head) :])
    try:
        wait_until("the worker's exit", lambda: worker.proc.poll() is not None, check, 180)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {group_report(d.kafka, d.names.device)}") from None
    assert worker.proc.returncode == 70, worker.tail()
    assert "device agent crashed" in worker.text()
    # and nothing moved on since: no state after the first quarter was stored, so no
    # offset after it may be committed
    check()
    after = committed(d.kafka, d.names.device)
    assert all(after.get(p, 0) <= end for p, end in ends.items()), (after, ends)
