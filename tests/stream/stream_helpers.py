"""Helpers of the stream tests: isolated deployments, worker subprocesses, reading topics."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.errors import GroupCoordinatorNotAvailableError
from subprocess_helpers import CliProcess

from phenotyping.config import KafkaSettings
from phenotyping.kafkaio import TopicNames, client_options
from phenotyping.stream.codec import decode_record

REPO = Path(__file__).resolve().parent.parent.parent


_counter = itertools.count()


def next_tag() -> str:
    """A topic prefix / group id no other test (or earlier run on the same broker) uses."""
    return f"t{next(_counter)}-{os.getpid()}-{int(time.time() * 1000) % 10**8}"


@dataclass
class Deployment:
    """One isolated deployment on the shared broker: settings, environment, workers."""

    kafka: KafkaSettings
    env: dict[str, str]
    workdir: Path
    workers: list[CliProcess] = field(default_factory=list)
    publishers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, bootstrap: str, workdir: Path, **kafka: Any) -> Deployment:
        """A fresh isolated deployment on the broker at ``bootstrap`` (``host:port``): its
        own topic prefix and consumer group (topics created), settings ``kafka`` on top, a
        worker environment without the caller's ``PHENOTYPING_KAFKA__*``/``FEED__*``/
        ``CONFIG`` variables, and ``workdir/<tag>`` for its logs and data.

        The one place a test deployment is made: the ``deployment`` fixture
        (``tests/conftest.py``), the broker-restart fault test and
        ``benchmarks/hostile_producer.py`` all call it.
        """
        from phenotyping.config import load_settings
        from phenotyping.kafkaio import create

        tag = next_tag()
        values = {
            "broker": f"kafka://{bootstrap}",
            "topic_prefix": tag,
            "app_id": f"{tag}-app",
            "stats_interval_s": 1.0,
            **kafka,
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PHENOTYPING_KAFKA__", "PHENOTYPING_FEED__"))
            and k != "PHENOTYPING_CONFIG"
        }
        env.update({f"PHENOTYPING_KAFKA__{k.upper()}": str(v) for k, v in values.items()})
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        settings = load_settings(kafka=values)
        asyncio.run(create(settings.kafka))
        where = workdir / tag
        where.mkdir(parents=True)
        return cls(settings.kafka, env, where)

    @property
    def names(self) -> TopicNames:
        return TopicNames.from_settings(self.kafka)

    def worker(self, **extra_env: str) -> CliProcess:
        """Start ``phenotyping worker`` as a subprocess."""
        n = len(self.workers)
        env = {**self.env, **{f"PHENOTYPING_KAFKA__{k.upper()}": v for k, v in extra_env.items()}}
        env.setdefault("PHENOTYPING_KAFKA__DATA_DIR", str(self.workdir / f"worker{n}-data"))
        log = self.workdir / f"worker{n}.log"
        w = CliProcess.phenotyping(["worker", "--loglevel", "info"], env, log)
        self.workers.append(w)
        return w

    def replay(self, paths: list[Path], *extra: str) -> subprocess.Popen[bytes]:
        """``phenotyping replay PATHS --broker URL`` as a subprocess (not waited for)."""
        cmd = [sys.executable, "-m", "phenotyping.cli", "replay", *map(str, paths)]
        cmd += ["--broker", self.kafka.broker, "-q", *extra]
        proc = subprocess.Popen(
            cmd, env=self.env, cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.publishers.append(proc)
        return proc

    def close(self) -> None:
        """Stop every process this deployment started and close their pipes."""
        for w in self.workers:
            w.stop()
        for p in self.publishers:
            if p.poll() is None:
                p.kill()
            p.communicate()


# --------------------------------------------------------------------------- reading topics
@dataclass(frozen=True)
class Consumed:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def record(self) -> dict[str, Any]:
        assert self.value is not None
        return decode_record(self.value)


async def _read_all(kafka: KafkaSettings, topic: str, committed_only: bool) -> list[Consumed]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed_only else "read_uncommitted",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[Consumed] = []
        remaining = {tp for tp in parts if ends[tp] > 0}
        idle = 0
        while remaining and idle < 10:  # bounded: 10 empty polls end it
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for tp, recs in batch.items():
                for r in recs:
                    out.append(
                        Consumed(tp.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                    )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


def read_topic(kafka: KafkaSettings, topic: str, *, committed_only: bool = False) -> list[Consumed]:
    """Every record currently in ``topic`` (all partitions)."""
    return asyncio.run(_read_all(kafka, topic, committed_only))


def wait_for_ids(
    kafka: KafkaSettings,
    topic: str,
    ids: set[str],
    *,
    key: str = "id",
    timeout: float = 150.0,
    alive: Callable[[], None] | None = None,
    committed_only: bool = False,
) -> list[Consumed]:
    """Poll ``topic`` until every id in ``ids`` is there (bounded); return all its records."""
    deadline = time.monotonic() + timeout
    while True:
        got = read_topic(kafka, topic, committed_only=committed_only)
        seen = {c.record()[key] for c in got}
        if ids <= seen:
            return got
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            missing = sorted(ids - seen)
            raise AssertionError(f"{len(missing)} of {len(ids)} ids missing, e.g. {missing[:5]}")
        time.sleep(0.5)


async def _produce(
    kafka: KafkaSettings, topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**client_options(kafka), acks="all", max_request_size=4_000_000)
    await producer.start()
    try:
        futs = [await producer.send(topic, value, key=key) for key, value in records]
        await producer.flush()
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


def produce(
    kafka: KafkaSettings, topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> None:
    """Send ``(key, value)`` records in order (default partitioner: by key)."""
    asyncio.run(_produce(kafka, topic, records))


async def _group(kafka: KafkaSettings, group: str) -> tuple[str, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        found = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    g = found[0].to_object()["groups"][0]
    return str(g["state"]), len(g["members"])


def wait_for_group(kafka: KafkaSettings, members: int, timeout: float = 90.0) -> None:
    """Wait (bounded) until the workers' consumer group is stable with ``members``."""
    deadline = time.monotonic() + timeout
    state: tuple[str, int] = ("", 0)
    while time.monotonic() < deadline:
        try:
            state = asyncio.run(_group(kafka, kafka.app_id))
        except GroupCoordinatorNotAvailableError:  # a fresh broker creates __consumer_offsets
            state = ("no coordinator yet", 0)
        if state == ("Stable", members):
            return
        time.sleep(0.5)
    raise AssertionError(f"consumer group not stable with {members} members: {state}")


async def committed_async(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(kafka.app_id)
    finally:
        await admin.close()
    return {tp.partition: m.offset for tp, m in got.items() if tp.topic == topic and m.offset >= 0}


def committed(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """Partition of ``topic`` -> the workers' committed offset (uncommitted ones left out)."""
    return asyncio.run(committed_async(kafka, topic))


async def _group_report(kafka: KafkaSettings, topic: str) -> str:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        found = await admin.describe_consumer_groups([kafka.app_id])
        committed = await admin.list_consumer_group_offsets(kafka.app_id)
    finally:
        await admin.close()
    g = found[0].to_object()["groups"][0]
    consumer = AIOKafkaConsumer(**client_options(kafka), group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    offsets = ", ".join(
        f"{tp.partition}: {committed[tp].offset if tp in committed else '-'}/{ends[tp]}"
        for tp in parts
    )
    members = ", ".join(m["client_id"] for m in g["members"]) or "none"
    return f"group {g['state']} (members: {members}); committed/end {offsets}"


def group_report(kafka: KafkaSettings, topic: str) -> str:
    """One line for a failure message: the workers' consumer group state and members, and
    per partition of ``topic`` the committed offset (``-``: none) and the end offset."""
    try:
        return asyncio.run(_group_report(kafka, topic))
    except Exception as exc:  # a diagnostic must not hide the failure it explains
        return f"group report failed ({type(exc).__name__}: {exc})"
