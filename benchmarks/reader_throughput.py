"""Reader throughput per format, and peak memory, including a 1 GB Apple Health export.

Prints a table; not a test. Run from the repository root:

    .venv/bin/python benchmarks/reader_throughput.py [--apple-mb 1024] [--data ../shared/data]

Every input is generated into a temporary folder (removed afterwards; nothing is committed):
generic minute CSV (28 days), ActiLife 1-s epochs (2 days), GGIR 5-s epochs (7 days), an
Empatica E4 session (2 h of 32 Hz ACC and its IBI), Open mHealth JSONL (minute step counts
and RR intervals, 7 days), and an Apple Health ``export.xml`` of ``--apple-mb`` MB made by
``benchmarks/make_apple_export.py``. PMData's Fitbit exports (real data: p10, p01 and all
eleven) are read where ``--data`` has them. Each format is read in its own subprocess,
which reports its wall time and its peak resident memory (``ru_maxrss``); the first row is
a subprocess that only imports the package, the floor under every other figure.

Columns: ``rows`` = records/rows the reader looked at, ``samples`` = what the messages carry
(epochs, beats, 1 per episode or summary: :func:`phenotyping.events.samples`); the rate is
per second of reading (parse + validation into wire messages), not of the whole replay.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _one(fmt: str, path: Path) -> None:
    """Child mode: read ``path`` and print one JSON line of figures."""
    t0 = time.perf_counter()
    from phenotyping.events import samples
    from phenotyping.replay.formats import ReadReport, read

    if fmt == "none":
        out: dict[str, float] = {"seconds": 0.0, "rows": 0, "messages": 0, "samples": 0}
    else:
        report = ReadReport()
        n = 0
        for msg in read(path, fmt, report):
            n += samples(msg)
        out = {
            "seconds": time.perf_counter() - t0,
            "rows": report.rows,
            "messages": report.messages,
            "samples": n,
            "unusable": sum(report.unusable.values()),
        }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["maxrss_mb"] = usage.ru_maxrss / 1024
    print(json.dumps(out))


def _generic(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 28 * 1440
    t0 = dt.datetime(2024, 1, 1)
    t = [t0 + dt.timedelta(minutes=i) for i in range(n)]
    path = folder / "generic.csv"
    counts = rng.integers(0, 500, n)
    steps = rng.integers(0, 100, n)
    with path.open("w") as fh:
        fh.write("timestamp,counts,steps\n")
        fh.writelines(
            f"{a:%Y-%m-%d %H:%M:%S},{c},{s}\n"
            for a, c, s in zip(t, counts.tolist(), steps.tolist(), strict=True)
        )
    return path


def _actilife(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 2 * 86400
    path = folder / "actilife.csv"
    with path.open("w") as fh:
        fh.write(
            "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.3 Firmware v2.5.0 "
            "date format M/d/yyyy at 30 Hz  Filter Normal -----------\nSerial Number: X\n"
            "Start Time 00:00:00\nStart Date 1/1/2024\nEpoch Period (hh:mm:ss) 00:00:01\n"
            "Download Time 00:00:00\nDownload Date 1/3/2024\nCurrent Memory Address: 0\n"
            "Current Battery Voltage: 4.05     Mode = 12\n"
            "--------------------------------------------------\n"
        )
        a = rng.integers(0, 60, n).tolist()
        fh.writelines(f"{x},{x // 2},{x // 3},{x % 2},0,0,1,0,0,{x * 1.2:.2f}\n" for x in a)
    return path


def _ggir(folder: Path) -> Path:
    rng = np.random.default_rng(2)
    n = 7 * 86400 // 5
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    path = folder / "ggir.csv"
    enmo = rng.exponential(0.02, n).tolist()
    with path.open("w") as fh:
        fh.write("timestamp,ENMO,anglez\n")
        for i, e in enumerate(enmo):
            t = start + dt.timedelta(seconds=5 * i)
            fh.write(f"{t.strftime('%Y-%m-%dT%H:%M:%S%z')},{e:.4f},{(i % 180) - 90}\n")
    return path


def _empatica(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    session = folder / "e4_session"
    session.mkdir()
    start = 1_704_067_200
    n = 2 * 3600 * 32
    xyz = rng.integers(-70, 70, (n, 3))
    with (session / "ACC.csv").open("w") as fh:
        fh.write(
            f"{start}.000000, {start}.000000, {start}.000000\n32.000000, 32.000000, 32.000000\n"
        )
        fh.writelines(f"{a},{b},{c}\n" for a, b, c in xyz.tolist())
    ibi = rng.uniform(0.6, 1.1, 7200)
    t = np.cumsum(ibi) + 5
    with (session / "IBI.csv").open("w") as fh:
        fh.write(f"{start}.000000, IBI\n")
        fh.writelines(f"{a:.6f},{b:.6f}\n" for a, b in zip(t.tolist(), ibi.tolist(), strict=True))
    return session


def _omh(folder: Path) -> Path:
    rng = np.random.default_rng(4)
    path = folder / "points.jsonl"
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with path.open("w") as fh:
        for i in range(7 * 1440):
            a = start + dt.timedelta(minutes=i)
            fh.write(
                json.dumps(
                    {
                        "header": {
                            "schema_id": {
                                "namespace": "omh",
                                "name": "step-count",
                                "version": "2.0",
                            },
                            "user_id": "b1",
                        },
                        "body": {
                            "step_count": int(rng.integers(0, 100)),
                            "effective_time_frame": {
                                "time_interval": {
                                    "start_date_time": a.isoformat(),
                                    "end_date_time": (a + dt.timedelta(minutes=1)).isoformat(),
                                }
                            },
                        },
                    }
                )
                + "\n"
            )
        t = start
        for rr in rng.uniform(700, 1000, 20_000).tolist():
            t += dt.timedelta(milliseconds=rr)
            fh.write(
                json.dumps(
                    {
                        "header": {
                            "schema_id": {
                                "namespace": "omh",
                                "name": "rr-interval",
                                "version": "1.0",
                            },
                            "user_id": "b1",
                        },
                        "body": {
                            "rr_interval": {"value": round(rr, 1), "unit": "ms"},
                            "effective_time_frame": {
                                "date_time": t.isoformat(timespec="milliseconds")
                            },
                        },
                    }
                )
                + "\n"
            )
    return path


def _run(fmt: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", fmt, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{fmt}: child failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--apple-mb", type=float, default=1024.0, help="Apple export size (MB)")
    p.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PHENOTYPING_DATA", "../shared/data"))
    )
    p.add_argument("--tmp", type=Path, default=None, help="where to generate inputs")
    p.add_argument("--one", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        _one(args.one[0], Path(args.one[1]))
        return 0
    sys.path.insert(0, str(HERE))
    from make_apple_export import write_export

    rows: list[tuple[str, float, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        rows.append(("(import only)", 0.0, _run("none", folder)))
        inputs = [
            ("generic_csv: minute CSV", "generic_csv", _generic(folder)),
            ("generic_csv: ActiLife 1-s", "generic_csv", _actilife(folder)),
            ("generic_csv: GGIR 5-s", "generic_csv", _ggir(folder)),
            ("empatica: E4 session", "empatica", _empatica(folder)),
            ("omh: JSONL points", "omh", _omh(folder)),
        ]
        pm = args.data / "pmdata"
        for label, path in (
            ("fitbit: PMData p10 (steps, sleep...)", pm / "p10"),
            ("fitbit: PMData p01 (no steps.json)", pm / "p01"),
            ("fitbit: PMData, all 11 exports", pm),
        ):
            if path.exists():  # real data, where --data has it
                inputs.append((label, "fitbit", path))
        t0 = time.perf_counter()
        apple = folder / "apple_health_export"
        write_export(apple, int(args.apple_mb * 1e6), seed=0)
        gen_s = time.perf_counter() - t0
        inputs.append(
            (f"apple_health: export.xml ({args.apple_mb:,.0f} MB)", "apple_health", apple)
        )
        for label, fmt, path in inputs:
            rows.append((label, _size_mb(path), _run(fmt, path)))
    print(f"reader throughput ({os.cpu_count()} cores; Apple export generated in {gen_s:.0f} s)")
    head = (
        f"{'input':<36} {'MB':>7} {'rows':>10} {'messages':>8} {'samples':>10} {'wall s':>7} "
        f"{'cpu s':>6} {'rows/s':>9} {'samples/s':>9} {'samples/cpu-s':>13} {'peak RSS MB':>11}"
    )
    print(head)
    print("-" * len(head))
    for label, mb, r in rows:
        s = max(r["seconds"], 1e-9)
        cpu = max(r["cpu_s"], 1e-9)
        print(
            f"{label:<36} {mb:>7.1f} {r['rows']:>10,.0f} {r['messages']:>8,.0f} "
            f"{r['samples']:>10,.0f} {r['seconds']:>7.1f} {r['cpu_s']:>6.1f} "
            f"{(r['rows'] / s if r['seconds'] else 0):>9,.0f} "
            f"{(r['samples'] / s if r['seconds'] else 0):>9,.0f} "
            f"{(r['samples'] / cpu if r['seconds'] else 0):>13,.0f} {r['maxrss_mb']:>11.0f}"
        )
    print(
        "wall s: reading only (parse + validation into wire messages), in a subprocess; cpu s "
        "includes the interpreter's start and imports; the machine's other load slows wall s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
