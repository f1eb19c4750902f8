"""The CPU a worker spends per device record in our own code, without Kafka or faust.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/worker_core.py [--data ../shared/data] [--subjects 55]
        [--batch 100]

Every Depresjon recording is encoded as day-batch records (one local day of minutes per
record, as ``encode`` writes them to the device topic), interleaved round-robin over the
subjects as a partition would deliver them, and fed to
:class:`phenotyping.stream.process.BatchProcessor` in batches of ``--batch`` records, with a
state flush (``take_writes``: ``to_bytes`` of every changed state) after every batch and
the outputs encoded -- what ``stream_throughput.py``'s worker (c) does between receiving a
batch and handing records to the producer. The gap between this and the worker's rate on
a broker is the framework's and the broker round trips' share, not the day engine's.

All figures are CPU time of this process (``time.process_time``); stages are timed by
wrapping the functions the processor calls (~1 us per call inside the figures).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phenotyping import pipeline
from phenotyping.events import decode, encode, samples
from phenotyping.kafkaio import TopicNames
from phenotyping.pipeline import SubjectState
from phenotyping.replay.formats import files_in, read
from phenotyping.stream import process as proc_mod
from phenotyping.stream.process import BatchProcessor, Record

CLOCK = time.process_time
STAGES: dict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, stage: str) -> None:
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = CLOCK()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[stage] += CLOCK() - t0

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--subjects", type=int, default=55)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    files = files_in(args.data / "depresjon")[: args.subjects]
    per_subject = [[encode(m) for m in read(f)] for f in files]
    records = []
    depth = max(len(v) for v in per_subject)
    for i in range(depth):  # round-robin: one partition, subjects interleaved
        for msgs in per_subject:
            if i < len(msgs):
                key = decode(msgs[i]).subject_id.encode()  # the key is the subject id
                records.append(Record("d", 0, len(records), key, msgs[i], 1_700_000_000_000))
    n_samples = sum(samples(decode(r.value)) for r in records if r.value)

    timed(proc_mod, "decode", "decode + validate (events.decode)")
    timed(proc_mod, "step", "pipeline.step (features + risk)")
    timed(pipeline.SubjectDays, "advance", "  of which: day close (SubjectDays.advance)")
    timed(pipeline, "_judge", "  of which: risk (_judge)")
    timed(SubjectState, "to_bytes", "state to_bytes (at flush)")
    timed(SubjectState, "from_bytes", "state from_bytes (cache misses)")
    timed(proc_mod, "encode_record", "encode outputs")

    proc = BatchProcessor(TopicNames("d", "f", "a", "n", "dl", "c"))
    table: dict[str, bytes] = {}
    out = 0
    c0 = CLOCK()
    for i in range(0, len(records), args.batch):
        res = proc.process(records[i : i + args.batch], table.get)
        out += len(res.outgoing)
        for w in proc.take_writes():
            table[w.subject] = w.value
    total = CLOCK() - c0
    n = len(records)
    print(
        f"worker core (no Kafka, no faust): Depresjon {len(files)} subjects, {n:,} day records, "
        f"{n_samples:,} samples, batches of {args.batch}, {out:,} outputs, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU {total:.2f} s: {total / n * 1e3:.2f} ms per record, "
        f"{n_samples / total:,.0f} samples/s of CPU"
    )
    for k, v in sorted(STAGES.items(), key=lambda kv: -kv[1]):
        print(f"  {k:42s} {v / n * 1e3:7.3f} ms/record {v / total:6.1%}")
    inner = sum(v for k, v in STAGES.items() if not k.startswith("  "))
    rest = total - inner
    print(
        f"  {'rest (routing, bookkeeping, lineage)':42s} {rest / n * 1e3:7.3f} ms/record "
        f"{rest / total:6.1%}"
    )


if __name__ == "__main__":
    main()
