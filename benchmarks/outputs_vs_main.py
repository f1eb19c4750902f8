"""Every output of a replay, compared between two versions of the code (not a test).

Replays Depresjon, Psykose, MMASH and a simulated cohort with beat-level RR (6 subjects x
40 days, seed 3) in-process and pickles every daily row, alert, notice and recording
summary; then compares two such files value by value (type, NaN, float difference). Run
it once per version, the other version's package first on ``PYTHONPATH``:

    git archive main phenotyping | tar -x -C /tmp/main
    PYTHONPATH=/tmp/main .venv/bin/python benchmarks/outputs_vs_main.py dump /tmp/main.pkl
    .venv/bin/python benchmarks/outputs_vs_main.py dump /tmp/branch.pkl
    .venv/bin/python benchmarks/outputs_vs_main.py compare /tmp/main.pkl /tmp/branch.pkl
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import phenotyping
from phenotyping.simulate.spec import CohortSpec
from phenotyping.simulate.uploads import simulate, write_jsonl


def dump(data: Path, out: Path) -> None:
    run = importlib.import_module("phenotyping.replay.run")  # the package attribute is a function
    print(f"code from {Path(phenotyping.__file__).parent}")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "cohort.jsonl"
        write_jsonl(simulate(CohortSpec(n_subjects=6, days=40, seed=3, rr=True)), sim)
        sets = {
            "depresjon": [data / "depresjon"],
            "psykose": [data / "psykose" / "patient"],
            "mmash": [data / "mmash"],
            "simulated": [sim],
        }
        for name, paths in sets.items():
            t0 = time.process_time()
            res = run.replay(paths)
            result[name] = {
                "daily": [dict(r) for r in res.daily],
                # lists: a replay may hold them in a temporary file (not picklable)
                "alerts": list(res.alerts),
                "notices": list(res.notices),
                "recordings": list(res.recordings),
            }
            cpu = time.process_time() - t0
            print(f"{name}: {len(result[name]['daily']):,} daily rows, {cpu:.1f} s CPU")
    out.write_bytes(pickle.dumps(result))


def _walk(x: Any, y: Any, path: str, acc: dict[str, Any]) -> None:
    if type(x) is not type(y):
        acc["other"].append((path, type(x).__name__, type(y).__name__))
    elif isinstance(x, dict):
        if list(x) != list(y):
            acc["other"].append((path, "keys differ"))
        else:
            for k in x:
                _walk(x[k], y[k], f"{path}.{k}", acc)
    elif isinstance(x, list | tuple):
        if len(x) != len(y):
            acc["other"].append((path, "lengths differ"))
        else:
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                _walk(u, v, f"{path}[{i}]", acc)
    elif isinstance(x, float):
        acc["values"] += 1
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                acc["other"].append((path, x, y))
        elif x != y:
            acc["differ"] += 1
            rel = abs(x - y) / max(abs(x), abs(y))
            worst = "worst_z" if ".z_" in path else "worst"
            if rel > acc[worst][0]:
                acc[worst] = (rel, path, x, y)
    else:
        acc["values"] += 1
        if x != y:
            acc["other"].append((path, x, y))


def compare(a_path: Path, b_path: Path) -> None:
    a, b = pickle.loads(a_path.read_bytes()), pickle.loads(b_path.read_bytes())
    for name in a:
        acc: dict[str, Any] = {"values": 0, "differ": 0, "other": [], "worst": (0.0,)}
        acc["worst_z"] = (0.0,)
        _walk(a[name], b[name], name, acc)
        print(
            f"{name}: {acc['values']:,} values, {acc['differ']:,} floats differ, "
            f"{len(acc['other'])} other differences (types, keys, NaN, non-floats)"
        )
        for what, label in (("worst", "largest relative difference"), ("worst_z", "  in z")):
            w = acc[what]
            if w[0]:
                print(f"  {label}: {w[0]:.2g} at {w[1]} ({w[2]!r} vs {w[3]!r})")
        for item in acc["other"][:5]:
            print("  ", item)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.data, args.out)
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()
