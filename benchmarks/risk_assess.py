"""What ``RiskState.assess`` costs alone, per subject-day (CPU), optionally paired with
another version of the code in the same run. Prints a table; not a test.

    .venv/bin/python benchmarks/risk_assess.py [--rounds 5] [--against /tmp/main] [--profile]

The daily rows the engine is given in a replay of all of Depresjon (1,144 rows, 55
subjects) are captured once (``replay`` with ``RiskState.assess`` wrapped), then replayed
into fresh ``RiskState`` objects, round after round; every call is timed with
``time.process_time``. With ``--against DIR`` (a ``git archive`` of another commit, e.g.
``git archive main phenotyping | tar -x -C /tmp/main``) each round runs both versions in
child processes, in alternating order, on the same rows, and checks that they gave the
same outputs (a digest of every risk column, alert, notice and serialised state).
``--profile`` prints the top of a cProfile (CPU clock) of one more round of this version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLOCK = time.process_time


def capture(data: Path, out: Path) -> int:
    from phenotyping.replay.run import replay
    from phenotyping.risk import engine

    rows: list[tuple[str, dict[str, Any]]] = []
    assess = engine.RiskState.assess

    def recording(self: engine.RiskState, subject: str, row: dict[str, Any]) -> Any:
        rows.append((subject, dict(row)))
        return assess(self, subject, row)

    engine.RiskState.assess = recording  # type: ignore[method-assign]
    try:
        replay([data / "depresjon"])
    finally:
        engine.RiskState.assess = assess  # type: ignore[method-assign]
    out.write_bytes(pickle.dumps(rows))
    return len(rows)


def one_round(rows: list[tuple[str, dict[str, Any]]]) -> tuple[list[float], str]:
    from phenotyping.risk.engine import RiskState

    states: dict[str, RiskState] = {}
    times: list[float] = []
    digest = hashlib.sha256()
    for subject, row in rows:
        state = states.get(subject)
        if state is None:
            state = states[subject] = RiskState()
        r = dict(row)
        t0 = CLOCK()
        out = state.assess(subject, r)
        times.append(CLOCK() - t0)
        digest.update(repr(out).encode())
    for subject in sorted(states):
        digest.update(states[subject].to_bytes())
    return times, digest.hexdigest()[:16]


def child(rows_file: Path, rounds: int) -> None:
    rows = pickle.loads(rows_file.read_bytes())
    one_round(rows)  # loads the kernels, warms the caches
    out = []
    for _ in range(rounds):
        times, digest = one_round(rows)
        out.append({"times": times, "digest": digest})
    print(json.dumps(out))


def run_version(path: Path | None, rows_file: Path, rounds: int) -> list[dict[str, Any]]:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    cmd = [sys.executable, __file__, "--child", str(rows_file), "--rounds", str(rounds)]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another version's package directory")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.pkl"
        n = capture(args.data, rows_file)
        load = os.getloadavg()[0]
        versions: dict[str, Path | None] = {"this version": None}
        if args.against:
            versions[f"{args.against}"] = args.against
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in versions}
        for r in range(args.rounds):  # one round each at a time, alternating who goes first
            order = list(versions) if r % 2 == 0 else list(versions)[::-1]
            for name in order:
                runs[name] += run_version(versions[name], rows_file, 1)
        print(
            f"RiskState.assess alone, Depresjon's {n:,} daily rows replayed into fresh states, "
            f"{args.rounds} rounds, load average {load:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; CPU per call"
        )
        print(f"{'':40s} {'median ms':>10s} {'mean ms':>9s} {'p90 ms':>8s}  digest")
        medians = {}
        for name, rounds in runs.items():
            med = min(statistics.median(x["times"]) for x in rounds)  # the least disturbed
            mean = min(statistics.fmean(x["times"]) for x in rounds)
            p90 = min(sorted(x["times"])[int(0.9 * len(x["times"]))] for x in rounds)
            digests = {x["digest"] for x in rounds}
            medians[name] = med
            print(
                f"{name[-40:]:40s} {med * 1e3:10.4f} {mean * 1e3:9.4f} {p90 * 1e3:8.4f}  "
                f"{','.join(sorted(digests))}"
            )
        if args.against:
            same = len({d for rs in runs.values() for d in (x["digest"] for x in rs)}) == 1
            ratio = medians[str(args.against)] / medians["this version"]
            print(f"outputs identical: {same}; the other version / this one (median): {ratio:.2f}x")
        if args.profile:
            import cProfile
            import pstats

            rows = pickle.loads(rows_file.read_bytes())
            one_round(rows)
            prof = cProfile.Profile(CLOCK)
            prof.enable()
            one_round(rows)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
