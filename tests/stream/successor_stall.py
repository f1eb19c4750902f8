"""Loop the "kill -9 before the first commit, then the successor consumes nothing" scenario.

    nice -n 10 .venv/bin/python tests/stream/successor_stall.py --runs 20 --out /tmp/stall

Not a test (the fault tests run the scenario once per CI run): a diagnostic that repeats
``test_kill_9_during_a_rebalance_loses_nothing``'s fault on a broker of its own, with the
workers' faust/aiokafka loggers at DEBUG (simulated data only: DEBUG may log payloads), and
keeps the logs of every run that fails. Each run varies the moment of the kill (seeded) and,
every other run, gives the first worker a commit interval it never reaches, so that it dies
with no offset committed at all. A run fails when the successor has not produced every
expected output and committed every record within ``--timeout`` seconds after the kill,
or a row differs from the in-process replay's; its logs, the group's state and
committed offsets are printed and kept in ``--out``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from kafka_broker import KafkaBroker  # noqa: E402
from stream_helpers import (  # noqa: E402
    Deployment,
    committed,
    group_report,
    read_topic,
    wait_for_group,
)
from subprocess_helpers import CliProcess  # noqa: E402
from test_faults import Expected, _messages, _valid_records, produce  # noqa: E402

PARTITIONS = 4
#: A worker at DEBUG for faust and aiokafka (the CLI offers no debug level: payloads).
DEBUG_WORKER = """
import logging, sys
from phenotyping.stream import commands
commands.LOG_LEVELS = (*commands.LOG_LEVELS, "debug")
from phenotyping.cli import main
sys.exit(main(["worker", "--loglevel", "debug"]))
"""


def debug_worker(d: Deployment, **extra_env: str) -> CliProcess:
    n = len(d.workers)
    env = {**d.env, **{f"PHENOTYPING_KAFKA__{k.upper()}": v for k, v in extra_env.items()}}
    env.setdefault("PHENOTYPING_KAFKA__DATA_DIR", str(d.workdir / f"worker{n}-data"))
    w = CliProcess([sys.executable, "-c", DEBUG_WORKER], env, d.workdir / f"worker{n}.log")
    d.workers.append(w)
    return w


def one_run(bootstrap: str, root: Path, i: int, timeout: float, rng: random.Random) -> str:
    msgs = _messages()
    expected = Expected.of(msgs)
    d = Deployment.create(bootstrap, root, partitions=PARTITIONS)
    no_commit = i % 2 == 0
    try:
        first = debug_worker(d, **({"commit_interval_s": "3600"} if no_commit else {}))
        wait_for_group(d.kafka, 1, timeout=180)
        where = produce(d.kafka, d.names.device, _valid_records(msgs[: len(msgs) // 2]))
        deadline = time.monotonic() + 180
        while not read_topic(d.kafka, d.names.features) and time.monotonic() < deadline:
            time.sleep(0.5)
        second = debug_worker(d)
        deadline = time.monotonic() + 90
        while "Assigned" not in second.text() and "rebalanc" not in second.text().lower():
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        delay = rng.uniform(0.0, 4.0)
        time.sleep(delay)  # the moment of the fault (varied on purpose; no correctness role)
        before = group_report(d.kafka, d.names.device)
        first.kill9()
        t_kill = time.monotonic()
        where += produce(d.kafka, d.names.device, _valid_records(msgs[len(msgs) // 2 :]))
        ends: dict[int, int] = {}
        for p, o in where:
            ends[p] = max(ends.get(p, 0), o + 1)
        want = set(expected.features)
        got: set[str] = set()
        while time.monotonic() - t_kill < timeout:
            got = {c.record()["id"] for c in read_topic(d.kafka, d.names.features)}
            if want <= got or second.proc.poll() is not None:
                break
            time.sleep(2.0)
        behind: dict[int, tuple[int, int]] = {}
        while want <= got and time.monotonic() - t_kill < timeout:
            # every record committed too (a hole the commit cannot pass shows here)
            done = committed(d.kafka, d.names.device)
            behind = {p: (done.get(p, 0), e) for p, e in ends.items() if done.get(p, 0) < e}
            if not behind or second.proc.poll() is not None:
                break
            time.sleep(2.0)
        took = time.monotonic() - t_kill
        after = group_report(d.kafka, d.names.device)
        wrong = sorted(  # every copy of every row must equal the replay's (a wrong row is
            rid  # the silent form of the race: a day closed without part of its data)
            for c in read_topic(d.kafka, d.names.features)
            if (rid := (rec := c.record()).pop("id")) in expected.features
            and rec != expected.features[rid]
        )
        ok = want <= got and not wrong and not behind and second.proc.poll() is None
        logs = "".join(w.text() for w in d.workers)
        holes = (  # how often the agent stopped at a hole and sought back / accepted one
            f"{logs.count('seeking back to it')} seek-back(s), "
            f"{logs.count('did not come back')} accepted hole(s)"
        )
        line = (
            f"run {i}: {'ok' if ok else 'FAILED'} in {took:.0f} s after the kill "
            f"(kill {delay:.1f} s after the join, first worker "
            f"{'never commits' if no_commit else 'default commits'}); "
            f"before the kill: {before}; at the end: {after}; "
            f"{holes}; {len(want - got)} of {len(want)} rows missing, "
            f"{len(wrong)} wrong {wrong[:3]}, "
            f"partitions not committed to their end (committed, end): {behind}"
        )
        if ok:
            return line
        keep = root / f"failed-run{i}"
        shutil.copytree(d.workdir, keep, ignore=shutil.ignore_patterns("*-data"))
        return line + f"; logs in {keep}"
    finally:
        d.close()
        if d.workdir.exists():
            shutil.rmtree(d.workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds after the kill")
    ap.add_argument("--out", type=Path, default=Path("successor-stall"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--broker", help="host:port of a running broker (default: start one)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    failed = 0

    def loop(bootstrap: str) -> None:
        nonlocal failed
        for i in range(args.runs):
            line = one_run(bootstrap, args.out, i, args.timeout, rng)
            failed += "FAILED" in line
            print(line, flush=True)

    if args.broker:
        loop(args.broker)
    else:
        with KafkaBroker(workdir=args.out / "kafka", use_env=False, keep=True) as bootstrap:
            loop(bootstrap)
    print(f"{failed} of {args.runs} runs failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
