"""Memory of an in-process replay of many simulated subjects: RSS over time and its growth
per subject, beside the subjects' state bytes.

Prints a table; not a test. Run from the repository root (Linux: reads /proc):

    .venv/bin/python benchmarks/replay_memory.py --subjects 25 50 --days 28
    .venv/bin/python benchmarks/replay_memory.py --depresjon-copies 2 10 --live 8

``--depresjon-copies K`` replays K renamed copies of every Depresjon recording (symbolic
links under new subject names: 55 K subjects, one file each, as in a population study),
so the growth between two K is the per-subject cost at scale.

For each cohort size a cohort with beat-level RR is simulated once (``phenotyping simulate``,
cached under ``--cache``), then replayed in a fresh process (``replay(..., jobs=1)``) while
a thread samples that process's resident set size every 0.25 s. Growth = RSS at the end of
the replay (result still held) minus RSS after the imports. The target: growth no more
than the subjects' states (10,000 subjects x 90 days < 2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, threading, time
from pathlib import Path

def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

from phenotyping.replay.run import replay
# the module itself (``import phenotyping.replay.run as run`` fails: phenotyping.replay.replay
# is a function that shadows the submodule name on the package)
run = sys.modules["phenotyping.replay.run"]
if int(sys.argv[2]) > 0:
    run.LIVE_STATES = int(sys.argv[2])
start = rss()
samples, stop = [], threading.Event()
t0 = time.perf_counter()
def watch():
    while not stop.is_set():
        samples.append((time.perf_counter() - t0, rss()))
        stop.wait(0.25)
th = threading.Thread(target=watch, daemon=True)
th.start()
result = replay([Path(sys.argv[1])], jobs=1, measure_states=True)
end = rss()
stop.set(); th.join()
n_rows = len(result.daily)
print(json.dumps({
    "start": start, "end": end, "peak": max(s[1] for s in samples),
    "seconds": result.seconds, "samples": result.samples, "rows": n_rows,
    "subjects": len({r["subject_id"] for r in result.recordings}),
    "state_bytes": getattr(result, "state_bytes", None),
    "trace": samples[:: max(1, len(samples) // 12)],
}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, nargs="+", default=[25, 50])
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument(
        "--live", type=int, default=0, help="states kept live (default: the replay's own)"
    )
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "phen-bench")
    ap.add_argument("--depresjon-copies", type=int, nargs="*", default=[])
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.depresjon_copies:
        cohorts = []
        for k in args.depresjon_copies:
            folder = args.cache / f"depresjon-x{k}"
            if not folder.exists():
                folder.mkdir()
                for f in sorted((args.data.resolve() / "depresjon").rglob("*.csv.gz")):
                    for c in range(k):
                        (folder / f"copy{c}_{f.name}").symlink_to(f)
            cohorts.append(folder)
        report(cohorts, args.live, "Depresjon recordings under new names (one file each)")
        return
    cohorts = []
    for n in args.subjects:
        cohort = args.cache / f"sim-{n}x{args.days}.jsonl"
        if not cohort.exists():
            subprocess.run(
                [sys.executable, "-m", "phenotyping.cli", "simulate", "--subjects", str(n),
                 "--days", str(args.days), "--seed", "1", "--out", str(cohort)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        cohorts.append(cohort)
    report(cohorts, args.live, f"simulated cohorts with RR, {args.days} days each")


def report(cohorts: list[Path], live_arg: int, what: str) -> None:
    live = live_arg or "default"
    print(f"in-process replay memory, {what}, live states: {live}")
    print(
        f"{'subjects':>8s} {'RSS start':>10s} {'RSS end':>9s} {'peak':>8s} {'growth':>8s} "
        f"{'per subj':>9s} {'state/subj':>10s} {'samples/s':>10s}"
    )
    for cohort in cohorts:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(cohort), str(live_arg)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        mb = 1 << 20
        growth = r["end"] - r["start"]
        state = r["state_bytes"] / r["subjects"] / 1024 if r["state_bytes"] else float("nan")
        print(
            f"{r['subjects']:8d} {r['start'] / mb:9.0f}M {r['end'] / mb:8.0f}M "
            f"{r['peak'] / mb:7.0f}M {growth / mb:7.0f}M {growth / r['subjects'] / 1024:7.0f}KiB "
            f"{state:8.1f}KiB {r['samples'] / r['seconds']:10,.0f}"
        )
        trace = ", ".join(f"{t:.0f}s {v / mb:.0f}M" for t, v in r["trace"])
        print(f"{'':8s} RSS over time: {trace}")


if __name__ == "__main__":
    main()
