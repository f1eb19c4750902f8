"""In-process replay throughput over all of Depresjon, as ratios measured inside one run,
and per-subject state size.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/replay_throughput.py [--data ../shared/data] [--repeat 3]

The machine is shared, so absolute rates move with the load; the targets are ratios, and
each round measures the three things back to back (parse only, replay on one process,
replay on two), best of ``--repeat`` rounds:

* parse + validate only: the readers and the message validation, no pipeline;
* full replay, 1 process: ``replay(paths, jobs=1)`` -- parse, validate, features, risk,
  outputs -- target >= 70 % of the parse-only rate of the same run and >= 1 M samples/s;
* full replay, 2 processes: ``jobs=2`` -- target >= 1.8x one process.

CPU seconds of this process are shown beside wall seconds for the in-process rows (the
two-process row's work is in its children): on a loaded machine the CPU ratio is the
steadier estimate of what the code costs. Throughput counts samples (minutes of activity).
The state size is the compressed ``SubjectState.to_bytes()`` -- what a Kafka worker stores
per subject -- measured after every message; the table gives the largest value per subject.
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


def parse_only(paths: list[Path]) -> tuple[float, float, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for msg in (m for p in paths for m in read(p)):
        n += samples(msg)
    return time.perf_counter() - t0, time.process_time() - c0, n


def full(paths: list[Path], jobs: int) -> tuple[float, float, int]:
    c0 = time.process_time()
    r = replay(paths, jobs=jobs)
    return r.seconds, time.process_time() - c0, r.samples


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
    ap.add_argument("--no-state", action="store_true", help="skip the state-size pass")
    args = ap.parse_args()
    paths = [args.data / "depresjon"]
    jobs2 = max(2, min(2, os.cpu_count() or 2))

    runs: dict[str, list[tuple[float, float, int]]] = {"parse": [], "one": [], "two": []}
    for _ in range(args.repeat):  # interleaved: each round sees the same load
        runs["parse"].append(parse_only(paths))
        runs["one"].append(full(paths, 1))
        runs["two"].append(full(paths, jobs2))
    best = {k: min(v, key=lambda r: r[0]) for k, v in runs.items()}
    cpu = {k: min(r[1] for r in v) for k, v in runs.items()}
    n = best["one"][2]
    rate = {k: best[k][2] / best[k][0] for k in best}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Depresjon: {n:,} samples (minutes), {len(files_in(paths[0]))} recordings, "
        f"best of {args.repeat} interleaved rounds, {os.cpu_count()} cores, "
        f"load average {load:.1f}"
    )
    print(f"{'what':36s} {'wall s':>7s} {'CPU s':>7s} {'samples/s':>11s} {'ratio':>22s}")
    rows = (
        ("parse + validate only (1 process)", "parse", ""),
        ("full replay, 1 process", "one", f"{rate['one'] / rate['parse']:.0%} of parse"),
        (f"full replay, {jobs2} processes", "two", f"{rate['two'] / rate['one']:.2f}x one"),
    )
    for what, k, ratio in rows:
        c = f"{cpu[k]:7.2f}" if k != "two" else f"{'-':>7s}"
        print(f"{what:36s} {best[k][0]:7.2f} {c} {rate[k]:11,.0f} {ratio:>22s}")
    cpu_ratio = (n / cpu["one"]) / (best["parse"][2] / cpu["parse"])
    print(f"replay/parse by CPU time of this process: {cpu_ratio:.0%}")
    print()
    checks = (
        ("1 process >= 70% of parse-only", rate["one"] / rate["parse"] >= 0.70),
        ("1 process >= 1 M samples/s", rate["one"] >= 1e6),
        (f"{jobs2} processes >= 1.8x one", rate["two"] / rate["one"] >= 1.8),
    )
    for what, ok in checks:
        print(f"target {what:34s} {'met' if ok else 'MISSED'}")

    if not args.no_state:
        sizes = state_sizes(paths)
        print()
        print("per-subject state (compressed to_bytes, peak during the replay):")
        print(
            f"  median {statistics.median(sizes) / 1024:.1f} KiB, "
            f"max {max(sizes) / 1024:.1f} KiB over {len(sizes)} subjects (target <= 64 KiB)"
        )


if __name__ == "__main__":
    main()
