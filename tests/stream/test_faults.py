"""Fault injection against a real Kafka 4.4.0 broker (issue 11, item 5).

Pass, for every fault: every valid record's outputs equal the in-process replay by id, every
bad record is in the dead-letter topic with its reason, no partition stalls (the workers'
committed offsets reach the end of every device partition), and no worker's memory runs away
(RSS bound). Each wait is bounded and polls for what it expects; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from stream_helpers import (
    Deployment,
    committed_async,
    group_report,
    read_topic,
    wait_for_group,
)
from subprocess_helpers import CliProcess as Worker

from phenotyping.events import AnyMessage, RecordingEnd, encode
from phenotyping.kafkaio import client_options
from phenotyping.pipeline import Pipeline, StepOutput
from phenotyping.simulate import CohortSpec, Deterioration, simulate
from phenotyping.stream.codec import decode_record, default_partition, encode_record

pytestmark = [pytest.mark.kafka]

PARTITIONS = 4
#: A worker's resident memory must stay below this whatever arrives (a faust worker with
#: its tables is ~150-250 MB; before the time window one stray message cost 676 MB).
RSS_LIMIT_MB = 600


# --------------------------------------------------------------------------- the data
def _messages() -> list[AnyMessage]:
    """Three simulated subjects over seven weeks (one deteriorating: alerts), then a
    RecordingEnd each, as the replay publisher sends them."""
    spec = CohortSpec(
        n_subjects=3,
        days=49,
        seed=11,
        rr=False,
        deteriorate={"sim-001": Deterioration(day=30, activity_factor=0.55, shift_min=150)},
    )
    msgs: list[AnyMessage] = list(simulate(spec))
    last: dict[str, tuple[Any, int]] = {}
    for m in msgs:
        end = m.span()[1]
        if m.subject_id not in last or end > last[m.subject_id][0]:
            last[m.subject_id] = (end, m.tz_offset_min)
    for subject, (at, tz) in sorted(last.items()):
        msgs.append(
            RecordingEnd(
                event_id=f"end:{subject}", subject_id=subject, source="t", tz_offset_min=tz, at=at
            )
        )
    return msgs


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    return decode_record(encode_record(rec))


@dataclass
class Expected:
    features: dict[str, dict[str, Any]]
    alerts: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, msgs: list[AnyMessage]) -> Expected:
        pipe = Pipeline()
        out = StepOutput()
        for m in msgs:
            out.extend(pipe.process(m))
        return cls(
            {f"{r['subject_id']}:{r['date']}": _plain(r) for r in out.daily},
            {a["alert_id"]: _plain(a) for a in out.alerts},
        )


@pytest.fixture(scope="module")
def valid() -> tuple[list[AnyMessage], Expected]:
    msgs = _messages()
    expected = Expected.of(msgs)
    assert expected.alerts, "the cohort must raise alerts"
    return msgs, expected


# --------------------------------------------------------------------------- hostile records
@dataclass(frozen=True)
class Bad:
    key: bytes | None
    value: bytes | None
    partition: int | None  # None: the default partitioner's
    reason: str


def _hostile(msgs: list[AnyMessage], n: int) -> list[Bad]:
    """``n`` hostile records: a poison of every message type and every reason the worker
    knows, cycled with varying content."""
    seen_subject = msgs[0].subject_id
    base = {"subject_id": seen_subject, "source": "t", "tz_offset_min": 60}
    by_type: dict[str, dict[str, Any]] = {
        "activity": {**base, "type": "activity", "start": "2024-01-02T00:00:00+01:00",
                     "epoch_s": 60, "counts": [1.0, 2.0]},
        "heartbeat": {**base, "type": "heartbeat", "first_beat": "2024-01-02T01:00:00Z",
                      "rr_ms": [800.0, 810.0]},
        "sleep": {**base, "type": "sleep", "start": "2024-01-02T23:00:00Z",
                  "end": "2024-01-03T07:00:00Z", "is_main_sleep": True},
        "clinical": {**base, "type": "clinical", "at": "2024-01-02T10:00:00Z",
                     "kind": "self_report", "instrument": "PHQ-9", "score": 9},
        "recording_end": {**base, "type": "recording_end", "at": "2024-01-03T00:00:00Z"},
    }
    templates: list[Callable[[int], Bad]] = []
    for kind, doc in sorted(by_type.items()):
        key = seen_subject.encode()

        def poison(i: int, doc: dict[str, Any] = doc, key: bytes = key, kind: str = kind) -> Bad:
            # every variant for every type (``i % 6`` alone would pair each type with one
            # variant, since the type's template is picked by ``i % len(templates)``)
            variant = (i // len(templates)) % 6
            d = dict(doc, event_id=f"bad-{i}")
            if variant == 0:
                d["version"] = 9
                return Bad(key, orjson.dumps(d), None, "unknown_version")
            if variant == 1:
                d["type"] = [kind]
                return Bad(key, orjson.dumps(d), None, "schema")
            if variant == 2:
                for f in ("start", "first_beat", "at"):
                    if f in d:
                        d[f] = "9999-12-31T23:59:00+00:00"
                if "end" in d:
                    d["end"] = "9999-12-31T23:59:30+00:00"
                return Bad(key, orjson.dumps(d), None, "schema")
            if variant == 3:
                d["type"] = f"{kind}-v2"
                return Bad(key, orjson.dumps(d), None, "unknown_type")
            if variant == 4:
                return Bad(key, orjson.dumps(d)[: 10 + i % 40], None, "undecodable")
            d["tz_offset_min"] = 10_000 + i
            return Bad(key, orjson.dumps(d), None, "schema")

        templates.append(poison)

    act = next(m for m in msgs if m.type == "activity" and m.subject_id == seen_subject)
    act_doc = orjson.loads(encode(act))
    home = default_partition(seen_subject.encode(), PARTITIONS)

    def huge_count(i: int) -> Bad:
        d = dict(act_doc, event_id=f"bad-{i}", counts=[1e308] * 3)
        d.pop("steps", None)
        return Bad(seen_subject.encode(), orjson.dumps(d), None, "schema")

    def far_ahead(i: int) -> Bad:  # valid on its own, years after the subject's data
        d = dict(act_doc, event_id=f"bad-{i}", start=f"{2025 + i % 3}-06-01T00:00:00+00:00")
        return Bad(seen_subject.encode(), orjson.dumps(d), None, "time_window")

    def misrouted(i: int) -> Bad:  # a copy of a valid record, on the wrong partition
        return Bad(seen_subject.encode(), encode(act), (home + 1 + i % 3) % PARTITIONS, "misrouted")

    def wrong_key(i: int) -> Bad:
        return Bad(f"intruder-{i % 7}".encode(), encode(act), None, "key_mismatch")

    def garbage(i: int) -> Bad:
        return Bad(b"x", bytes((i * 37 + k) % 256 for k in range(1 + i % 50)), None, "undecodable")

    def tombstone(i: int) -> Bad:
        return Bad(seen_subject.encode(), None, None, "undecodable")

    def oversized(i: int) -> Bad:
        return Bad(b"x", b'{"type":"activity","pad":"' + b"x" * 250_000 + b'"}', None, "oversized")

    templates += [huge_count, far_ahead, misrouted, wrong_key, garbage, tombstone, oversized]
    return [templates[i % len(templates)](i) for i in range(n)]


# --------------------------------------------------------------------------- Kafka helpers
@dataclass(frozen=True)
class Sent:
    partition: int
    offset: int
    bad: Bad | None


async def _produce_async(
    kafka: Any, topic: str, records: list[tuple[bytes | None, bytes | None, int | None]]
) -> list[tuple[int, int]]:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        **client_options(kafka), acks="all", max_request_size=1_000_000, linger_ms=5
    )
    await producer.start()
    try:
        futs = [
            await producer.send(topic, value, key=key, partition=part)
            for key, value, part in records
        ]
        await producer.flush()
        metas = await asyncio.gather(*futs)
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in metas]


def produce(
    kafka: Any, topic: str, records: list[tuple[bytes | None, bytes | None, int | None]]
) -> list[tuple[int, int]]:
    return asyncio.run(_produce_async(kafka, topic, records))


def _valid_records(msgs: list[AnyMessage]) -> list[tuple[bytes | None, bytes | None, int | None]]:
    return [(m.subject_id.encode(), encode(m), None) for m in msgs]


async def _lag(kafka: Any, topic: str) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    done = await committed_async(kafka, topic)
    consumer = AIOKafkaConsumer(**client_options(kafka), group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    return {tp.partition: ends[tp] - done.get(tp.partition, 0) for tp in parts}


def wait_no_stall(kafka: Any, topic: str, alive: Callable[[], None], timeout: float = 120) -> None:
    """Every device partition's committed offset reaches its end (bounded)."""
    deadline = time.monotonic() + timeout
    lag: dict[int, int] = {}
    while time.monotonic() < deadline:
        lag = asyncio.run(_lag(kafka, topic))
        if not any(lag.values()):
            return
        alive()
        time.sleep(1.0)
    raise AssertionError(f"a partition stalls: uncommitted records per partition {lag}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def diagnosis(d: Deployment) -> str:
    """What a stalled or lossy run needs to explain itself: the group (state, members,
    committed/end offsets per device partition) and every worker's last log lines."""
    parts = [group_report(d.kafka, d.names.device)]
    for w in d.workers:
        code = w.proc.poll()
        parts.append(f"--- {w.name} ({'alive' if code is None else f'exit {code}'}):")
        lines = w.text().splitlines()
        parts += [ln for ln in lines[:-5] if any(m in ln for m in MILESTONES)][-30:]
        parts += lines[-5:]
    return "\n".join(parts)


#: Worker log lines that tell a rebalance's story (group generation, assignment, restore,
#: the seek to the committed offsets, readiness) and any crash.
MILESTONES = (
    "Joined group",
    "generation",
    "Restoring state",
    "Seek stream partitions",
    "without a committed offset",
    "Worker ready",
    "crashed",
    "ERROR",
    "CRITICAL",
)


def wait_outputs(
    d: Deployment, expected: Expected, alive: Callable[[], None], timeout: float = 240
) -> None:
    """Poll the output topics until every expected id is there; then every copy of every
    row and alert must equal the in-process one."""
    deadline = time.monotonic() + timeout
    while True:
        rows = read_topic(d.kafka, d.names.features)
        alerts = read_topic(d.kafka, d.names.alerts)
        got_rows = {c.record()["id"] for c in rows}
        got_alerts = {c.record()["alert_id"] for c in alerts}
        if set(expected.features) <= got_rows and set(expected.alerts) <= got_alerts:
            break
        alive()
        if time.monotonic() > deadline:
            missing = sorted(set(expected.features) - got_rows)
            raise AssertionError(
                f"{len(missing)} of {len(expected.features)} daily rows missing after "
                f"{timeout:.0f} s, e.g. {missing[:5]}\n{diagnosis(d)}"
            )
        time.sleep(1.0)
    for c in rows:
        rec = c.record()
        rid = rec.pop("id")
        assert rid in expected.features, f"unexpected row {rid}"
        assert rec == expected.features[rid], rid
    for c in alerts:
        rec = c.record()
        assert rec == expected.alerts[rec["alert_id"]]


def _alive(workers: list[Worker], allowed: tuple[int, ...] = (-9,)) -> Callable[[], None]:
    def check() -> None:
        for w in workers:
            if w.proc.poll() is not None and w.proc.returncode not in allowed:
                raise AssertionError(f"a worker exited ({w.proc.returncode}):\n{w.tail()}")

    return check


# --------------------------------------------------------------------------- the faults
def test_hostile_producer_and_a_poison_of_every_type(
    deployment: Callable[..., Deployment], valid: tuple[list[AnyMessage], Expected]
) -> None:
    """2,000 hostile records mixed into a valid cohort: the valid outputs are exact, every
    bad record is dead-lettered with its reason, nothing stalls, memory stays bounded."""
    msgs, expected = valid
    d = deployment(partitions=PARTITIONS, max_message_bytes=200_000)
    worker = d.worker()
    wait_for_group(d.kafka, 1)
    alive = _alive(d.workers, allowed=())
    good = _valid_records(msgs)
    bad = _hostile(msgs, 2000)
    # the first tenth of the cohort first (every subject has data), then the mix
    head = len(good) // 10
    mixed: list[tuple[tuple[bytes | None, bytes | None, int | None], Bad | None]] = [
        (r, None) for r in good[:head]
    ]
    rest = good[head:]
    step = max(1, len(bad) // max(1, len(rest)))
    bi = 0
    for r in rest:
        for b in bad[bi : bi + step]:
            mixed.append(((b.key, b.value, b.partition), b))
        bi += step
        mixed.append((r, None))
    mixed += [((b.key, b.value, b.partition), b) for b in bad[bi:]]
    where = produce(d.kafka, d.names.device, [r for r, _ in mixed])
    sent = [Sent(p, o, b) for (p, o), (_, b) in zip(where, mixed, strict=True)]

    wait_outputs(d, expected, alive)
    wait_no_stall(d.kafka, d.names.device, alive)
    dead = {}
    for c in read_topic(d.kafka, d.names.dead_letter):
        rec = c.record()
        dead.setdefault((rec["source"]["partition"], rec["source"]["offset"]), set()).add(
            rec["reason"]
        )
    missing = [s for s in sent if s.bad is not None and s.bad.reason not in dead.get(
        (s.partition, s.offset), set()
    )]
    assert not missing, f"{len(missing)} bad records without their dead letter, e.g. {missing[0]}"
    for s in sent:
        if s.bad is None:  # a valid record is never dead-lettered except as late data
            assert dead.get((s.partition, s.offset), set()) <= {"late_data"}
    reasons = Counter(s.bad.reason for s in sent if s.bad is not None)
    assert {"misrouted", "time_window", "schema", "undecodable", "oversized"} <= set(reasons)
    rss = rss_mb(worker.proc.pid)
    n_bad = sum(reasons.values())
    print(f"\nhostile mix: {n_bad} bad records {dict(reasons)}; worker RSS {rss:.0f} MB")
    assert rss < RSS_LIMIT_MB
    assert worker.proc.poll() is None


def test_kill_9_during_a_rebalance_loses_nothing(
    deployment: Callable[..., Deployment], valid: tuple[list[AnyMessage], Expected]
) -> None:
    msgs, expected = valid
    d = deployment(partitions=PARTITIONS)
    first = d.worker()
    wait_for_group(d.kafka, 1)
    produce(d.kafka, d.names.device, _valid_records(msgs[: len(msgs) // 2]))
    deadline = time.monotonic() + 120
    while not read_topic(d.kafka, d.names.features) and time.monotonic() < deadline:
        time.sleep(0.5)
    second = d.worker()  # joining starts a rebalance ...
    deadline = time.monotonic() + 60
    while "Assigned" not in second.text() and "rebalanc" not in second.text().lower():
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    before = group_report(d.kafka, d.names.device)
    first.kill9()  # ... and the member that holds the partitions dies in the middle of it
    produce(d.kafka, d.names.device, _valid_records(msgs[len(msgs) // 2 :]))
    alive = _alive(d.workers)
    try:
        wait_outputs(d, expected, alive, timeout=300)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nbefore the kill: {before}") from None
    wait_no_stall(d.kafka, d.names.device, alive, timeout=120)
    assert second.proc.poll() is None
    assert rss_mb(second.proc.pid) < RSS_LIMIT_MB
    # the killed member left no duplicates that differ: wait_outputs compared every copy


# --------------------------------------------------------------------------- broker restart
@pytest.fixture
def own_broker(tmp_path: Path, broker: str) -> Iterator[Any]:
    """A broker of its own (``KafkaBroker`` in a directory it keeps across a stop), so it
    can be stopped and started again with its data; the session broker is shared by every
    other test. Depends on the session broker only to be skipped/failed with it (Java,
    Maven present)."""
    from kafka_broker import KafkaBroker

    b = KafkaBroker(workdir=tmp_path / "kafka", use_env=False)
    b.start()
    try:
        yield b
    finally:
        try:
            b.stop()
        finally:
            shutil.rmtree(tmp_path / "kafka", ignore_errors=True)


def test_broker_restart_mid_stream_loses_nothing(
    own_broker: Any, tmp_path: Path, valid: tuple[list[AnyMessage], Expected]
) -> None:
    """The broker stops mid-stream and comes back: nothing is lost. A worker may exit while
    the broker is away (crash-only: it never stays as a stalled member); like compose's
    `restart: unless-stopped`, the test starts a new one when it does."""
    msgs, expected = valid
    d = Deployment.create(own_broker.bootstrap_servers, tmp_path, partitions=PARTITIONS)
    try:
        d.worker()
        wait_for_group(d.kafka, 1)
        half = len(msgs) // 2
        produce(d.kafka, d.names.device, _valid_records(msgs[:half]))
        deadline = time.monotonic() + 120
        while not read_topic(d.kafka, d.names.features) and time.monotonic() < deadline:
            time.sleep(0.5)
        own_broker.stop(keep_data=True)
        time.sleep(3)  # a gap the clients notice (not a correctness condition)
        own_broker.start(fresh=False)
        produce(d.kafka, d.names.device, _valid_records(msgs[half:]))

        def supervise() -> None:  # compose's restart policy, bounded
            w = d.workers[-1]
            if w.proc.poll() is not None:
                assert len(d.workers) < 6, f"workers keep exiting:\n{w.tail()}"
                d.worker()

        wait_outputs(d, expected, supervise, timeout=300)
        wait_no_stall(d.kafka, d.names.device, supervise, timeout=120)
        last = d.workers[-1]
        assert last.proc.poll() is None
        assert rss_mb(last.proc.pid) < RSS_LIMIT_MB
        print(f"\nbroker restart: {len(d.workers)} worker process(es) used")
    finally:
        d.close()


def test_sigterm_stops_a_worker_within_its_grace(
    deployment: Callable[..., Deployment],
) -> None:
    """SIGTERM never hangs: even with the broker unreachable for the worker's whole stop,
    the watchdog ends the process within stop_grace_s (plus start-up slack)."""
    d = deployment(stop_grace_s=5.0)
    w = d.worker()
    wait_for_group(d.kafka, 1)
    t0 = time.monotonic()
    w.proc.send_signal(15)
    w.proc.wait(60)
    assert time.monotonic() - t0 < 60
    assert w.proc.returncode is not None
