"""The CPU a worker spends per device record in our own code, without Kafka or faust.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/worker_core.py [--data ../shared/data] [--subjects 55]
        [--batch 100]
    .venv/bin/python benchmarks/worker_core.py --workload single [--single 40000]

``--workload days`` (default): every Depresjon recording is encoded as day-batch records
(one local day of minutes per record, as ``encode`` writes them to the device topic),
interleaved round-robin over the subjects as a partition would deliver them.

``--workload single``: ``stream_throughput.py``'s single-sample workload (one-minute
activity messages, 50 subjects round-robin), on the partitions Kafka's default partitioner
gives their keys, with the ingest clock and the partitioner check on, as the worker runs it.

The records go to :class:`phenotyping.stream.process.BatchProcessor` in batches of
``--batch`` records, with a state flush (``take_writes``: ``to_bytes`` of every changed
state) every ``--flush-every`` records (default: every batch) and the outputs encoded --
what ``stream_throughput.py``'s worker (c) does between receiving a batch and handing
records to the producer. The worker flushes every ``state_flush_s`` (1 s): at its rates
that is ~100 day records or ~4,000 single-sample records, hence the defaults. The gap
between this and the worker's rate on a broker is the framework's and the broker round
trips' share (and the agent's: admitting, acking), not the engine's.

All figures are CPU time of this process (``time.process_time``). The records run twice:
first plain (the total printed first), then with every stage timed by wrapping the
functions the processor calls (~1 us per call inside the figures: with single-sample
records, which cost tens of microseconds each, read the stages as shares).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phenotyping import pipeline
from phenotyping.events import decode, encode, samples
from phenotyping.features import day as day_mod
from phenotyping.kafkaio import TopicNames
from phenotyping.pipeline import SubjectState
from phenotyping.replay.formats import files_in, read
from phenotyping.stream import codec
from phenotyping.stream import process as proc_mod
from phenotyping.stream.process import BatchProcessor, Record

CLOCK = time.process_time
STAGES: dict[str, float] = defaultdict(float)
PARTITIONS = 4


def timed(owner: Any, name: str, stage: str) -> None:
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = CLOCK()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[stage] += CLOCK() - t0

    setattr(owner, name, wrapper)


def depresjon_records(data: Path, subjects: int) -> tuple[list[Record], str]:
    files = files_in(data / "depresjon")[:subjects]
    per_subject = [[encode(m) for m in read(f)] for f in files]
    records = []
    depth = max(len(v) for v in per_subject)
    for i in range(depth):  # round-robin: one partition, subjects interleaved
        for msgs in per_subject:
            if i < len(msgs):
                key = decode(msgs[i]).subject_id.encode()  # the key is the subject id
                records.append(Record("d", 0, len(records), key, msgs[i], 1_700_000_000_000))
    return records, f"Depresjon {len(files)} subjects, day records"


def single_records(n: int) -> tuple[list[Record], str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream_throughput import SUBJECTS, single_messages

    offsets = [0] * PARTITIONS
    records = []
    for key, value in single_messages(n):
        p = codec.default_partition(key, PARTITIONS)
        records.append(Record("d", p, offsets[p], key, value, 1_700_000_000_000))
        offsets[p] += 1
    return records, f"stream_throughput's single-sample workload, {SUBJECTS} subjects"


def run(records: list[Record], batch: int, flush_every: int, single: bool) -> tuple[float, int]:
    if single:  # as the worker runs it: ingest clock, partitioner check
        proc = BatchProcessor(
            TopicNames("d", "f", "a", "n", "dl", "c"),
            clock=lambda: dt.datetime.now(dt.UTC),
            partitioner=lambda key: codec.default_partition(key, PARTITIONS),
            ticker=time.monotonic,
        )
    else:
        proc = BatchProcessor(TopicNames("d", "f", "a", "n", "dl", "c"))
    table: dict[str, bytes] = {}
    out = 0
    since_flush = 0
    c0 = CLOCK()
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        res = proc.process(chunk, table.get)
        out += len(res.outgoing)
        since_flush += len(chunk)
        if since_flush >= flush_every:
            since_flush = 0
            for w in proc.take_writes():
                table[w.subject] = w.value
    for w in proc.take_writes():
        table[w.subject] = w.value
    return CLOCK() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--workload", choices=("days", "single"), default="days")
    ap.add_argument("--subjects", type=int, default=55, help="days: Depresjon recordings")
    ap.add_argument("--single", type=int, default=40_000, help="single: messages")
    ap.add_argument("--batch", type=int, help="records per batch (days 100, single 50)")
    ap.add_argument(
        "--flush-every", type=int, help="records per state flush (days: a batch, single 4,000)"
    )
    args = ap.parse_args()
    single = args.workload == "single"
    batch = args.batch or (50 if single else 100)
    flush_every = args.flush_every or (4000 if single else batch)
    if single:
        records, what = single_records(args.single)
    else:
        records, what = depresjon_records(args.data, args.subjects)
    n = len(records)
    n_samples = sum(samples(decode(r.value)) for r in records if r.value)

    # the kernels loaded (or compiled) first, as `phenotyping worker` does before it joins
    # the group: otherwise the first day close of the plain pass pays numba's load
    # (~0.3 s of CPU, ~0.25 ms per record of a Depresjon run)
    warm = getattr(day_mod, "warm_up", None)
    if warm is not None:
        warm()
    plain, out = run(records, batch, flush_every, single)  # no stage timers: the total

    timed(proc_mod, "decode", "decode + validate (events.decode)")
    timed(proc_mod, "step", "pipeline.step (features + risk)")
    timed(pipeline, "check_window", "  of which: event-time window check")
    timed(pipeline, "apply", "  of which: push into the day engine (apply)")
    if hasattr(pipeline, "_push_one_minute"):  # single samples' window check + push in one
        timed(pipeline, "_push_one_minute", "  of which: one-minute sample (window + push)")
    timed(day_mod.SubjectDays, "advance", "  of which: day close (SubjectDays.advance)")
    timed(pipeline, "_judge", "  of which: risk (_judge)")
    timed(SubjectState, "to_bytes", "state to_bytes (at flush)")
    timed(SubjectState, "from_bytes", "state from_bytes (cache misses)")
    timed(proc_mod, "encode_record", "encode outputs")
    timed(codec, "default_partition", "partitioner check (murmur2)")
    timed(BatchProcessor, "_slot", "state lookup (table get, compare)")
    total, _ = run(records, batch, flush_every, single)
    print(
        f"worker core (no Kafka, no faust): {what}, {n:,} records, {n_samples:,} samples, "
        f"batches of {batch}, a state flush every {flush_every:,} records, {out:,} outputs, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU {plain:.2f} s: {plain / n * 1e6:,.1f} us per record, "
        f"{n / plain:,.0f} records/s, {n_samples / plain:,.0f} samples/s of CPU "
        f"(with the stage timers: {total / n * 1e6:,.1f} us per record)"
    )
    inner = sum(v for k, v in STAGES.items() if not k.startswith("  "))
    rest = total - inner
    rows = sorted(STAGES.items(), key=lambda kv: (kv[0].startswith("  "), -kv[1]))
    subs = [kv for kv in rows if kv[0].startswith("  ")]
    for k, v in [kv for kv in rows if not kv[0].startswith("  ")]:
        print(f"  {k:44s} {v / n * 1e6:9.1f} us/record {v / total:6.1%}")
        if k.startswith("pipeline.step"):
            for k2, v2 in subs:
                print(f"  {k2:44s} {v2 / n * 1e6:9.1f} us/record {v2 / total:6.1%}")
    print(
        f"  {'rest (routing, bookkeeping, lineage)':44s} {rest / n * 1e6:9.1f} us/record "
        f"{rest / total:6.1%}"
    )


if __name__ == "__main__":
    main()
