"""The worker's behaviour without Kafka: BatchProcessor against the in-process pipeline."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pytest
from process_helpers import (
    NAMES,
    PARTITIONS,
    as_records,
    closed_cohort,
    expected_rows,
    in_process,
    keyed,
    partition,
    plain,
)

from phenotyping.events import ActivityBatch, AnyMessage, encode
from phenotyping.pipeline import StepOutput
from phenotyping.simulate import CohortSpec
from phenotyping.stream.codec import (
    REASONS,
    decode_record,
    encode_record,
    pack_state,
    unpack_state,
)
from phenotyping.stream.process import (
    SOURCE_HEADER,
    BatchProcessor,
    Record,
    check_routes,
    routes,
)


@pytest.fixture(scope="module")
def cohort() -> list[AnyMessage]:
    """Two subjects, three weeks, with wear gaps, late and duplicated uploads; then a
    RecordingEnd per subject, as the replay publisher sends them."""
    return closed_cohort(CohortSpec(n_subjects=2, days=21, seed=3, rr=False, late_upload_prob=0.15))


@pytest.fixture(scope="module")
def expected(cohort: list[AnyMessage]) -> StepOutput:
    return in_process(cohort)


@dataclass
class Run:
    """Drives a BatchProcessor like the agent does, with a dict as the table."""

    cache_size: int = 256
    table: dict[str, bytes] = field(default_factory=dict)
    sent: list[tuple[str, int, bytes | None, dict[str, Any]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.proc = BatchProcessor(NAMES, cache_size=self.cache_size, max_message_bytes=20_000)

    def batch(
        self, records: Sequence[Record], *, crash_before_flush: bool = False, flush: bool = True
    ) -> None:
        result = self.proc.process(records, self.table.get)
        for o in result.outgoing:
            assert dict(o.headers)[SOURCE_HEADER].startswith(b"d:")
            self.sent.append((o.topic, o.partition, o.key, decode_record(o.value)))
        self.counts.update(result.counts)
        if crash_before_flush:  # outputs acknowledged, the worker dies before its flush
            self.__post_init__()
            return
        if not flush:
            return
        for w in self.proc.take_writes():
            self.table[w.subject] = w.value

    def run(self, records: Sequence[Record], size: int, flush_every: int = 1) -> Run:
        starts = range(0, len(records), size)
        for k, i in enumerate(starts):
            last = k == len(starts) - 1
            self.batch(records[i : i + size], flush=last or (k + 1) % flush_every == 0)
        return self

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [rec for topic, _, _, rec in self.sent if topic == name]


def _by_id(recs: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in recs}


def test_every_step_output_field_has_a_route() -> None:
    check_routes(routes(NAMES))
    assert {f.name for f in fields(StepOutput)} <= set(routes(NAMES))
    with pytest.raises(TypeError, match="alerts"):
        check_routes({k: v for k, v in routes(NAMES).items() if k != "alerts"})


@pytest.mark.parametrize(
    ("size", "cache", "flush_every"), [(1, 0, 1), (7, 2, 3), (500, 256, 1), (5, 1, 40)]
)
def test_outputs_equal_the_in_process_pipeline(
    cohort: list[AnyMessage], expected: StepOutput, size: int, cache: int, flush_every: int
) -> None:
    """Any batch size, state cache and flush interval gives the in-process outputs."""
    run = Run(cache_size=cache).run(as_records(keyed(cohort)), size, flush_every)
    rows = run.topic("f")
    assert len(rows) == len(expected.daily) > 30
    assert {r.pop("id"): r for r in rows} == expected_rows(expected)
    assert _by_id(run.topic("a"), "alert_id") == _by_id(
        [plain(a) for a in expected.alerts], "alert_id"
    )
    assert sorted(map(repr, run.topic("n"))) == sorted(repr(plain(n)) for n in expected.notices)


def test_outputs_go_to_the_input_partition_with_the_routed_key(cohort: list[AnyMessage]) -> None:
    run = Run().run(as_records(keyed(cohort)), 50)
    for topic, part, key, rec in run.sent:
        if topic in ("f", "n"):
            assert key == rec["subject_id"].encode()
            assert part == partition(rec["subject_id"].encode())
        elif topic == "a":
            assert key == rec["alert_id"].encode()


def test_late_data_is_a_notice_and_a_dead_letter(
    cohort: list[AnyMessage], expected: StepOutput
) -> None:
    late_notices = [n for n in expected.notices if n["kind"] == "late_data"]
    assert late_notices, "the cohort should have late uploads"
    records = as_records(keyed(cohort))
    run = Run().run(records, 20)
    dead = run.topic("dl")
    assert {d["reason"] for d in dead} == {"late_data"}
    assert len(dead) == len(late_notices)
    by_offset = {(r.partition, r.offset): r for r in records}
    for d in dead:
        src = by_offset[(d["source"]["partition"], d["source"]["offset"])]
        assert base64.b64decode(d["payload_b64"]) == src.value
        late = [n for n in late_notices if n["event_id"] == decode_record(src.value)["event_id"]]
        assert d["detail"]["samples_not_applied"] == late[0]["samples_not_applied"]


def test_bad_input_is_dead_lettered_and_the_rest_processed(
    cohort: list[AnyMessage], expected: StepOutput
) -> None:
    good = keyed(cohort)
    first = cohort[0]
    assert isinstance(first, ActivityBatch)
    doc = decode_record(encode(first))
    k = first.subject_id.encode()
    p = partition(k)
    bad: list[tuple[bytes | None, bytes | None, int, str]] = [
        (k, b"\xff\xfe not json", p, "undecodable"),
        (k, b"[1, 2]", p, "undecodable"),
        (k, None, p, "undecodable"),
        (k, encode_record({**doc, "version": 7}), p, "unknown_version"),
        (k, encode_record({**doc, "type": "blood_pressure"}), p, "unknown_type"),
        (k, encode_record({**doc, "counts": [-1.0]}), p, "schema"),
        (k, encode_record({**doc, "counts": [1.0] * 5000}), p, "oversized"),
        (b"someone-else", encode(first), p, "key_mismatch"),
        (None, encode(first), p, "key_mismatch"),
        (k, encode(first), (p + 1) % PARTITIONS, "wrong_partition"),
    ]
    mixed: list[tuple[bytes | None, bytes | None, int]] = []
    for i, item in enumerate(good):
        mixed.append(item)
        if i < len(bad):
            mixed.append(bad[i][:3])
    records = as_records(mixed)
    run = Run().run(records, 25)
    dead = [d for d in run.topic("dl") if d["reason"] != "late_data"]
    assert sorted(d["reason"] for d in dead) == sorted(b[3] for b in bad)
    assert set(REASONS) >= {d["reason"] for d in dead}
    for d in dead:
        src = next(
            r
            for r in records
            if (r.partition, r.offset) == (d["source"]["partition"], d["source"]["offset"])
        )
        assert d["payload_b64"] == (
            None if src.value is None else base64.b64encode(src.value).decode()
        )
        assert d["id"] == f"d:{src.partition}:{src.offset}:{d['reason']}"
        assert d["error"]
    rows = {r.pop("id"): r for r in run.topic("f")}
    assert rows == {f"{r['subject_id']}:{r['date']}": plain(r) for r in expected.daily}


def test_a_redelivered_batch_changes_nothing(
    cohort: list[AnyMessage], expected: StepOutput
) -> None:
    """Crash after the state was stored but before the offsets were committed: the batch is
    delivered again and skipped; crash before the state was stored: it is processed again
    and its outputs repeat with the same ids and content (at-least-once)."""
    records = as_records(keyed(cohort))
    run = Run()
    size = len(records) // 8
    for i in range(0, len(records), size):
        chunk = records[i : i + size]
        if i // size == 3:
            run.batch(chunk)  # state stored ...
            run.batch(chunk)  # ... offsets not committed: redelivered
        elif i // size == 5:
            run.batch(chunk, crash_before_flush=True)
            run.batch(chunk)
        else:
            run.batch(chunk)
    assert run.counts["redelivered_skipped"] == size
    rows = run.topic("f")
    ids = Counter(r["id"] for r in rows)
    assert set(ids) == {f"{r['subject_id']}:{r['date']}" for r in expected.daily}
    for r in rows:
        assert {k: v for k, v in r.items() if k != "id"} == plain(
            next(e for e in expected.daily if f"{e['subject_id']}:{e['date']}" == r["id"])
        )
    late = [d for d in run.topic("dl") if d["reason"] == "late_data"]
    late_expected = [n for n in expected.notices if n["kind"] == "late_data"]
    assert len({d["id"] for d in late}) == len(late_expected)


def test_the_cache_never_hides_a_newer_table_value(cohort: list[AnyMessage]) -> None:
    """If the table holds another value than the one the processor wrote (a restore, a
    rebalance), the table wins."""
    records = as_records(keyed(cohort))
    run = Run(cache_size=10)
    run.batch(records[:30])
    subject = cohort[0].subject_id
    part, offset, body = unpack_state(run.table[subject])
    fresh = Run(cache_size=0)
    fresh.batch(records[:30])
    # replace the stored state by an empty one at the same offset: the next message must be
    # applied to the empty state, as a restarted worker would
    from phenotyping.pipeline import SubjectState

    run.table[subject] = pack_state(part, offset, SubjectState.new().to_bytes())
    fresh.table[subject] = run.table[subject]
    run.batch(records[30:60])
    fresh.batch(records[30:60])
    assert run.table == fresh.table
    assert body != unpack_state(run.table[subject])[2]


def test_a_corrupt_state_is_dead_lettered_not_fatal(cohort: list[AnyMessage]) -> None:
    records = as_records(keyed(cohort))
    run = Run()
    run.table[cohort[0].subject_id] = b"garbage"
    run.batch(records[:20])
    reasons = Counter(d["reason"] for d in run.topic("dl"))
    n_first = sum(1 for m in cohort[:20] if m.subject_id == cohort[0].subject_id)
    assert reasons["state_error"] == n_first > 0
    assert run.counts["applied"] == 20 - n_first
