"""Evaluation of the relapse-risk engine (issue 10): runs :mod:`phenotyping.evaluate` and
writes the report tables.

Run from the repository root::

    .venv/bin/python benchmarks/evaluate_risk.py [--data ../shared/data] [--seeds 10]
        [--half reporting|tuning] [--jobs 2] [--cache .cache/evaluate] [--out FILE]

Prints Markdown (``--out`` also writes it). Day-feature rows are cached per subject and seed
under ``--cache`` (delete it after changing the day engine); the risk engine is re-run on
them every time. ``--smoke`` runs 2 subjects, 1 seed, 3 scenarios (the CI check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from phenotyping.evaluate import harness
from phenotyping.evaluate.runner import N_WEEKS, ONSET, load_source
from phenotyping.evaluate.scenarios import SCENARIOS
from phenotyping.replay.formats.actiwatch import read_actiwatch
from phenotyping.risk.engine import RiskParams


def main(argv: Sequence[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_data = Path(
        os.environ.get("PHENOTYPING_DATA", Path(__file__).parents[2] / "shared/data")
    )
    ap.add_argument("--data", type=Path, default=default_data)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--half", choices=("reporting", "tuning"), default="reporting")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path(".cache/evaluate"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="a RiskParams field"
    )
    ap.add_argument("--scenarios", default="", help="comma-separated subset (default: all)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    controls = [f"control_{i}" for i in range(1, 33)]
    tuning, reporting = harness.split(controls)
    chosen = reporting if args.half == "reporting" else tuning
    seeds = list(range(args.seeds))
    names: Sequence[str] = tuple(args.scenarios.split(",")) if args.scenarios else tuple(SCENARIOS)
    if args.smoke:
        chosen, seeds, names = chosen[:2], seeds[:1], ("null", "step", "holiday")
    dep = args.data / "depresjon" / "control"
    sources = {s: load_source(s, read_actiwatch(dep / f"{s}.csv.gz")) for s in chosen}
    print(f"[{time.perf_counter() - t0:.0f} s] {len(sources)} recordings read", file=sys.stderr)
    fields = {f.name: f.type for f in dataclasses.fields(RiskParams)}
    overrides: dict[str, object] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: {key!r} is not a RiskParams field")
        overrides[key] = json.loads(value)
    params = dataclasses.replace(RiskParams(), **overrides)
    records = harness.collect(
        sources, seeds, params, scenarios=names, cache=args.cache, jobs=args.jobs
    )
    print(f"[{time.perf_counter() - t0:.0f} s] {len(records)} runs", file=sys.stderr)
    summary = harness.summarise(records)
    text = "\n".join(
        [
            "## Relapse-risk engine: Depresjon controls, weekly block-bootstrap surrogates",
            "",
            f"Half: **{args.half}** ({', '.join(chosen)}). Surrogates of {N_WEEKS} weeks, "
            f"injection from day {ONSET + 1} (a Monday). Engine settings changed from the "
            f"defaults: `{overrides}`.",
            "",
            harness.report(summary, f"{args.half} half"),
            f"Produced by `python benchmarks/evaluate_risk.py {' '.join(sys.argv[1:])}` "
            f"in {time.perf_counter() - t0:.0f} s.",
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text)
    return text


if __name__ == "__main__":
    main()
