"""Stream throughput on a real Kafka broker: the ceiling, the framework floor, our worker.

    .venv/bin/python benchmarks/stream_throughput.py            # starts a broker (deploy/kafka)
    .venv/bin/python benchmarks/stream_throughput.py --broker 127.0.0.1:9092

All numbers come from one run on one broker. Two workloads are pre-loaded into fresh topics
(50 subjects, keyed by subject_id, 4 partitions): single-sample activity messages (one
minute each) and day-sized batch messages (1,440 minutes each). Each is consumed by

(a) a raw aiokafka consumer that decodes every message (``phenotyping.events.decode``): the
    ceiling;
(b) a bare faust agent that only decodes, consuming exactly like our worker
    (``stream.take_events`` batches, same buffer and fetch settings): the framework floor;
(c) our worker (``phenotyping.stream.app.build_app``: decode, pipeline step, state table,
    outputs), in its own process like ``phenotyping worker``.

Rates are messages (samples) over the time from the first consumed batch to the last, so
start-up and group joins are excluded. Then, with our worker running, day messages are
offered at half its measured capacity and the event-to-output latency of every daily row
(the row's arrival at a consumer minus the timestamp of the device record that closed the
day) gives p50/p99. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "stream"))

SUBJECTS = 50
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- workloads
def single_messages(n: int) -> list[tuple[bytes, bytes]]:
    """``n`` one-minute activity messages, round-robin over the subjects."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 400, n)
    out = []
    for i in range(n):
        s, minute = i % SUBJECTS, i // SUBJECTS
        subject = f"bench-{s:03d}"
        t = START + dt.timedelta(minutes=minute)
        doc = {
            "type": "activity",
            "version": 1,
            "event_id": f"a:{s}:{minute}",
            "subject_id": subject,
            "source": "bench",
            "tz_offset_min": 0,
            "start": t.isoformat(),
            "epoch_s": 60,
            "counts": [float(counts[i])],
        }
        out.append((subject.encode(), orjson.dumps(doc)))
    return out


def day_messages(days: int, first_day: int = 0) -> list[tuple[bytes, bytes]]:
    """One 1,440-minute message per subject and day, day after day."""
    rng = np.random.default_rng(1)
    minute = np.arange(1440)
    profile = np.where((minute > 420) & (minute < 1380), 250.0, 5.0)
    out = []
    for d in range(first_day, first_day + days):
        for s in range(SUBJECTS):
            subject = f"bench-{s:03d}"
            counts = np.round(profile * rng.gamma(2.0, 0.5, 1440))
            doc = {
                "type": "activity",
                "version": 1,
                "event_id": f"d:{s}:{d}",
                "subject_id": subject,
                "source": "bench",
                "tz_offset_min": 0,
                "start": (START + dt.timedelta(days=d)).isoformat(),
                "epoch_s": 60,
                "counts": counts.tolist(),
            }
            out.append((subject.encode(), orjson.dumps(doc)))
    return out


# --------------------------------------------------------------------------- helpers
def settings_for(bootstrap: str, prefix: str, **kafka: Any) -> Any:
    from phenotyping.config import load_settings

    values = {
        "broker": f"kafka://{bootstrap}",
        "topic_prefix": prefix,
        "app_id": f"{prefix}-app",
        "stats_interval_s": 3600.0,
        **kafka,
    }
    return load_settings(kafka=values)


async def _produce(
    settings: Any, records: list[tuple[bytes, bytes]], rate: float | None = None
) -> None:
    from aiokafka import AIOKafkaProducer

    from phenotyping.kafkaio import TopicNames, client_options

    topic = TopicNames.from_settings(settings.kafka).device
    producer = AIOKafkaProducer(
        **client_options(settings.kafka), linger_ms=5, max_batch_size=1 << 20, acks=1
    )
    await producer.start()
    try:
        t0 = time.monotonic()
        futs = []
        for i, (key, value) in enumerate(records):
            if rate is not None:
                wait = t0 + i / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            futs.append(await producer.send(topic, value, key=key))
            if len(futs) >= 20_000:
                await asyncio.gather(*futs)
                futs.clear()
        await producer.flush()
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


def produce(settings: Any, records: list[tuple[bytes, bytes]]) -> None:
    asyncio.run(_produce(settings, records))


def create_topics(settings: Any) -> None:
    from phenotyping.kafkaio import create

    asyncio.run(create(settings.kafka))


def samples_of(value: bytes) -> int:
    return len(orjson.loads(value)["counts"])


# --------------------------------------------------------------------------- (a) aiokafka
async def _raw(settings: Any, expect: int) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from phenotyping import events
    from phenotyping.kafkaio import TopicNames, client_options

    kafka = settings.kafka
    topic = TopicNames.from_settings(kafka).device
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=kafka.fetch_max_bytes_per_partition,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        n = samples = 0
        t0 = None
        while n < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=kafka.batch_max)
            t0 = t0 or time.monotonic()
            for recs in batch.values():
                for r in recs:
                    msg = events.decode(r.value, now=dt.datetime.now(dt.UTC))
                    n += 1
                    samples += events.samples(msg)
        secs = time.monotonic() - (t0 or time.monotonic())
    finally:
        await consumer.stop()
    return {"messages": n, "samples": samples, "seconds": secs}


# --------------------------------------------------------------------------- (b), (c) roles
def _finish(result: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(result))
    os.kill(os.getpid(), signal.SIGTERM)


def role_bare(settings: Any, expect: int, out: Path) -> None:
    """(b): a faust app whose agent only decodes, consuming like our worker."""
    import faust

    from phenotyping.events import decode, samples
    from phenotyping.kafkaio import TopicNames
    from phenotyping.stream.app import app_options

    kafka = settings.kafka
    # configured like the worker (stream.app.app_options), without a table store
    app = faust.App(f"{kafka.app_id}-bare", **{**app_options(kafka), "store": "memory://"})
    topic = app.topic(
        TopicNames.from_settings(kafka).device, key_serializer="raw", value_serializer="raw"
    )
    state: dict[str, Any] = {"n": 0, "samples": 0, "t0": None, "t1": None}

    async def bare(stream: Any) -> None:
        async for events in stream.take_events(kafka.batch_max, kafka.batch_within_ms / 1000):
            state["t0"] = state["t0"] or time.monotonic()
            now = dt.datetime.now(dt.UTC)
            for e in events:
                msg = decode(e.message.value, now=now)
                state["samples"] += samples(msg)
            state["n"] += len(events)
            state["t1"] = time.monotonic()

    app.agent(topic, name="bench.bare")(bare)

    async def done() -> None:
        if state["n"] >= expect:
            _finish(
                {
                    "messages": state["n"],
                    "samples": state["samples"],
                    "seconds": state["t1"] - state["t0"],
                },
                out,
            )

    app.timer(0.25)(done)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


def role_worker(settings: Any, expect: int, out: Path) -> None:
    """(c): our worker, built exactly as ``phenotyping worker`` builds it."""
    import faust

    from phenotyping.stream.app import build_app

    built = build_app(settings)
    stats = built.stats

    async def done() -> None:
        if stats.counts["messages"] >= expect and stats.first is not None:
            assert stats.last is not None
            _finish(
                {
                    "messages": stats.counts["messages"],
                    "samples": stats.counts["samples"],
                    "seconds": stats.last - stats.first,
                    "dead": sum(v for k, v in stats.counts.items() if k.startswith("dead")),
                },
                out,
            )

    built.app.timer(0.25)(done)
    faust.Worker(built.app, loglevel="warning").execute_from_commandline()


def run_role(role: str, settings: Any, expect: int, timeout: float = 600) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cfg = Path(tmp) / "kafka.json"
        cfg.write_text(settings.kafka.model_dump_json())
        cmd = [sys.executable, __file__, "--role", role, "--kafka-json", str(cfg)]
        cmd += ["--expect", str(expect), "--result", str(out)]
        proc = subprocess.Popen(
            cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if not out.exists():
            raise RuntimeError(f"{role} produced no result:\n{err.decode()[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


# --------------------------------------------------------------------------- latency
async def _latency(settings: Any, records: list[tuple[bytes, bytes]], rate: float) -> list[float]:
    from aiokafka import AIOKafkaConsumer

    from phenotyping.kafkaio import TopicNames, client_options
    from phenotyping.stream.process import SOURCE_TS_HEADER

    names = TopicNames.from_settings(settings.kafka)
    consumer = AIOKafkaConsumer(
        names.features,
        **client_options(settings.kafka),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    lat: list[float] = []
    expected_rows = len(records) - 2 * SUBJECTS
    producing = asyncio.create_task(_produce(settings, records, rate))
    try:
        deadline = time.monotonic() + len(records) / rate + 60
        while len(lat) < expected_rows and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now_ms = time.time() * 1000
            for recs in batch.values():
                for r in recs:
                    ts = dict(r.headers or ()).get(SOURCE_TS_HEADER)
                    if ts is not None:
                        lat.append((now_ms - int(ts)) / 1000)
        await producing
    finally:
        await consumer.stop()
    return lat


def wait_group(settings: Any, members: int = 1, timeout: float = 120) -> None:
    from stream_helpers import wait_for_group  # type: ignore[import-not-found]

    wait_for_group(settings.kafka, members, timeout)


# --------------------------------------------------------------------------- main
def measure(bootstrap: str, n_single: int, days: int, tag: str) -> list[dict[str, Any]]:
    rows = []
    workloads = {
        "single-sample": single_messages(n_single),
        "day batch (1,440)": day_messages(days),
    }
    for i, (name, records) in enumerate(workloads.items()):
        settings = settings_for(bootstrap, f"{tag}-w{i}")
        create_topics(settings)
        produce(settings, records)
        n = len(records)
        print(f"[{name}] {n:,} messages pre-loaded", file=sys.stderr)
        for label, role in (
            ("(a) aiokafka consume + decode", "raw"),
            ("(b) bare faust agent (decode)", "bare"),
            ("(c) phenotyping worker", "worker"),
        ):
            if role == "raw":
                r: dict[str, Any] = asyncio.run(_raw(settings, n))
            else:
                r = run_role(role, settings, n)
            rows.append({"workload": name, "consumer": label, **r})
            print(f"  {label}: {r['messages'] / r['seconds']:,.0f} msg/s", file=sys.stderr)
    return rows


def latency(bootstrap: str, capacity: float, tag: str, seconds: float) -> dict[str, float]:
    rate = capacity / 2
    days = max(4, int(rate * seconds / SUBJECTS))
    settings = settings_for(bootstrap, f"{tag}-lat")
    create_topics(settings)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        **{f"PHENOTYPING_KAFKA__{k.upper()}": str(v) for k, v in settings.kafka if v is not None},
    }
    with tempfile.TemporaryDirectory() as tmp:
        worker = subprocess.Popen(
            [sys.executable, "-m", "phenotyping.cli", "worker", "--loglevel", "warning"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_group(settings)
            lat = asyncio.run(_latency(settings, day_messages(days), rate))
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    arr = np.array(lat)
    return {
        "rate": rate,
        "rows": float(len(arr)),
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "max": float(arr.max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", help="host:port of a running broker (default: start one)")
    ap.add_argument("--single", type=int, default=100_000, help="single-sample messages")
    ap.add_argument("--days", type=int, default=40, help="days of batch messages per subject")
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--kafka-json", help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        from phenotyping.config import KafkaSettings, load_settings

        kafka = KafkaSettings.model_validate_json(Path(args.kafka_json).read_text())
        settings = load_settings(kafka=kafka.model_dump())
        {"bare": role_bare, "worker": role_worker}[args.role](settings, args.expect, args.result)
        return

    from kafka_broker import KafkaBroker  # type: ignore[import-not-found]

    broker = KafkaBroker(use_env=False) if not args.broker else None
    bootstrap = args.broker or broker.start()  # type: ignore[union-attr]
    tag = f"bench{int(time.time())}"
    try:
        rows = measure(bootstrap, args.single, args.days, tag)
        day = [r for r in rows if r["workload"].startswith("day") and "(c)" in r["consumer"]]
        capacity = day[0]["messages"] / day[0]["seconds"]
        lat = latency(bootstrap, capacity, tag, args.latency_seconds)
    finally:
        if broker is not None:
            broker.stop()
    print()
    print(f"stream throughput: {SUBJECTS} subjects, 4 partitions, one broker, 2 cores")
    print()
    print("| workload | consumer | messages | messages/s | samples/s | vs (b) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        floor = next(
            x for x in rows if x["workload"] == r["workload"] and x["consumer"].startswith("(b)")
        )
        rate = r["messages"] / r["seconds"]
        ratio = rate / (floor["messages"] / floor["seconds"])
        print(
            f"| {r['workload']} | {r['consumer']} | {r['messages']:,} | {rate:,.0f} | "
            f"{r['samples'] / r['seconds']:,.0f} | {ratio:.0%} |"
        )
    print()
    print(
        f"latency, day messages offered at {lat['rate']:,.0f} msg/s (half of (c)'s capacity), "
        f"{lat['rows']:,.0f} daily rows: p50 {lat['p50'] * 1000:,.0f} ms, "
        f"p99 {lat['p99'] * 1000:,.0f} ms, max {lat['max'] * 1000:,.0f} ms"
    )


if __name__ == "__main__":
    main()
