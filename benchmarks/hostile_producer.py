"""A hostile producer against a real Kafka broker and a real worker (issue 11, item 5).

    .venv/bin/python benchmarks/hostile_producer.py                 # starts a broker
    .venv/bin/python benchmarks/hostile_producer.py --broker 127.0.0.1:9092 --hostile 2000

``--hostile`` records (default 10,000) of every message type and every dead-letter reason
the worker knows (the generator of ``tests/stream/test_faults.py``: unknown version, schema
breaks, dates in 9999, unknown types, truncated JSON, garbage bytes, tombstones, counts of
1e308, samples years ahead, misrouted copies, wrong keys, oversized records) are mixed into
a valid simulated cohort (three subjects, seven weeks, one deteriorating) and sent to the
device topic of a fresh deployment (4 partitions) consumed by one ``phenotyping worker``
subprocess. Then, bounded by ``--timeout``, it waits until the worker has committed every
device partition to its end, reads every output topic and prints a table:

* records sent, by kind (valid by message type; hostile by the reason it should get);
* dead letters by reason, and how many hostile records have their dead letter (matched by
  ``topic:partition:offset`` and reason);
* valid outputs (daily rows, alerts) equal to the in-process replay by id: expected, found,
  equal, different, unexpected;
* partitions stalled (committed offset short of the end) and the worker's peak RSS
  (``VmHWM``).

Not a test: it prints what it measured (and exits 1 if an output differs, a hostile record
has no dead letter, a partition stalls or the worker died).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "stream")]

from kafka_broker import KafkaBroker  # noqa: E402
from stream_helpers import Deployment, read_topic  # noqa: E402
from test_faults import (  # noqa: E402
    PARTITIONS,
    Bad,
    Expected,
    _hostile,
    _lag,
    _messages,
    _valid_records,
    produce,
)

Record = tuple[bytes | None, bytes | None, int | None]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (``VmHWM``), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def deployment(bootstrap: str, workdir: Path) -> Deployment:
    """An isolated deployment (own topic prefix and group), made as the tests make theirs."""
    return Deployment.create(
        bootstrap, workdir, stats_interval_s=5.0, partitions=PARTITIONS, max_message_bytes=200_000
    )


def message_type(value: bytes | None) -> str:
    """The ``type`` a record claims (what a consumer would dispatch on)."""
    if value is None:
        return "(tombstone)"
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "(not JSON)"
    t = doc.get("type") if isinstance(doc, dict) else None
    return t if isinstance(t, str) else f"(type {type(t).__name__})"


def daily_summary_poisons(subject: str, n: int) -> list[Bad]:
    """Hostile device daily summaries (the test generator predates that message type)."""
    base = {
        "type": "daily_summary",
        "subject_id": subject,
        "source": "t",
        "tz_offset_min": 60,
        "date": "2024-01-20",
        "resting_hr_bpm": 60.0,
    }
    out = []
    for i in range(n):
        d = dict(base, event_id=f"bad-ds-{i}")
        v = i % 5
        if v == 0:
            d["resting_hr_bpm"] = 1e308
        elif v == 1:
            d["version"] = 7
        elif v == 2:
            d["date"] = "9999-12-31"
        elif v == 3:
            d.pop("resting_hr_bpm")  # no value at all
        else:
            d["sleep_score"] = -1
        reason = "unknown_version" if v == 1 else "schema"
        out.append(Bad(subject.encode(), orjson.dumps(d), None, reason))
    return out


def mix(good: list[Record], bad: list[Bad]) -> list[tuple[Record, Bad | None]]:
    """The first tenth of the cohort (every subject has data), then hostile records spread
    evenly between the rest, the remainder at the end (as the fault test mixes them)."""
    head = len(good) // 10
    out: list[tuple[Record, Bad | None]] = [(r, None) for r in good[:head]]
    rest = good[head:]
    step = max(1, len(bad) // max(1, len(rest)))
    bi = 0
    for r in rest:
        out += [((b.key, b.value, b.partition), b) for b in bad[bi : bi + step]]
        bi += step
        out.append((r, None))
    out += [((b.key, b.value, b.partition), b) for b in bad[bi:]]
    return out


def run(bootstrap: str, n_hostile: int, timeout: float) -> int:
    msgs = _messages()
    expected = Expected.of(msgs)
    good = _valid_records(msgs)
    n_ds = n_hostile // 12  # as many as each of the other poison templates
    bad = _hostile(msgs, n_hostile - n_ds) + daily_summary_poisons(msgs[0].subject_id, n_ds)
    bad = [bad[i] for i in sorted(range(len(bad)), key=lambda i: (i * 7919) % len(bad))]
    mixed = mix(good, bad)
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        d = deployment(bootstrap, Path(tmp))
        worker = d.worker()
        try:
            t0 = time.monotonic()
            where = produce(d.kafka, d.names.device, [r for r, _ in mixed])
            t_sent = time.monotonic() - t0
            # bounded wait: every device partition committed to its end, the worker alive
            deadline = time.monotonic() + timeout
            lag: dict[int, int] = {}
            peak = 0.0
            while time.monotonic() < deadline and worker.proc.poll() is None:
                peak = max(peak, peak_rss_mb(worker.proc.pid))
                lag = asyncio.run(_lag(d.kafka, d.names.device))
                if not any(lag.values()):
                    break
                time.sleep(2.0)
            t_done = time.monotonic() - t0
            alive = worker.proc.poll() is None
            if alive:
                peak = max(peak, peak_rss_mb(worker.proc.pid))
                time.sleep(3.0)  # outputs of the last records are sent before the commit
            dead = read_topic(d.kafka, d.names.dead_letter)
            rows = read_topic(d.kafka, d.names.features)
            alerts = read_topic(d.kafka, d.names.alerts)
        finally:
            d.close()
        log_tail = worker.tail() if not alive else ""

    sent_by_kind: Counter[str] = Counter()
    by_type: Counter[tuple[str, str]] = Counter()
    for (_, value, _), b in mixed:
        t = message_type(value)
        sent_by_kind[f"hostile -> {b.reason}" if b is not None else f"valid {t}"] += 1
        by_type["hostile" if b is not None else "valid", t] += 1
    dead_at: dict[tuple[int, int], set[str]] = {}
    dead_by_reason: Counter[str] = Counter()
    for c in dead:
        rec = c.record()
        dead_by_reason[rec["reason"]] += 1
        dead_at.setdefault((rec["source"]["partition"], rec["source"]["offset"]), set()).add(
            rec["reason"]
        )
    hostile_ok: Counter[str] = Counter()
    hostile_n: Counter[str] = Counter()
    valid_dead = 0
    for (part, off), (_, b) in zip(where, mixed, strict=True):
        got = dead_at.get((part, off), set())
        if b is None:
            valid_dead += bool(got - {"late_data"})
        else:
            hostile_n[b.reason] += 1
            hostile_ok[b.reason] += b.reason in got

    def compare(found: list[Any], want: dict[str, dict[str, Any]], key: str) -> tuple[int, ...]:
        ids, equal, differ, unexpected = set(), 0, 0, 0
        for c in found:
            rec = c.record()
            rid = rec.pop("id") if key == "id" else rec[key]
            ids.add(rid)
            if rid not in want:
                unexpected += 1
            elif rec == want[rid]:
                equal += 1
            else:
                differ += 1
        return len(want), len(ids & set(want)), equal, differ, unexpected

    r_cmp = compare(rows, expected.features, "id")
    a_cmp = compare(alerts, expected.alerts, "alert_id")
    stalled = {p: n for p, n in lag.items() if n}

    print(
        f"\nhostile producer: {n_hostile} hostile + {len(good)} valid records, "
        f"{PARTITIONS} partitions, 1 worker; sent in {t_sent:.1f} s, all committed after "
        f"{t_done:.1f} s\n"
    )
    print("| records sent, by kind | n | dead-lettered with that reason |")
    print("|---|---:|---:|")
    for kind, n in sorted(sent_by_kind.items()):
        reason = kind.removeprefix("hostile -> ")
        ok = str(hostile_ok[reason]) if kind.startswith("hostile") else "-"
        print(f"| {kind} | {n} | {ok} |")
    print(
        f"| **total** | {sum(sent_by_kind.values())} | "
        f"{sum(hostile_ok.values())} of {sum(hostile_n.values())} hostile |"
    )
    print("\n| records sent, by the type they claim | valid | hostile |\n|---|---:|---:|")
    for t in sorted({t for _, t in by_type}):
        print(f"| {t} | {by_type['valid', t]} | {by_type['hostile', t]} |")
    print("\n| dead letters by reason | n |\n|---|---:|")
    for reason, n in sorted(dead_by_reason.items()):
        print(f"| {reason} | {n} |")
    print(
        "\n| valid outputs vs in-process replay (by id) | expected | found | equal | "
        "different | unexpected |\n|---|---:|---:|---:|---:|---:|"
    )
    print("| daily rows | {} | {} | {} | {} | {} |".format(*r_cmp))
    print("| alerts | {} | {} | {} | {} | {} |".format(*a_cmp))
    outputs_equal = all(c[0] == c[1] == c[2] and c[3] == c[4] == 0 for c in (r_cmp, a_cmp))
    print(f"\nvalid outputs equal to the replay by id: {'yes' if outputs_equal else 'NO'}")
    print(f"valid records dead-lettered (other than late data): {valid_dead}")
    print(f"partitions stalled: {len(stalled)} of {PARTITIONS} {stalled or ''}")
    print(f"worker alive at the end: {'yes' if alive else 'NO'}; peak RSS {peak:.0f} MB")
    if log_tail:
        print(log_tail)
    ok = outputs_equal and not stalled and alive and valid_dead == 0 and hostile_ok == hostile_n
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--broker", help="host:port of a running broker (default: start one)")
    ap.add_argument("--hostile", type=int, default=10_000, help="hostile records (10,000)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait (1200)")
    args = ap.parse_args()
    if args.broker:
        return run(args.broker, args.hostile, args.timeout)
    with KafkaBroker(use_env=True) as bootstrap:
        return run(bootstrap, args.hostile, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
