"""Memory of an in-process replay of many simulated subjects: RSS over time and its growth
per subject, beside the subjects' state bytes.

Prints a table; not a test. Run from the repository root (Linux: reads /proc):

    .venv/bin/python benchmarks/replay_memory.py --subjects 25 50 --days 28
    .venv/bin/python benchmarks/replay_memory.py --depresjon-copies 2 10 --live 8

``--depresjon-copies K`` replays K renamed copies of every Depresjon recording (symbolic
links under new subject names: 55 K subjects, one file each, as in a population study),
so the growth between two K is the per-subject cost at scale. ``--tile-days D`` makes each
of those recordings ~D days long first: K consecutive copies of the recording in time, copy
c shifted by c times the recording's span plus one minute (the wall clock continues minute
by minute; ``date`` follows the timestamp), written once as gzip under
``--cache/depresjon-tiled-D`` (55 files, ~0.5 MB each per 20 days) and reused:

    .venv/bin/python benchmarks/replay_memory.py --depresjon-copies 10 --tile-days 90

A tiled copy crossing a daylight-saving change in Europe/Oslo may lose the hour that does
not exist, or not repeat the one that does: those rows are dropped and counted by the reader.

For each cohort size a cohort with beat-level RR is simulated once (``phenotyping simulate``,
cached under ``--cache``), then replayed in a fresh process (``replay(..., jobs=1)``) while
a thread samples that process's resident set size every 0.25 s. Growth = RSS at the end of
the replay (result still held) minus RSS after the imports. The target: growth no more
than the subjects' states (10,000 subjects x 90 days < 2 GB).

Beside the table, for each cohort: the **growth per subject** -- the least-squares slope
of RSS (and of the bytes malloc has handed out, glibc's ``mallinfo2``) against the number
of recordings started, from when the live states are all taken (1.1 x ``LIVE_STATES``
subjects) to the start of the last recording -- and the **state it compares against**:
the mean compressed size of the states parked just before the final closes, and the mean
``to_bytes`` size at the end. Then RSS at the end and after one ``malloc_trim(0)`` (how
much of it is freed memory the allocator kept), and the CPU time. ``--trim-every N`` is
an experiment: ``malloc_trim(0)`` before every N-th recording, its CPU time printed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import ctypes, json, sys, threading, time, weakref
from pathlib import Path

def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

libc = ctypes.CDLL("libc.so.6")

class MallInfo2(ctypes.Structure):  # glibc >= 2.33
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc.mallinfo2.restype = MallInfo2

def malloc_used():  # bytes malloc has handed out and not had back (heap + mmapped chunks)
    m = libc.mallinfo2()
    return m.uordblks + m.hblkhd

from phenotyping.replay.run import replay
# the module itself (``import phenotyping.replay.run as run`` fails: phenotyping.replay.replay
# is a function that shadows the submodule name on the package)
run = sys.modules["phenotyping.replay.run"]
if int(sys.argv[2]) > 0:
    run.LIVE_STATES = int(sys.argv[2])
live = run.LIVE_STATES
top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
files = [0]  # recordings started (one subject each in --depresjon-copies)
trim_every = int(sys.argv[4]) if len(sys.argv) > 4 else 0  # an experiment: malloc_trim(0)
trim_s = [0.0]
read = run.read
def counting_read(*a, **k):
    files[0] += 1
    if trim_every and files[0] % trim_every == 0:
        t = time.process_time()
        libc.malloc_trim(0)
        trim_s[0] += time.process_time() - t
    return read(*a, **k)
run.read = counting_read
stores = []  # the replay's ParkedStates (weakly: it is freed with the replay's end)
class Store(run.ParkedStates):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        stores.append(weakref.ref(self))
run.ParkedStates = Store
parked = {}
flush = run.flush
def sizing_flush(*a, **k):
    st = stores[0]() if stores else None
    if not parked and st is not None:
        n = st.parked() if hasattr(st, "parked") else len(st._parked)  # older versions too
        disk = st.file_bytes() if hasattr(st, "file_bytes") else 0  # 0: parked in memory
        parked.update(n=n, bytes=st.parked_bytes(), live=len(st._live), file=disk)
    return flush(*a, **k)
run.flush = sizing_flush
if top:
    import tracemalloc
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
start, start_malloc, cpu0 = rss(), malloc_used(), time.process_time()
samples, stop = [], threading.Event()
t0 = time.perf_counter()
def watch():
    while not stop.is_set():
        samples.append((time.perf_counter() - t0, files[0], rss(), malloc_used()))
        stop.wait(0.25)
th = threading.Thread(target=watch, daemon=True)
th.start()
result = replay([Path(sys.argv[1])], jobs=1, measure_states=True)
end, end_malloc, cpu = rss(), malloc_used(), time.process_time() - cpu0
stop.set(); th.join()
libc.malloc_trim(0)  # what of the end's RSS is freed memory the allocator kept
trimmed = rss()
if top:  # what the replay holds at its end, by line, beside what it held before
    after = tracemalloc.take_snapshot()
    for d in after.compare_to(before, "lineno")[:top]:
        print(f"{d.size_diff / 1024:10.0f} KiB {d.count_diff:9d} blocks {d.traceback}",
              file=sys.stderr)
n_rows = len(result.daily)
print(json.dumps({
    "start": start, "end": end, "peak": max(s[2] for s in samples), "trimmed": trimmed,
    "start_malloc": start_malloc, "end_malloc": end_malloc,
    "seconds": result.seconds, "cpu": cpu, "samples": result.samples, "rows": n_rows,
    "subjects": len(result.recordings), "files": files[0], "live": live,
    "state_bytes": getattr(result, "state_bytes", None), "parked": parked,
    "alerts": len(result.alerts), "notices": len(result.notices), "trim_s": trim_s[0],
    "all": samples,
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
    ap.add_argument(
        "--tracemalloc", type=int, default=0, metavar="N",
        help="also print the N lines whose allocations grew most (slow: for small cohorts)",
    )  # fmt: skip
    ap.add_argument(
        "--trim-every", type=int, default=0, metavar="N",
        help="an experiment: call malloc_trim(0) before every N-th recording",
    )  # fmt: skip
    ap.add_argument(
        "--tile-days", type=int, default=0,
        help="with --depresjon-copies: tile each recording in time to about this many days",
    )  # fmt: skip
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.depresjon_copies:
        sources = sorted((args.data.resolve() / "depresjon").rglob("*.csv.gz"))
        tag, what = "", "Depresjon recordings under new names (one file each)"
        if args.tile_days:
            sources = tiled(
                sources, args.cache / f"depresjon-tiled-{args.tile_days}", args.tile_days
            )
            tag, what = f"-t{args.tile_days}", f"Depresjon tiled to ~{args.tile_days} days, renamed"
        cohorts = []
        for k in args.depresjon_copies:
            folder = args.cache / f"depresjon{tag}-x{k}"
            if not folder.exists():
                folder.mkdir()
                for f in sources:
                    for c in range(k):
                        (folder / f"copy{c}_{f.name}").symlink_to(f)
            cohorts.append(folder)
        report(cohorts, args.live, what, args.tracemalloc, args.trim_every)
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
    report(
        cohorts,
        args.live,
        f"simulated cohorts with RR, {args.days} days each",
        args.tracemalloc,
        args.trim_every,
    )


def tiled(sources: list[Path], folder: Path, days: int) -> list[Path]:
    """Each recording tiled in time to >= ``days`` days (cached in ``folder``): copy c of the
    rows shifted by c x (span + 1 minute), so the minutes run on without a gap or overlap."""
    import numpy as np
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sources:
        dest = folder / f.name
        out.append(dest)
        if dest.exists():
            continue
        df = pd.read_csv(f, dtype={"timestamp": str, "date": str, "activity": str})
        ts = pd.to_datetime(df["timestamp"]).to_numpy().astype("datetime64[m]")
        step = ts[-1] - ts[0] + np.timedelta64(1, "m")
        k = -(-days * 1440 // int(step.astype(np.int64)))  # copies: ceil(days / span)
        wall = np.concatenate([ts + c * step for c in range(k)])
        stamp = np.char.replace(np.datetime_as_string(wall, unit="m"), "T", " ")
        counts = np.tile(df["activity"].to_numpy(dtype=str), k)
        lines = [
            f"{t}:00,{t[:10]},{a}\n" for t, a in zip(stamp.tolist(), counts.tolist(), strict=True)
        ]
        tmp = dest.with_suffix(".tmp")
        with gzip.open(tmp, "wt", compresslevel=1) as fh:
            fh.write("timestamp,date,activity\n")
            fh.writelines(lines)
        tmp.rename(dest)
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y on x (NaN with fewer than 3 points or one x)."""
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return float("nan")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def report(
    cohorts: list[Path], live_arg: int, what: str, top: int = 0, trim_every: int = 0
) -> None:
    live = live_arg or "default"
    print(f"in-process replay memory, {what}, live states: {live}")
    print(
        f"{'subjects':>8s} {'RSS start':>10s} {'RSS end':>9s} {'peak':>8s} {'growth':>8s} "
        f"{'per subj':>9s} {'state/subj':>10s} {'samples/s':>10s}"
    )
    kib, mb = 1024, 1 << 20
    for cohort in cohorts:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(cohort), str(live_arg), str(top), str(trim_every)],
            check=True,
            capture_output=True,
            text=True,
        )
        out = done.stdout
        if top:
            print(done.stderr, end="")
        r = json.loads(out.strip().splitlines()[-1])
        growth = r["end"] - r["start"]
        state = r["state_bytes"] / r["subjects"] / kib if r["state_bytes"] else float("nan")
        print(
            f"{r['subjects']:8d} {r['start'] / mb:9.0f}M {r['end'] / mb:8.0f}M "
            f"{r['peak'] / mb:7.0f}M {growth / mb:7.0f}M {growth / r['subjects'] / kib:7.0f}KiB "
            f"{state:8.1f}KiB {r['samples'] / r['seconds']:10,.0f}"
        )
        samples = r["all"]
        trace = ", ".join(
            f"{t:.0f}s {v / mb:.0f}M" for t, _, v, _ in samples[:: max(1, len(samples) // 12)]
        )
        print(f"{'':8s} RSS over time: {trace}")
        # the slope: from when the live states are all taken (and a tenth more subjects, so
        # the step of the live set is behind) to the last recording's start (the final closes
        # after it park nothing more)
        first = int(r["live"] * 1.1) + 1
        steady = [s for s in samples if first <= s[1] < r["files"]]
        per_rss = slope([(f, v) for _, f, v, _ in steady]) / kib
        per_malloc = slope([(f, m) for _, f, _, m in steady]) / kib
        p = r["parked"]
        parked = p["bytes"] / p["n"] / kib if p.get("n") else float("nan")
        span = f"subjects {steady[0][1]}-{steady[-1][1]}" if steady else "too few subjects"
        print(
            f"{'':8s} growth per subject past the live states ({span}, {len(steady)} samples): "
            f"RSS {per_rss:.1f} KiB, malloc in use {per_malloc:.1f} KiB"
        )
        print(
            f"{'':8s} against a state of {parked:.1f} KiB parked (mean of the {p.get('n', 0)} "
            f"parked before the final closes) and {state:.1f} KiB at the end (to_bytes); "
            f"{r['live']} live states; parked states' file {p.get('file', 0) / mb:.0f} MB"
        )
        print(
            f"{'':8s} at the end: RSS {r['end'] / mb:.0f}M, {r['trimmed'] / mb:.0f}M after "
            f"malloc_trim(0); malloc in use {r['start_malloc'] / mb:.0f}M -> "
            f"{r['end_malloc'] / mb:.0f}M; {r['rows']:,} rows, {r['alerts']:,} alerts, "
            f"{r['notices']:,} notices; {r['cpu']:.1f} s CPU, "
            f"{r['samples'] / r['cpu']:,.0f} samples per CPU-second"
        )
        if trim_every:
            print(
                f"{'':8s} malloc_trim(0) every {trim_every} recording(s): {r['trim_s']:.2f} s CPU"
            )


if __name__ == "__main__":
    main()
