"""Reader throughput per format: recordings -> validated wire messages, nothing else.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/reader_throughput.py [--data ../shared/data] [--repeat 3]
        [--only fitbit]

Each row reads its input with ``phenotyping.replay.formats.read`` in a fresh child process
(so the peak resident memory of the row is its own) and counts samples the way the pipeline
does (``events.samples``: epochs, beats; 1 per episode, summary or event). The time is the
best of ``--repeat`` runs; the peak RSS is the child's ``ru_maxrss`` (Python + NumPy +
pandas included, ~100 MB of it is the interpreter with those libraries imported).

Add a format: append ``(format, label, path)`` rows to :func:`cases`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def cases(data: Path) -> list[tuple[str, str, Path]]:
    """(format, what, path) of every row; rows whose input is absent are reported as such."""
    pm = data / "pmdata"
    return [
        ("fitbit", "PMData p10 (minute steps, sleep, daily files, wellness)", pm / "p10"),
        ("fitbit", "PMData p01 (no steps.json: sleep, daily files, wellness)", pm / "p01"),
        ("fitbit", "PMData, all 11 exports", pm),
    ]


def _one(fmt: str, path: Path) -> dict[str, float]:
    """Child process: read once, report seconds, samples, messages and peak RSS."""
    from phenotyping import events
    from phenotyping.replay.formats import ReadReport, read

    report = ReadReport()
    t0 = time.perf_counter()
    samples = messages = 0
    for msg in read(path, fmt, report):
        samples += events.samples(msg)
        messages += 1
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "samples": samples,
        "messages": messages,
        "rows": report.rows,
        "peak_mb": peak_kb / 1024,
    }


def _run(fmt: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default=None, help="only the rows of this format")
    ap.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.child[0], Path(args.child[1]))))
        return

    header = (
        f"{'format':<8} {'input':<58} {'rows':>9} {'messages':>9} {'samples':>10} "
        f"{'best s':>7} {'samples/s':>11} {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    for fmt, what, path in cases(args.data):
        if args.only and fmt != args.only:
            continue
        if not path.exists():
            print(f"{fmt:<8} {what:<58} (input not found: {path})")
            continue
        runs = [_run(fmt, path) for _ in range(max(args.repeat, 1))]
        best = min(runs, key=lambda r: r["seconds"])
        peak = max(r["peak_mb"] for r in runs)
        rate = best["samples"] / max(best["seconds"], 1e-9)
        print(
            f"{fmt:<8} {what:<58} {best['rows']:>9,.0f} {best['messages']:>9,.0f} "
            f"{best['samples']:>10,.0f} {best['seconds']:>7.2f} {rate:>11,.0f} {peak:>11.0f}"
        )
    print(f"\n{os.cpu_count()} core(s); best of {args.repeat}; reading only (no pipeline)")


if __name__ == "__main__":
    main()
