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
start-up and group joins are excluded. Then the latency: with our worker running, day
messages are offered at half its capacity and the event-to-output latency of every daily
row (the row's arrival at a consumer minus the timestamp of the device record that closed
the day) gives p50/p99 (``--load 0.5 0.7 0.9``: at more shares of the capacity). The
capacity is measured first under the same conditions (``--capacity live``): day messages
offered faster than the worker consumes them, with the producer, the broker and the
reading consumer beside it on the same machine -- on 2 cores that is ~70 % of the rate it
reaches on a pre-loaded topic alone (``--capacity isolated``, which an earlier version of
this script used, and whose half was not "half" of what the worker sustains live).
Prints tables; not a test.
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
#: worker settings of the capacity and latency runs (``--worker-kafka``)
WORKER_KAFKA: dict[str, Any] = {}
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
    settings: Any,
    records: list[tuple[bytes, bytes]],
    rate: float | None = None,
    acks: list[float] | None = None,
) -> None:
    """Send ``records`` (at ``rate`` msg/s, or at once); ``acks`` gets each record's time
    from its timestamp to the broker's acknowledgement, in seconds (as this process sees
    it: an upper bound)."""
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
            fut = await producer.send(topic, value, key=key)
            if acks is not None:
                fut.add_done_callback(
                    lambda f: (
                        f.exception() is None
                        and acks.append(time.time() - f.result().timestamp / 1000)
                    )
                )
            futs.append(fut)
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
_PROFILER: Any = None  # cProfile.Profile of a role run with --profile


def _finish(result: dict[str, Any], out: Path) -> None:
    import phenotyping

    result["code"] = str(Path(phenotyping.__file__).parent.parent)  # which tree ran
    if _PROFILER is not None:
        _PROFILER.disable()
        _PROFILER.dump_stats(str(out.with_suffix(".prof")))
    out.write_text(json.dumps(result))
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(faust: Any, settings: Any) -> Any:
    """The worker class of ``phenotyping worker`` (both roles run in it, so (b) and (c)
    pay the same for logging). faust's own ``Worker`` at ``loglevel="warning"`` sets the
    root logger to DEBUG for its terminal spinner: every debug call of faust, aiokafka
    and numba then builds a log record (~140 us of CPU per output sent). Trees whose
    worker class still does that (``main`` before this fix, run with ``--worker-at``)
    get no spinner here either, as with the CLI's default ``--loglevel info``."""
    try:
        from phenotyping.stream.commands import _worker_class
    except ImportError:
        base = faust.Worker
    else:
        base = _worker_class(faust.Worker, settings.kafka.stop_grace_s)

    class Worker(base):  # type: ignore[misc, valid-type]
        def on_setup_root_logger(self, logger: Any, level: int) -> None:
            self.spinner = None
            super().on_setup_root_logger(logger, level)

    return Worker


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
    state: dict[str, Any] = {"n": 0, "samples": 0, "t0": None, "t1": None, "c0": 0.0}

    async def bare(stream: Any) -> None:
        async for events in stream.take_events(kafka.batch_max, kafka.batch_within_ms / 1000):
            if state["t0"] is None:
                state["t0"], state["c0"] = time.monotonic(), time.process_time()
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
                    "cpu": time.process_time() - state["c0"],
                },
                out,
            )

    app.timer(0.25)(done)
    _worker(faust, settings)(app, loglevel="warning").execute_from_commandline()


def _rss_mb() -> float:
    """Resident set size of this process in MB (Linux ``/proc``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _count_producer_waits() -> dict[str, float]:
    """Wall seconds the process's producer spent waiting for a full batch of a partition
    to be drained (aiokafka sends one request per broker at a time; a full batch makes
    the sender of the next record wait), and how many waits: a diagnostic of the worker's
    ``send`` stage."""
    from aiokafka.producer.message_accumulator import MessageAccumulator

    waits = {"producer_full_batch_waits": 0.0, "producer_full_batch_wait_s": 0.0}
    drain = MessageAccumulator.add_message

    async def add_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        fut = await drain(self, *args, **kwargs)
        took = time.monotonic() - t0
        if took > 1e-4:
            waits["producer_full_batch_waits"] += 1
            waits["producer_full_batch_wait_s"] += took
        return fut

    MessageAccumulator.add_message = add_message  # type: ignore[method-assign]

    return waits


def role_worker(settings: Any, expect: int, out: Path) -> None:
    """(c): our worker, built exactly as ``phenotyping worker`` builds it."""
    import faust

    from phenotyping.stream.app import build_app

    try:  # as `phenotyping worker` does before joining the group (older trees: none)
        from phenotyping.features.day import warm_up
    except ImportError:
        pass
    else:
        warm_up()
    built = build_app(settings)
    stats = built.stats
    cpu0: list[float] = []
    waits = _count_producer_waits()
    rss: list[tuple[float, int, float]] = [(0.0, 0, _rss_mb())]  # before the first batch

    async def started() -> None:  # CPU time from (within 20 ms of) the first batch
        if stats.first is not None and not cpu0:
            cpu0.append(time.process_time())

    async def done() -> None:
        if stats.counts["messages"] >= expect and stats.first is not None:
            assert stats.last is not None
            _finish(
                {
                    "messages": stats.counts["messages"],
                    "samples": stats.counts["samples"],
                    "seconds": stats.last - stats.first,
                    "cpu": time.process_time() - (cpu0 or [0.0])[0],
                    "batches": stats.batches,
                    "dead": sum(v for k, v in stats.counts.items() if k.startswith("dead")),
                    # wall seconds per stage of the agent (older trees: none)
                    "stages": {**dict(getattr(stats, "seconds", {})), **waits},
                    "rss": [*rss, (stats.last - stats.first, stats.counts["messages"], _rss_mb())],
                },
                out,
            )

    async def sample_rss() -> None:  # RSS over time: from the first batch on, each 0.5 s
        if stats.first is not None:
            rss.append((time.monotonic() - stats.first, stats.counts["messages"], _rss_mb()))

    built.app.timer(0.02)(started)
    built.app.timer(0.5)(sample_rss)
    built.app.timer(0.25)(done)
    _worker(faust, settings)(built.app, loglevel="warning").execute_from_commandline()


def run_role(
    role: str,
    settings: Any,
    expect: int,
    timeout: float = 300,
    tree: Path = REPO,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Run (b) or (c) in a child process; ``tree`` is the source tree it imports
    ``phenotyping`` from (another commit: ``--worker-at``); ``profile`` keeps its cProfile
    statistics there."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        cfg = Path(tmp) / "kafka.json"
        cfg.write_text(settings.kafka.model_dump_json())
        cmd = [sys.executable, __file__, "--role", role, "--kafka-json", str(cfg)]
        cmd += ["--expect", str(expect), "--result", str(out)]
        if profile is not None:
            cmd += ["--role-profile"]
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
        if profile is not None:
            profile.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".prof").replace(profile)
        return result


# --------------------------------------------------------------------------- latency
async def _latency(
    settings: Any,
    records: list[tuple[bytes, bytes]],
    rate: float,
    acks: list[float] | None = None,
) -> list[tuple[float, float, float]]:
    """``(source record timestamp, output record timestamp, arrival)`` in seconds for every
    daily row: the output's timestamp is the worker's producer clock when it sent the row,
    so the latency splits into "in the worker" (fetch, batching, waiting behind earlier
    records, processing) and "delivery" (producer, broker, this consumer)."""
    from aiokafka import AIOKafkaConsumer

    from phenotyping.kafkaio import TopicNames, client_options
    from phenotyping.stream.process import SOURCE_TS_HEADER

    names = TopicNames.from_settings(settings.kafka)
    consumer = AIOKafkaConsumer(
        names.features,
        **client_options(settings.kafka),
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    lat: list[tuple[float, float, float]] = []
    expected_rows = len(records) - 2 * SUBJECTS
    producing = asyncio.create_task(_produce(settings, records, rate, acks))
    try:
        deadline = time.monotonic() + len(records) / rate + 60
        while len(lat) < expected_rows and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for recs in batch.values():
                for r in recs:
                    ts = dict(r.headers or ()).get(SOURCE_TS_HEADER)
                    if ts is not None:
                        lat.append((int(ts) / 1000, r.timestamp / 1000, now))
        await producing
    finally:
        await consumer.stop()
    return lat


def wait_group(settings: Any, members: int = 1, timeout: float = 120) -> None:
    from stream_helpers import wait_for_group  # type: ignore[import-not-found]

    wait_for_group(settings.kafka, members, timeout)


# --------------------------------------------------------------------------- main
def load() -> float:
    return os.getloadavg()[0]


def checkout(ref: str, into: Path) -> Path:
    """The source tree of ``ref`` (``git archive``), for ``--worker-at``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(
    bootstrap: str,
    workloads: dict[str, list[tuple[bytes, bytes]]],
    tag: str,
    trees: dict[str, Path],
    rounds: int,
    profile: Path | None,
) -> list[dict[str, Any]]:
    """Every consumer on every workload, ``rounds`` interleaved rounds (a round runs each
    consumer once, in turn, so that all of them see the same load); a row keeps every
    round's rate and the load average when it started."""
    consumers: list[tuple[str, str, Path]] = [
        ("(a) aiokafka consume + decode", "raw", REPO),
        ("(b) bare faust agent (decode)", "bare", REPO),
    ]
    for name, tree in trees.items():
        label = "(c) phenotyping worker" + ("" if name == "HEAD" else f" @ {name}")
        consumers.append((label, "worker", tree))
    rows = []
    for i, (name, records) in enumerate(workloads.items()):
        n = len(records)
        by_label: dict[str, dict[str, Any]] = {}
        for round_ in range(rounds):
            # a fresh topic per round: every worker starts from empty states and offsets
            settings = settings_for(bootstrap, f"{tag}-w{i}r{round_}")
            create_topics(settings)
            produce(settings, records)
            print(f"[{name}] round {round_ + 1}: {n:,} messages pre-loaded", file=sys.stderr)
            for k, (label, role, tree) in enumerate(consumers):
                before = load()
                if role == "raw":
                    r: dict[str, Any] = asyncio.run(_raw(settings, n))
                else:
                    prof = None
                    if profile is not None and role == "worker" and round_ == 0:
                        prof = profile / f"{role}-{i}-{tree.name}.prof"
                    # each consumer its own group (and state changelog): none of them may
                    # start from another's committed offsets or restored states
                    own = settings.model_copy(
                        update={
                            "kafka": settings.kafka.model_copy(
                                update={"app_id": f"{settings.kafka.app_id}{k}"}
                            )
                        }
                    )
                    r = run_role(role, own, n, tree=tree, profile=prof)
                row = by_label.setdefault(
                    label, {"workload": name, "consumer": label, "rates": [], "loads": []}
                )
                row["rates"].append(r["messages"] / r["seconds"])
                if "cpu" in r:
                    row.setdefault("cpu_us", []).append(r["cpu"] / r["messages"] * 1e6)
                row["loads"].append(before)
                row["samples_per_message"] = r["samples"] / r["messages"]
                if "rss" in r:
                    row.setdefault("rss", []).append(r["rss"])
                row["messages"] = r["messages"]
                stages = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.get("stages", {}).items()))
                print(
                    f"  {label}: {r['messages'] / r['seconds']:,.0f} msg/s "
                    f"(load {before:.1f}; {r.get('code', 'this process')}) "
                    f"{r['seconds']:.1f} s, CPU {r.get('cpu', 0):.1f} s, "
                    f"{r.get('batches', '?')} batches{'; agent s: ' + stages if stages else ''}",
                    file=sys.stderr,
                )
        rows.extend(by_label.values())
    return rows


def _with_worker(settings: Any, tree: Path, run: Any) -> tuple[Any, list[str]]:
    """``run()`` with our worker (``phenotyping worker``, the code of ``tree``) consuming
    ``settings``' topics in its own process; its result and the worker's stats lines."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        # only what this script sets: an older tree (--worker-at) refuses a setting it
        # does not know, and runs with its own defaults otherwise
        **{
            f"PHENOTYPING_KAFKA__{k.upper()}": str(v)
            for k, v in settings.kafka.model_dump(exclude_defaults=True).items()
            if v is not None
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        with log.open("wb") as err:
            worker = subprocess.Popen(
                [sys.executable, "-m", "phenotyping.cli", "worker", "--loglevel", "info"],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            try:
                try:
                    wait_group(settings)
                except AssertionError:
                    print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                    raise
                out = run()
                time.sleep(2.5)  # one more stats line
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(60)
        lines = log.read_text(errors="replace").splitlines()
    stats = [x for x in lines if "stats: " in x]
    # what else the worker said beyond its stats (seeks back over a hole, warnings): the
    # log never holds payloads
    notes = [x for x in lines if "seeking back" in x or "WARN" in x or "ERROR" in x]
    if notes:
        print(f"[worker log] {len(notes)} warning/seek line(s), e.g.:", file=sys.stderr)
        for x in notes[:5]:
            print("   " + x[-220:], file=sys.stderr)
    return out, stats


def live_capacity(
    bootstrap: str, offered: float, tag: str, seconds: float, tree: Path = REPO
) -> dict[str, Any]:
    """The day-message rate our worker sustains under the latency run's conditions: day
    messages offered for ``seconds`` at ``offered`` msg/s (more than it consumes from a
    pre-loaded topic with nothing else running) while the producer, the broker and the
    reading consumer share the machine with it. The rate is daily rows arriving per second
    while the producer is still offering, its first quarter left out (start-up); what
    arrives after the producer's last record (the drain, with the producer gone) is not
    counted. A worker that keeps up gives about ``offered`` (its capacity is then at least
    that)."""
    days = max(4, int(offered * seconds / SUBJECTS))
    settings = settings_for(
        bootstrap, f"{tag}-cap{tree.name}", stats_interval_s=2.0, **WORKER_KAFKA
    )
    create_topics(settings)
    records = day_messages(days)
    lat, stats = _with_worker(
        settings, tree, lambda: asyncio.run(_latency(settings, records, offered))
    )
    arrivals = np.sort(np.array([a for _, _, a in lat]))
    offered_until = max(src for src, _, _ in lat)  # the last device record's timestamp
    start = arrivals[0] + 0.25 * (offered_until - arrivals[0])
    inside = int(np.sum((arrivals >= start) & (arrivals <= offered_until)))
    rate = inside / (offered_until - start) if offered_until > start else float("nan")
    total = np.array([a - src for src, _, a in lat])
    return {
        "offered": offered,
        "rate": float(rate),
        "rows": len(lat),
        "total": total,
        "stats": stats,
    }


def latency(
    bootstrap: str, rate: float, tag: str, seconds: float, tree: Path = REPO
) -> dict[str, Any]:
    days = max(4, int(rate * seconds / SUBJECTS))
    settings = settings_for(
        bootstrap, f"{tag}-lat{tree.name}{int(rate)}", stats_interval_s=2.0, **WORKER_KAFKA
    )
    create_topics(settings)
    before = load()
    records = day_messages(days)
    acks: list[float] = []
    lat, stats = _with_worker(
        settings, tree, lambda: asyncio.run(_latency(settings, records, rate, acks))
    )
    arr = np.array(sorted(lat))
    total = arr[:, 2] - arr[:, 0]
    inside = arr[:, 1] - arr[:, 0]
    delivery = arr[:, 2] - arr[:, 1]
    thirds = np.array_split(total, 3)  # in the order the source records were sent
    return {
        "rate": rate,
        "rows": len(arr),
        "load": (before, load()),
        "parts": {
            "total": total,
            "in the worker (source record -> output sent)": inside,
            "delivery (output sent -> read)": delivery,
            "device record -> acknowledged by the broker (the producer's side)": np.array(acks),
            **{
                f"total, {k} third of the run": t
                for k, t in zip(("1st", "2nd", "3rd"), thirds, strict=True)
            },
        },
        "stats": stats[-1].split("stats: ", 1)[1] if stats else "(no stats line)",
    }


def _rss_points(series: list[list[float]], most: int = 12) -> list[str]:
    """At most ``most`` evenly spaced points of an RSS series, first and last included."""
    idx = sorted({round(i * (len(series) - 1) / max(most - 1, 1)) for i in range(most)})
    return [f"{series[i][0]:.1f} s {int(series[i][1]):,} {series[i][2]:.0f}" for i in idx]


def _pcts(x: np.ndarray) -> str:
    p = np.percentile(x, [50, 90, 99]) * 1000
    return f"{p[0]:,.0f} | {p[1]:,.0f} | {p[2]:,.0f} | {x.max() * 1000:,.0f}"


def main() -> None:
    global _PROFILER, SUBJECTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", help="host:port of a running broker (default: start one)")
    ap.add_argument("--subjects", type=int, default=SUBJECTS, help="subjects of each workload")
    ap.add_argument("--single", type=int, default=100_000, help="single-sample messages")
    ap.add_argument("--days", type=int, default=40, help="days of batch messages per subject")
    ap.add_argument("--workloads", nargs="+", choices=("single", "day"), default=["single", "day"])
    ap.add_argument("--latency-seconds", type=float, default=20.0, help="0: no latency run")
    ap.add_argument(
        "--load",
        type=float,
        nargs="+",
        default=[0.5],
        metavar="SHARE",
        help="latency runs at these shares of the capacity (the target is at 0.5; more "
        "shares give the latency against the load)",
    )
    ap.add_argument(
        "--worker-kafka",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="worker settings (phenotyping.config.KafkaSettings) for the capacity and latency "
        "runs, e.g. fetch_max_bytes_per_partition=1048576",
    )
    ap.add_argument(
        "--capacity",
        choices=("live", "isolated"),
        default="live",
        help="the capacity the latency run offers half of: sustained while the producer and "
        "the reader run beside the worker (live, measured first) or the throughput rounds' "
        "rate on a pre-loaded topic with nothing else running (isolated)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (best is kept)")
    ap.add_argument(
        "--worker-at",
        nargs="*",
        default=[],
        metavar="REF",
        help="also run worker (c) with the code of these git refs, in the same rounds",
    )
    ap.add_argument("--profile", type=Path, help="directory for cProfile stats of (c)")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--kafka-json", help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--role-profile", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    SUBJECTS = args.subjects
    WORKER_KAFKA.update(kv.split("=", 1) for kv in args.worker_kafka)
    if args.role:
        if args.role_profile:
            import cProfile

            _PROFILER = cProfile.Profile()
            _PROFILER.enable()
        from phenotyping.config import KafkaSettings, load_settings

        values = json.loads(Path(args.kafka_json).read_text())
        # an older tree (--worker-at) may not know a newer setting: it runs with its default
        known = {k: v for k, v in values.items() if k in KafkaSettings.model_fields}
        kafka = KafkaSettings.model_validate(known)
        settings = load_settings(kafka=kafka.model_dump())
        {"bare": role_bare, "worker": role_worker}[args.role](settings, args.expect, args.result)
        return

    from kafka_broker import KafkaBroker  # type: ignore[import-not-found]

    workloads = {}
    if "single" in args.workloads:
        workloads["single-sample"] = single_messages(args.single)
    if "day" in args.workloads:
        workloads["day batch (1,440)"] = day_messages(args.days)
    load_start = load()
    broker = KafkaBroker(use_env=False) if not args.broker else None
    bootstrap = args.broker or broker.start()  # type: ignore[union-attr]
    tag = f"bench{int(time.time())}"
    lat: dict[tuple[str, float], dict[str, Any]] | None = None
    caps: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"HEAD": REPO}  # the working tree as it is
        for ref in args.worker_at:
            trees[ref] = checkout(ref, Path(tmp) / ref.replace("/", "_"))
        try:
            rows = measure(bootstrap, workloads, tag, trees, args.rounds, args.profile)
            day = [
                r
                for r in rows
                if r["workload"].startswith("day") and r["consumer"].startswith("(c)")
            ]
            if day and args.latency_seconds > 0:
                # every tree offered the same rate: half the slowest one's capacity
                isolated = min(max(r["rates"]) for r in day)
                if args.capacity == "live":
                    caps = {
                        name: live_capacity(
                            bootstrap, 1.5 * isolated, tag, args.latency_seconds, tree
                        )
                        for name, tree in trees.items()
                    }
                    for name, c in caps.items():
                        print(
                            f"[capacity] (c) {name}: {c['rate']:,.0f} msg/s sustained with "
                            f"{c['offered']:,.0f} offered",
                            file=sys.stderr,
                        )
                    capacity = min(min(c["rate"], c["offered"]) for c in caps.values())
                else:
                    capacity = isolated
                lat = {
                    (name, share): latency(
                        bootstrap, capacity * share, tag, args.latency_seconds, tree
                    )
                    for share in args.load
                    for name, tree in trees.items()
                }
        finally:
            if broker is not None:
                broker.stop()
    print()
    print(
        f"stream throughput: {SUBJECTS} subjects, 4 partitions, one broker, "
        f"{os.cpu_count()} cores, load average {load_start:.1f} at the start, "
        f"{load():.1f} at the end; best of {args.rounds} interleaved round(s)"
    )
    print()
    print(
        "| workload | consumer | messages | messages/s | samples/s | vs (b) "
        "| CPU us/msg | CPU vs (b) | load | rounds (msg/s) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        floor = next(
            x for x in rows if x["workload"] == r["workload"] and x["consumer"].startswith("(b)")
        )
        rate = max(r["rates"])
        ratio = rate / max(floor["rates"])
        each = ", ".join(f"{x:,.0f}" for x in r["rates"])
        loads = "-".join(f"{x:.1f}" for x in (min(r["loads"]), max(r["loads"])))
        cpu = min(r["cpu_us"]) if r.get("cpu_us") else None
        floor_cpu = min(floor["cpu_us"]) if floor.get("cpu_us") else None
        cpu_text = "-" if cpu is None else f"{cpu:,.0f}"
        cpu_ratio = "-" if cpu is None or floor_cpu is None else f"{floor_cpu / cpu:.0%}"
        print(
            f"| {r['workload']} | {r['consumer']} | {r['messages']:,} | {rate:,.0f} | "
            f"{rate * r['samples_per_message']:,.0f} | {ratio:.0%} | {cpu_text} | "
            f"{cpu_ratio} | {loads} | {each} |"
        )
    for r in rows:
        for k, series in enumerate(r.get("rss", [])):
            print()
            print(f"RSS of {r['consumer']}, {r['workload']}, round {k + 1} (s, messages, MB):")
            print("  " + ", ".join(_rss_points(series)))
    if caps:
        print()
        print(
            "capacity under the latency run's conditions (day messages offered at 1.5x the "
            "throughput rounds' rate while producer, broker and reader run; rows/s while the "
            "producer offers, its first quarter left out; the latency of a saturated worker "
            "grows with the run):"
        )
        for name, c in caps.items():
            print(
                f"  (c){'' if name == 'HEAD' else ' @ ' + name}: {c['rate']:,.0f} msg/s "
                f"sustained of {c['offered']:,.0f} offered "
                f"({c['rate'] / c['offered'] * 1.5:.0%} of the pre-loaded rate); "
                f"latency p50 | p90 | p99 | max ms: {_pcts(c['total'])}"
            )
    for (name, share), one in (lat or {}).items():
        print()
        print(
            f"latency of (c){'' if name == 'HEAD' else ' @ ' + name}, day messages offered "
            f"at {one['rate']:,.1f} msg/s ({share:.0%} of the slowest (c)'s {args.capacity} "
            "capacity), "
            f"{one['rows']:,} daily rows, load {one['load'][0]:.1f} -> {one['load'][1]:.1f}:"
        )
        print()
        print("| part | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for part, x in one["parts"].items():
            print(f"| {part} | {_pcts(x)} |")
        print()
        print(f"worker's last stats line: {one['stats']}")


if __name__ == "__main__":
    main()
