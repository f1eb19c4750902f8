"""In-process replay throughput over all of Depresjon, and per-subject state size.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/replay_throughput.py [--data ../shared/data] [--repeat 3]

Throughput counts samples (minutes of activity) per second *including* CSV parsing,
message validation and feature computation. The state size is the compressed
``SubjectDays.to_bytes()`` envelope -- what a Kafka worker stores per subject -- measured
after every message; the table gives the largest value seen per subject.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from phenotyping.events import samples
from phenotyping.pipeline import SubjectState, step
from phenotyping.replay.formats import files_in, read
from phenotyping.replay.run import replay


def parse_only(paths: list[Path]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for msg in (m for p in paths for m in read(p)):
        n += samples(msg)
    return time.perf_counter() - t0, n


def state_sizes(paths: list[Path]) -> list[int]:
    peaks = []
    for f in (f for p in paths for f in files_in(p)):
        state, peak = SubjectState.new(), 0
        for msg in read(f):
            step(state, msg)
            peak = max(peak, len(state.to_bytes()))
        peaks.append(peak)
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    paths = [args.data / "depresjon"]

    rows = []
    t_parse, n = min(parse_only(paths) for _ in range(args.repeat))
    rows.append(("parse + validate only (1 process)", t_parse, n))
    for jobs in (1, os.cpu_count() or 1):
        best = min((replay(paths, jobs=jobs) for _ in range(args.repeat)), key=lambda r: r.seconds)
        rows.append((f"full replay, {jobs} process(es)", best.seconds, best.samples))

    base = rows[1][2] / rows[1][1]
    print(
        f"Depresjon: {rows[1][2]:,} samples (minutes), {len(files_in(paths[0]))} recordings, "
        f"best of {args.repeat}, {os.cpu_count()} cores"
    )
    print(f"{'what':38s} {'seconds':>8s} {'samples/s':>12s} {'vs 1 process':>13s}")
    for what, sec, n in rows:
        print(f"{what:38s} {sec:8.2f} {n / sec:12,.0f} {n / sec / base:12.2f}x")

    sizes = state_sizes(paths)
    print()
    print("per-subject state (compressed to_bytes, peak during the replay):")
    print(
        f"  median {statistics.median(sizes) / 1024:.1f} KiB, "
        f"max {max(sizes) / 1024:.1f} KiB over {len(sizes)} subjects (target <= 64 KiB)"
    )


if __name__ == "__main__":
    main()
