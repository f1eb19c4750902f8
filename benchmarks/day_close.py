"""What closing one subject-day costs: features + risk, with a per-stage breakdown.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/day_close.py [--data ../shared/data] [--subjects 55]

Each recording is streamed twice side by side, message by message, alternating which goes
first: once with the incremental window (the engine's default) and once recomputing the
window from the minutes every day (``SubjectDays(incremental=False)``, the previous
engine's way, kept as the tests' reference), so their ratio is measured under the same
load. The stage breakdown is of the incremental engine.

Every Depresjon recording is streamed message by message through ``pipeline.step`` (one
message = one local day, as a watch that syncs daily); each message closes the day before
the grace period, so every ``step`` that closes exactly one day is one sample of the
day-close cost: ``SubjectDays._close_through`` (features) + ``RiskState.assess`` (risk).
Stages are timed by wrapping the functions the engine calls (the wrapper's own cost,
~1 us per call, is inside the figures). Every figure is CPU time of this process
(``time.process_time``), not wall time: the machine is shared, and a wall-clock
millisecond there holds a quarter of a CPU millisecond or less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from phenotyping.features import day as day_mod
from phenotyping.features import kernels as kn
from phenotyping.pipeline import SubjectState, step
from phenotyping.replay.formats import files_in, read
from phenotyping.risk import engine as risk_mod

STAGES: dict[str, float] = defaultdict(float)
CLOCK = time.process_time  # CPU time: wall time on a shared machine measures the load


def timed(owner: Any, name: str, stage: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its wall time to ``STAGES[stage]``."""
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = CLOCK()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[stage] += CLOCK() - t0

    setattr(owner, name, wrapper)


def instrument() -> None:
    # module attributes are looked up at call time (kn.close_day, kn.window_parts...)
    timed(kn, "close_day", "day kernel (wear, Oakley, sleep period, activity)")
    timed(day_mod.SubjectDays, "_window_features", "7-day window (IS IV L5 M10 cosinor SRI)")
    timed(kn, "window_close", "  of which: window kernel (parts and measures)")
    timed(kn, "midpoint_timing", "  of which: midpoint, social jet lag kernel")
    # a steady clock (one UTC offset over the grid) is one scan of the offsets; a grid with
    # an offset change builds the local minute and date of every grid minute
    timed(kn, "steady_clock", "local clock of the grid (kernels)")
    timed(kn, "local_clock", "local clock of the grid (kernels)")
    timed(kn, "has_data_steady", "has-data mask (kernels)")
    timed(kn, "has_data", "has-data mask (kernels)")
    timed(day_mod.SubjectDays, "night_hrv", "night HRV")
    timed(day_mod.SubjectDays, "_device_night", "device sleep episode")
    timed(day_mod.SubjectDays, "_trim", "trim retained minutes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--subjects", type=int, default=55)
    args = ap.parse_args()
    files = files_in(args.data / "depresjon")[: args.subjects]
    messages = [list(read(f)) for f in files]
    load_start = os.getloadavg()[0]
    # the first close of the process loads the compiled kernels (numba's cache, or compiles
    # them when the cache is cold): timed once, outside the figures
    c0 = CLOCK()
    warm = SubjectState.new()
    for msg in messages[0][:3]:
        step(warm, msg)
    first_close = CLOCK() - c0

    feat_t: list[float] = []
    feat_wall: list[float] = []
    risk_t: list[float] = []
    scratch_cpu: list[float] = []
    paired: list[float] = []
    stage_days = 0
    stage_totals: dict[str, float] = defaultdict(float)
    close = day_mod.SubjectDays._close_through  # noqa: SLF001 (timing the engine)
    assess = risk_mod.RiskState.assess
    last: dict[str, float] = {}

    def close_timed(self: day_mod.SubjectDays, upto: int) -> list[dict[str, Any]]:
        t0, c0 = time.perf_counter(), CLOCK()
        rows = close(self, upto)
        last.update(feat=time.perf_counter() - t0, cpu=CLOCK() - c0, n=len(rows))
        return rows

    def assess_timed(self: risk_mod.RiskState, *a: Any, **k: Any) -> Any:
        t0 = CLOCK()
        out = assess(self, *a, **k)
        last["risk"] = last.get("risk", 0.0) + CLOCK() - t0
        return out

    day_mod.SubjectDays._close_through = close_timed  # type: ignore[method-assign]  # noqa: SLF001
    risk_mod.RiskState.assess = assess_timed  # type: ignore[method-assign]
    for k, msgs in enumerate(messages):
        inc, scratch = SubjectState.new(), SubjectState.new()
        scratch.days.incremental = False
        for i, msg in enumerate(msgs):
            cpu: dict[bool, float] = {}
            for mode in (True, False) if (i + k) % 2 else (False, True):
                last.clear()
                step(inc if mode else scratch, msg)
                if last.get("n") != 1 or "risk" not in last:
                    continue
                cpu[mode] = last["cpu"]
                if mode:
                    feat_t.append(last["cpu"])
                    feat_wall.append(last["feat"])
                    risk_t.append(last["risk"])
            if len(cpu) == 2:
                scratch_cpu.append(cpu[False])
                paired.append(cpu[True] / cpu[False] if cpu[False] else float("nan"))

    # second pass, stages: the wrappers' own cost (a CPU clock read each, ~1 us) would
    # inflate the first pass's figures, so the breakdown is timed separately
    instrument()
    stage_feat: list[float] = []
    stage_risk: list[float] = []
    for msgs in messages:
        inc = SubjectState.new()
        for msg in msgs:
            last.clear()
            STAGES.clear()
            step(inc, msg)
            if last.get("n") != 1 or "risk" not in last:
                continue
            stage_days += 1
            stage_feat.append(last["cpu"])
            stage_risk.append(last["risk"])
            for name, v in STAGES.items():
                stage_totals[name] += v

    total = np.add(feat_t, risk_t)
    ms = 1e3
    print(
        f"day close, Depresjon {len(files)} recordings, {len(total):,} single-day closes, "
        f"{os.cpu_count()} cores, load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(f"first close of the process (loads the compiled kernels): {first_close * ms:.0f} ms")
    print(f"{'':34s} {'median ms':>10s} {'p90 ms':>8s}")
    for what, xs in (
        ("features (SubjectDays close), CPU", feat_t),
        ("  same, wall time", feat_wall),
        ("  window recomputed daily, CPU", scratch_cpu),
        ("risk (RiskState.assess), CPU", risk_t),
        ("total CPU (target <= 0.3 ms)", list(total)),
    ):
        print(f"{what:34s} {statistics.median(xs) * ms:10.3f} {np.percentile(xs, 90) * ms:8.3f}")
    print(
        f"incremental / recomputed features, paired per day (CPU): median "
        f"{np.nanmedian(paired):.2f}"
    )
    print()
    print(
        f"per-stage breakdown (second pass, stages timed; mean ms per day over {stage_days:,} "
        f"closes, share of features + risk):"
    )
    mean_total = float(np.mean(np.add(stage_feat, stage_risk)))
    rows = sorted(stage_totals.items(), key=lambda kv: -kv[1])
    rows.append(("risk engine (other engineer's area)", float(np.sum(stage_risk))))
    for k, v in rows:
        m = v / max(stage_days, 1)
        print(f"  {k:44s} {m * ms:7.3f} ms {m / mean_total:6.1%}")
    inner = sum(v for k, v in stage_totals.items() if not k.startswith("  "))
    rest = (float(np.sum(stage_feat)) - inner) / max(stage_days, 1)
    print(
        f"  {'rest of the close (searches, row dict, ...)':44s} {rest * ms:7.3f} ms "
        f"{rest / mean_total:6.1%}"
    )


if __name__ == "__main__":
    main()
