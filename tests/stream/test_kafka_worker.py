"""The stream workers against a real Apache Kafka broker (``deploy/kafka``): workers run as
``phenotyping worker`` subprocesses, recordings go in with ``phenotyping replay --broker``,
and every output is compared with the in-process replay of the same files.

No timing assertions: each wait polls the topics (bounded) for the outputs it expects.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stream_helpers import Consumed, Deployment, produce, read_topic, wait_for_group, wait_for_ids

from phenotyping.events import RecordingEnd, encode
from phenotyping.replay.formats import read
from phenotyping.replay.run import replay
from phenotyping.simulate import CohortSpec, Deterioration, simulate, write_jsonl
from phenotyping.stream.codec import decode_record, encode_record

pytestmark = [pytest.mark.kafka]

#: Depresjon recordings: two conditions, a control with the 2003 DST jump, a long control.
DEPRESJON = [
    "condition/condition_1",
    "condition/condition_2",
    "control/control_1",
    "control/control_3",
]


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    """An in-process output as it reads back from Kafka (NaN -> null)."""
    return decode_record(encode_record(rec))


@dataclass
class Expected:
    """The in-process replay's outputs, in the form the worker publishes them."""

    features: dict[str, dict[str, Any]]
    alerts: dict[str, dict[str, Any]]
    notices: list[str]
    late: int

    @classmethod
    def of(cls, paths: list[Path]) -> Expected:
        result = replay(paths)
        features = {f"{r['subject_id']}:{r['date']}": _plain(r) for r in result.daily}
        alerts = {a["alert_id"]: _plain(a) for a in result.alerts}
        notices = sorted(encode_record(_plain(n)).decode() for n in result.notices)
        late = sum(1 for n in result.notices if n["kind"] == "late_data")
        return cls(features, alerts, notices, late)


def _cohort(tmp: Path) -> Path:
    """Four simulated subjects over nine weeks, two of them deteriorating (alerts), with
    wear gaps, late and duplicated uploads (late data) -- written as wire messages."""
    spec = CohortSpec(
        n_subjects=4,  # sim-001..004: partitions 1, 0, 1, 2 of 4 (murmur2)
        days=63,
        seed=11,
        rr=False,
        deteriorate={
            "sim-001": Deterioration(day=40, activity_factor=0.6, shift_min=120),
            "sim-003": Deterioration(day=35, activity_factor=0.55, shift_min=150),
        },
    )
    path = tmp / "cohort.jsonl"
    write_jsonl(simulate(spec), path)
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    path = _cohort(tmp_path_factory.mktemp("cohort"))
    expected = Expected.of([path])
    assert expected.alerts and expected.late, "the cohort must exercise alerts and late data"
    return path, expected


def _check(d: Deployment, expected: Expected, *, committed_only: bool = False) -> dict[str, int]:
    """Compare every output topic with the in-process outputs; return duplicate counts."""
    names = d.names
    alive = _alive(d)
    features = wait_for_ids(
        d.kafka, names.features, set(expected.features), alive=alive, committed_only=committed_only
    )
    alerts = wait_for_ids(
        d.kafka,
        names.alerts,
        set(expected.alerts),
        key="alert_id",
        alive=alive,
        committed_only=committed_only,
    )
    seen: dict[str, dict[str, Any]] = {}
    for c in features:
        rec = c.record()
        rid = rec.pop("id")
        assert rec == expected.features[rid], rid  # every copy, duplicates included
        assert c.key == rec["subject_id"].encode()
        seen[rid] = rec
    assert set(seen) == set(expected.features)
    got_alerts = {}
    for c in alerts:
        rec = c.record()
        assert rec == expected.alerts[rec["alert_id"]]
        assert c.key == rec["alert_id"].encode()
        got_alerts[rec["alert_id"]] = rec
    assert got_alerts == expected.alerts
    notices = read_topic(d.kafka, names.notices, committed_only=committed_only)
    assert sorted({encode_record(c.record()).decode() for c in notices}) == sorted(
        set(expected.notices)
    )
    dead = read_topic(d.kafka, names.dead_letter, committed_only=committed_only)
    reasons = Counter(c.record()["reason"] for c in dead)
    assert set(reasons) <= {"late_data"}
    assert len({c.record()["id"] for c in dead}) == expected.late
    return {
        "features": len(features) - len(seen),
        "alerts": len(alerts) - len(got_alerts),
        "notices": len(notices) - len(set(expected.notices)),
    }


def _alive(d: Deployment) -> Callable[[], None]:
    def check() -> None:
        for w in d.workers:
            if w.proc.poll() is not None and w.proc.returncode not in (-9,):
                raise AssertionError(f"a worker exited ({w.proc.returncode}):\n{w.tail()}")

    return check


def _replay(d: Deployment, paths: list[Path], *extra: str) -> str:
    proc = d.replay(paths, *extra)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.realdata
def test_worker_equals_the_in_process_replay(
    deployment: Callable[..., Deployment], data_dir: Path, cohort: tuple[Path, Expected]
) -> None:
    """Depresjon recordings and a simulated cohort with alerts and late uploads, replayed
    into Kafka: daily rows, alerts and notices equal the in-process replay exactly."""
    d = deployment()
    paths = [data_dir / "depresjon" / f"{name}.csv.gz" for name in DEPRESJON] + [cohort[0]]
    expected = Expected.of(paths)
    printed = _replay(d, paths)
    assert "published" in printed and "recording end(s)" in printed
    d.worker()
    dup = _check(d, expected)
    assert dup == {"features": 0, "alerts": 0, "notices": 0}  # no crash, no redelivery
    tail = subprocess.run(
        [sys.executable, "-m", "phenotyping.cli", "tail", "alerts", "--from-beginning"]
        + ["-n", str(len(expected.alerts)), "--idle-exit", "20"],
        env=d.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = tail.stdout.splitlines()
    assert len(lines) == len(expected.alerts)
    assert all(any(a in line for a in expected.alerts) for line in lines)


def test_kill_9_mid_stream_loses_nothing(
    deployment: Callable[..., Deployment], cohort: tuple[Path, Expected]
) -> None:
    """kill -9 the worker while the replay is still publishing, start another: the final
    rows and alerts by id equal an uninterrupted run; repeats are exact copies."""
    d = deployment()
    path, expected = cohort
    first = d.worker()
    wait_for_group(d.kafka, 1)
    # 63 days of event time in ~12 s of wall-clock time
    publisher = d.replay([path], "--speed", str(63 * 86400 / 12))
    some = set(list(expected.features)[: len(expected.features) // 3])
    wait_for_ids(d.kafka, d.names.features, some, alive=_alive(d), timeout=120)
    first.kill9()  # with a third of the rows out (normally while the replay still publishes)
    second = d.worker()
    out, _ = publisher.communicate(timeout=300)
    assert publisher.returncode == 0, out.decode()
    dup = _check(d, expected)
    # the restarted worker joins only after the broker gives up on the killed member's
    # session and rebalances: allow for that (plus start-up) on a loaded 2-core machine
    second.wait_for_log("stats: ", timeout=300)
    stats = [line for line in second.text().splitlines() if "stats: " in line][-1]
    print(f"\nafter kill -9: repeated outputs {dup}; restarted worker {stats.split('stats: ')[1]}")


def test_two_workers_share_the_partitions(
    deployment: Callable[..., Deployment], cohort: tuple[Path, Expected]
) -> None:
    d = deployment()
    a, b = d.worker(), d.worker()
    wait_for_group(d.kafka, 2)
    _replay(d, [cohort[0]])
    _check(d, cohort[1])
    for w in (a, b):
        w.wait_for_log("stats: ")
        stats = [line for line in w.text().splitlines() if "stats: " in line][-1]
        assert "partitions []" not in stats, stats


def test_malformed_messages_go_to_the_dead_letter_topic(
    deployment: Callable[..., Deployment], data_dir: Path
) -> None:
    d = deployment(max_message_bytes=20_000)
    path = data_dir / "depresjon" / "condition" / "condition_2.csv.gz"
    expected = Expected.of([path])
    good = list(read(path))
    doc = decode_record(encode(good[0]))
    key = good[0].subject_id.encode()
    bad: list[tuple[bytes | None, bytes | None, str]] = [
        (key, b"\x00\xff binary", "undecodable"),
        (key, b'{"type": "activity"', "undecodable"),
        (key, encode_record({**doc, "version": 3}), "unknown_version"),
        (key, encode_record({**doc, "type": "glucose"}), "unknown_type"),
        (key, encode_record({**doc, "tz_offset_min": 9999}), "schema"),
        (key, encode_record({**doc, "counts": [1.0] * 6000}), "oversized"),
        (b"not-the-subject", encode(good[1]), "key_mismatch"),
    ]
    records: list[tuple[bytes | None, bytes | None]] = []
    for i, msg in enumerate(good):
        records.append((msg.subject_id.encode(), encode(msg)))
        if i < len(bad):
            records.append(bad[i][:2])
    end = RecordingEnd(
        event_id="end",
        subject_id=good[0].subject_id,
        source="t",
        tz_offset_min=60,
        at=max(m.span()[1] for m in good),
    )
    records.append((key, encode(end)))
    produce(d.kafka, d.names.device, records)
    d.worker()
    dead = _wait_dead(d, len(bad))
    got = Counter(c.record()["reason"] for c in dead)
    assert got == Counter(b[2] for b in bad)
    payloads = {c.record()["payload_b64"] for c in dead}
    assert payloads == {base64.b64encode(b[1]).decode() for b in bad if b[1] is not None}
    for c in dead:
        rec = c.record()
        assert rec["source"]["topic"] == d.names.device and rec["error"]
    features = wait_for_ids(d.kafka, d.names.features, set(expected.features), alive=_alive(d))
    assert {c.record()["id"]: _strip(c.record()) for c in features} == expected.features
    d.workers[0].wait_for_log("oversized 1")  # counters are logged ...
    log = d.workers[0].text()
    assert good[0].subject_id not in log  # ... never a payload or a subject id


def _strip(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "id"}


def _wait_dead(d: Deployment, n: int, timeout: float = 120.0) -> list[Consumed]:
    deadline = time.monotonic() + timeout
    while True:
        dead = read_topic(d.kafka, d.names.dead_letter)
        if len(dead) >= n:
            return dead
        _alive(d)()
        assert time.monotonic() < deadline, f"{len(dead)} of {n} dead letters"
        time.sleep(0.5)


def test_exactly_once_against_the_real_broker(
    deployment: Callable[..., Deployment], cohort: tuple[Path, Expected]
) -> None:
    """processing_guarantee=exactly_once (Kafka transactions): committed outputs equal the
    in-process replay with no duplicate."""
    d = deployment(processing_guarantee="exactly_once")
    d.worker()
    _replay(d, [cohort[0]])
    dup = _check(d, cohort[1], committed_only=True)
    assert dup == {"features": 0, "alerts": 0, "notices": 0}
