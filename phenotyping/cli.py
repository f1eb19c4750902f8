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
    from phenotyping.replay.formats.base import ReadOptions
    from phenotyping.replay.run import ReplayResult


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
    from phenotyping.replay.run import OUTPUT_FILES, replay, write_outputs

    if args.broker:
        return _replay_to_broker(args)
    settings = _settings(args)
    result = replay(
        args.paths,
        fmt=args.format,
        params=settings.engine,
        risk=settings.risk,
        progress=not args.quiet and sys.stderr.isatty(),
        jobs=args.jobs,
        options=_read_options(args),
    )
    if not result.report.messages:  # recordings found, but not one usable message in them
        for line in result.summary_lines():
            print(line)
        what = ", ".join(map(str, args.paths))
        print(f"error: {what}: nothing replayable (no usable message)", file=sys.stderr)
        return 1
    write_outputs(result, args.out)
    (args.out / "settings.txt").write_text(settings.describe() + "\n")
    for line in result.summary_lines():
        print(line)
    print(f"wrote {args.out}/: {', '.join(OUTPUT_FILES)}, settings.txt")
    if args.plots:
        _write_plots(result, args.out)
    return 0


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from phenotyping.replay.formats._util import zone
    from phenotyping.replay.formats.base import ReadOptions

    if args.tz is not None:
        zone(args.tz)  # a bad name is a one-line error before anything is read
    return ReadOptions(
        tz=args.tz,
        columns={
            k: v
            for k, v in (
                ("time", args.time_col),
                ("date", args.date_col),
                ("counts", args.counts_col),
                ("steps", args.steps_col),
            )
            if v is not None
        },
        subject=args.subject,
        epoch_s=args.epoch,
    )


def _replay_to_broker(args: argparse.Namespace) -> int:
    """``phenotyping replay PATH... --broker URL [--speed N]``: publish into Kafka."""
    from phenotyping.config import load_settings
    from phenotyping.replay.publish import publish

    settings = load_settings(args.config)
    kafka = settings.kafka.model_copy(update={"broker": args.broker})
    report = publish(
        args.paths,
        kafka,
        fmt=args.format,
        speed=args.speed,
        progress=not args.quiet and sys.stderr.isatty(),
        options=_read_options(args),
    )
    for line in report.summary_lines():
        print(line)
    return 0


def _write_plots(result: ReplayResult, out: Path) -> list[Path]:
    """``out/plots/<subject>.png`` for every subject with an alert; prints each path."""
    from phenotyping.report.plot import write_plots

    paths = write_plots(result.daily, result.alerts, result.clinical, out / "plots")
    for path in paths:
        print(f"plot: {path}")
    return paths


def _plot(args: argparse.Namespace) -> int:
    from phenotyping.report.plot import load_outputs, plot_subject

    outputs = load_outputs(args.src)
    out = args.out or args.src / "plots" / f"{args.subject}.png"
    plot_subject(
        outputs.daily,
        outputs.alerts,
        outputs.clinical,
        args.subject,
        out,
        panels="all" if getattr(args, "all_panels", False) else "clinician",
    )
    print(f"wrote {out}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from phenotyping.simulate import CohortSpec, simulate, write_jsonl

    spec = CohortSpec(n_subjects=args.subjects, days=args.days, seed=args.seed)
    n = write_jsonl(simulate(spec), args.out)
    print(f"wrote {n:,} messages for {args.subjects} subject(s) x {args.days} day(s) to {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import datetime as dt

    from phenotyping.replay.run import OUTPUT_FILES, replay, write_outputs
    from phenotyping.simulate import DEMO_RELAPSING, demo_spec, simulate, write_jsonl

    settings = _settings(args)
    args.out.mkdir(parents=True, exist_ok=True)
    cohort = args.out / "cohort.jsonl"
    spec = demo_spec() if args.seed is None else demo_spec(args.seed)
    n = write_jsonl(simulate(spec), cohort)
    end = spec.start + dt.timedelta(days=spec.days - 1)
    print(
        f"simulated {spec.n_subjects} subjects x {spec.days} days ({spec.start} to {end}, "
        f"seed {spec.seed}): {n:,} messages -> {cohort}"
    )
    treat, det = (spec.treat or {})[DEMO_RELAPSING], (spec.deteriorate or {})[DEMO_RELAPSING]
    print(
        f"  {DEMO_RELAPSING}: {treat.modality}, {treat.sessions} sessions every "
        f"{treat.every_days} days from {spec.start + dt.timedelta(days=treat.start_day)} "
        f"(PHQ-9 {treat.phq9_before:g} -> {treat.phq9_after:g}); relapse from "
        f"{spec.start + dt.timedelta(days=det.day)} (activity "
        f"{100 * (det.activity_factor - 1):+.0f}%, sleep and activity {det.shift_min:+.0f} min "
        f"later); the other {spec.n_subjects - 1} subjects stable"
    )
    result = replay([cohort], fmt="jsonl", params=settings.engine, risk=settings.risk)
    write_outputs(result, args.out)
    (args.out / "settings.txt").write_text(settings.describe() + "\n")
    for line in result.summary_lines():
        print(line)
    print(f"wrote {args.out}/: {', '.join(OUTPUT_FILES)}, settings.txt")
    for a in result.alerts:
        if a["kind"] == "opened":
            print(
                f"alert: {a['subject_id']} {a['date']} {a['level']} "
                f"(after_response={str(a['after_response']).lower()}): {a['explanation']}"
            )
    if result.alerts:
        print(f"  every alert message (opened/escalated/resolved): {args.out / 'alerts.jsonl'}")
    if args.plots:
        _write_plots(result, args.out)
    else:
        for subject in dict.fromkeys(a["subject_id"] for a in result.alerts):
            print(f"plot: phenotyping plot {subject} --from {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from phenotyping.replay.omh_export import export_omh

    path, n = export_omh(args.omh, args.out, args.tz or "UTC")
    print(f"wrote {n:,} Open mHealth data point(s) to {path}")
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from phenotyping.events import json_schemas

    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (args.out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(args.out / name)
    return 0


def _format(name: str) -> str:
    """``--format``: ``auto`` or a name in the reader registry (imported only when parsing,
    so that ``phenotyping --help`` stays fast)."""
    from phenotyping.replay.formats import FORMATS

    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"invalid choice: {name!r} (choose from {FORMATS})")
    return name


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
        type=_format,
        help="recording format: auto (default) or a reader's name (actiwatch, mmash, jsonl, ...)",
    )
    g = p.add_argument_group("third-party formats (docs/importers.md)")
    g.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="IANA zone of local times without a UTC offset (default per format: Europe/Oslo "
        "for Depresjon/Psykose and PMData Fitbit exports; UTC for generic CSV, Empatica and "
        "Open mHealth; Apple Health records carry their own offset)",
    )
    g.add_argument("--time-col", default=None, help="generic CSV: the time column")
    g.add_argument("--date-col", default=None, help="generic CSV: a separate date column")
    g.add_argument("--counts-col", default=None, help="generic CSV: the activity counts column")
    g.add_argument("--steps-col", default=None, help="generic CSV: the steps column")
    g.add_argument(
        "--epoch", type=int, default=None, metavar="SECONDS", help="generic CSV: epoch (1-60 s)"
    )
    g.add_argument(
        "--subject", default=None, help="pseudonymous subject id (default: from the file name)"
    )
    p.add_argument("--broker", default=None, help="publish into Kafka instead (kafka://HOST:PORT)")
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="with --broker: publish at N x real (event) time; default as fast as possible",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing the recordings (default: all cores; same result)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no settings")
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    p.add_argument(
        "--plots",
        action="store_true",
        help="also write plots/<subject>.png for every subject with an alert",
    )
    p.set_defaults(func=_replay)

    p = sub.add_parser("simulate", help="write a synthetic cohort as JSONL wire messages")
    p.add_argument("--subjects", type=int, default=8)
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("cohort.jsonl"))
    p.set_defaults(func=_simulate)

    p = sub.add_parser(
        "demo",
        help="simulate 6 subjects over 12 weeks (one responds to ketamine, then relapses), "
        "replay them in-process, plot the alerts",
    )
    p.add_argument("--out", type=Path, default=Path("demo"))
    p.add_argument(
        "--seed", type=int, default=None, help="cohort seed (default: the demo's, see demo_spec)"
    )
    p.add_argument(
        "--plots",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write plots/<subject>.png for every subject with an alert (default: yes)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the settings")
    p.set_defaults(func=_demo)

    p = sub.add_parser("plot", help="plot one subject of a replay output folder (PNG)")
    p.add_argument("subject", help="pseudonymous subject id")
    p.add_argument(
        "--from",
        dest="src",
        metavar="DIR",
        type=Path,
        required=True,
        help="replay or demo output folder (daily_features.csv, alerts.jsonl, ...)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        type=Path,
        default=None,
        help="PNG (default: DIR/plots/SUBJECT.png)",
    )
    p.add_argument(
        "--all-panels",
        action="store_true",
        help="every watched feature (default: the clinician's fewer panels -- what "
        "contributed to an alert, activity, sleep and wear)",
    )
    p.set_defaults(func=_plot)

    p = sub.add_parser("export", help="export a replay's daily features (Open mHealth)")
    p.add_argument(
        "--omh",
        metavar="DIR",
        type=Path,
        required=True,
        help="replay output folder: its daily_features.csv becomes OMH data points (JSONL)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="file (default: DIR/daily_features.omh.jsonl)"
    )
    p.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="IANA zone that places each local day (default: UTC; daily rows carry dates only)",
    )
    p.set_defaults(func=_export)

    p = sub.add_parser("schemas", help="write the JSON Schema of every wire message")
    p.add_argument("--out", type=Path, default=Path("schemas"))
    p.set_defaults(func=_schemas)

    from phenotyping.stream.commands import add_commands  # worker, topics, tail (no faust import)

    add_commands(sub)
    from phenotyping.feed.commands import add_commands as add_feed_commands  # no aiohttp import

    add_feed_commands(sub)
    return parser


def _broker_of(args: argparse.Namespace) -> str:
    """The broker a command tried to reach (its --broker, else the settings')."""
    broker = getattr(args, "broker", None)
    if broker:
        return str(broker)
    try:
        from phenotyping.config import load_settings

        return load_settings(getattr(args, "config", None)).kafka.broker
    except Exception:  # the settings themselves are broken: say so without an address
        return "(the configured address)"


def _unreachable(exc: BaseException) -> str | None:
    """The one-line reason if ``exc`` means the Kafka broker could not be reached."""
    import asyncio

    module = type(exc).__module__
    if module.startswith(("aiokafka", "kafka")):
        return str(exc).removeprefix(f"{type(exc).__name__}: ") or type(exc).__name__
    if isinstance(exc, ConnectionError | asyncio.TimeoutError | TimeoutError):
        return f"{type(exc).__name__}: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("topics", "tail", "replay"):
        import logging

        # aiokafka logs every failed connection attempt; these one-shot commands report a
        # broker they cannot reach in one line instead (below)
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return int(args.func(args))
    except Exception as exc:
        reason = _unreachable(exc)
        if reason is None:
            return _error(exc)
        print(f"cannot reach the Kafka broker at {_broker_of(args)}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _error(exc: Exception) -> int:
    """One line for the errors a user can act on; anything else is a bug: re-raised."""
    if isinstance(exc, PhenotypingError):
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, OSError | ValueError | EOFError):  # e.g. --out is a file
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    raise exc


if __name__ == "__main__":
    raise SystemExit(main())
