"""The ``phenotyping`` command: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from phenotyping import __version__
from phenotyping.errors import PhenotypingError

if TYPE_CHECKING:
    from phenotyping.config import Settings

OUTPUT_FILES = "daily_features.csv, recording_summary.csv, alerts.jsonl, notices.jsonl, report.json"


def _settings(args: argparse.Namespace) -> Settings:
    """Settings of this run (defaults < --config/PHENOTYPING_CONFIG < environment), printed."""
    from phenotyping.config import load_settings

    settings = load_settings(getattr(args, "config", None))
    if not getattr(args, "quiet", False):
        print("settings (engine, risk; all in settings.txt):")
        for line in settings.describe().splitlines():
            if line.startswith("[kafka]"):
                break
            print(f"  {line}")
    return settings


def _replay(args: argparse.Namespace) -> int:
    from phenotyping.replay.run import replay, write_outputs

    if args.broker:
        print(
            "error: --broker (replay into Kafka) is not available yet; "
            "omit it to replay in-process",
            file=sys.stderr,
        )
        return 2
    settings = _settings(args)
    result = replay(
        args.paths,
        fmt=args.format,
        params=settings.engine,
        risk=settings.risk,
        progress=not args.quiet and sys.stderr.isatty(),
        jobs=args.jobs,
    )
    write_outputs(result, args.out)
    (args.out / "settings.txt").write_text(settings.describe() + "\n")
    for line in result.summary_lines():
        print(line)
    print(f"wrote {args.out}/: {OUTPUT_FILES}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from phenotyping.replay.simulate import CohortSpec, simulate, write_jsonl

    spec = CohortSpec(n_subjects=args.subjects, days=args.days, seed=args.seed)
    n = write_jsonl(simulate(spec), args.out)
    print(f"wrote {n:,} messages for {args.subjects} subject(s) x {args.days} day(s) to {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from phenotyping.replay.run import replay, write_outputs
    from phenotyping.replay.simulate import CohortSpec, simulate, write_jsonl

    args.out.mkdir(parents=True, exist_ok=True)
    cohort = args.out / "cohort.jsonl"
    spec = CohortSpec(n_subjects=args.subjects, days=args.days, seed=args.seed)
    n = write_jsonl(simulate(spec), cohort)
    print(f"simulated {args.subjects} subjects x {args.days} days: {n:,} messages -> {cohort}")
    result = replay([cohort], fmt="jsonl")
    write_outputs(result, args.out)
    for line in result.summary_lines():
        print(line)
    print(f"wrote {args.out}/: {OUTPUT_FILES}")
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from phenotyping.events import json_schemas

    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (args.out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(args.out / name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phenotyping",
        description="Wearable-driven digital phenotyping: daily behavioural features from "
        "sleep, activity and heart-beat streams.",
    )
    parser.add_argument("--version", action="version", version=f"phenotyping {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="replay recorded streams through the pipeline")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders of recordings")
    p.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "actiwatch", "mmash", "jsonl"],
        help="recording format",
    )
    p.add_argument("--broker", default=None, help="publish into Kafka instead (not yet)")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing the recordings (default: all cores; same result)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no settings")
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    p.set_defaults(func=_replay)

    p = sub.add_parser("simulate", help="write a synthetic cohort as JSONL wire messages")
    p.add_argument("--subjects", type=int, default=8)
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("cohort.jsonl"))
    p.set_defaults(func=_simulate)

    p = sub.add_parser("demo", help="simulate a small cohort and replay it in-process")
    p.add_argument("--out", type=Path, default=Path("demo"))
    p.add_argument("--subjects", type=int, default=6)
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)

    p = sub.add_parser("schemas", help="write the JSON Schema of every wire message")
    p.add_argument("--out", type=Path, default=Path("schemas"))
    p.set_defaults(func=_schemas)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except PhenotypingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, EOFError) as exc:  # e.g. --out is a file, a bad argument
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
