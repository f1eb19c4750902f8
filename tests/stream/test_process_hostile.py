"""The worker's record loop under hostile input, without Kafka (issue 11 rows 1, 2, 3, 13
and "wire idle closing"): one record can cost only itself, never the partition, never
another subject's data.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from process_helpers import (
    NAMES,
    PARTITIONS,
    Raw,
    as_records,
    closed_cohort,
    expected_rows,
    in_process,
    keyed,
    partition,
)

import phenotyping.stream.process as process_mod
from phenotyping.events import AnyMessage, decode, encode
from phenotyping.pipeline import Pipeline, StepOutput
from phenotyping.simulate import CohortSpec, simulate
from phenotyping.stream.codec import REASONS, decode_record, default_partition
from phenotyping.stream.process import BatchProcessor, Record


@pytest.fixture(scope="module")
def cohort() -> list[AnyMessage]:
    return closed_cohort(CohortSpec(n_subjects=2, days=14, seed=5, rr=False))


@pytest.fixture(scope="module")
def expected(cohort: list[AnyMessage]) -> StepOutput:
    return in_process(cohort)


class Harness:
    """Drives a BatchProcessor as the agent does (dict table, per-partition offsets)."""

    def __init__(self, **kw: Any) -> None:
        self.table: dict[str, bytes] = {}
        self.sent: list[tuple[str, int, dict[str, Any]]] = []
        self.counts: Counter[str] = Counter()
        self.offsets: Counter[int] = Counter()
        self.proc = BatchProcessor(NAMES, partitioner=partition, **kw)

    def records(self, raw: Sequence[Raw], ts: int = 1_700_000_000_000) -> list[Record]:
        return as_records(raw, self.offsets, ts)

    def batch(
        self, records: Sequence[Record], highwater: Callable[[int], int | None] | None = None
    ) -> None:
        if highwater is None:
            result = self.proc.process(records, self.table.get)
        else:
            result = self.proc.process(records, self.table.get, highwater)
        self._take(result)

    def _take(self, result: process_mod.BatchResult) -> None:
        for o in result.outgoing:
            self.sent.append((o.topic, o.partition, decode_record(o.value)))
        self.counts.update(result.counts)
        for w in self.proc.take_writes():
            self.table[w.subject] = w.value

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [rec for topic, _, rec in self.sent if topic == name]


def _rows(h: Harness) -> dict[str, dict[str, Any]]:
    rows = {}
    for r in h.topic("f"):
        r = dict(r)
        rows[r.pop("id")] = r
    return rows


def test_one_misrouted_record_cannot_take_a_subjects_partition(
    cohort: list[AnyMessage], expected: StepOutput
) -> None:
    """Row 2: one valid message on the wrong partition created the subject's state there and
    every later message on its real partition was dead-lettered ``wrong_partition``."""
    first = cohort[0]
    key = first.subject_id.encode()
    wrong = (partition(key) + 1) % PARTITIONS
    h = Harness()
    h.batch(h.records([(key, encode(first), wrong)]))
    h.batch(h.records(keyed(cohort)))
    dead = h.topic("dl")
    assert [d["reason"] for d in dead if d["reason"] != "late_data"] == ["misrouted"]
    assert "partition" in dead[0]["error"]
    assert _rows(h) == expected_rows(expected)


def test_the_default_partitioner_is_kafkas() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    parts = list(range(4))
    for i in range(200):
        key = f"subject-{i}".encode()
        assert default_partition(key, 4) == DefaultPartitioner()(key, parts, parts)


def test_an_exception_anywhere_in_one_record_dead_letters_it_and_the_partition_goes_on(
    cohort: list[AnyMessage], expected: StepOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 1: an exception escaping the record loop crashed the agent (the partition
    stalled). Now it costs that record only."""
    real_step = process_mod.step
    victim = cohort[3].event_id

    def flaky_step(state: Any, msg: Any) -> StepOutput:
        if msg.event_id == victim:
            raise OverflowError("boom")
        return real_step(state, msg)

    monkeypatch.setattr(process_mod, "step", flaky_step)
    h = Harness(cache_size=0)
    calls = Counter[str]()

    def flaky_load(subject: str) -> bytes | None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("unexpected")  # outside the engine: in the worker itself
        return h.table.get(subject)

    records = h.records(keyed(cohort))
    for i in range(0, len(records), 10):
        h._take(h.proc.process(records[i : i + 10], flaky_load))
    dead = [d for d in h.topic("dl") if d["reason"] != "late_data"]
    assert sorted(d["reason"] for d in dead) == ["processing_error", "processing_error"]
    assert {d["error"] for d in dead} == {
        "engine raised OverflowError",
        "worker raised RuntimeError",
    }
    applied = h.counts["applied"]
    assert applied == len(records) - 2
    assert set(REASONS) >= {d["reason"] for d in dead}


def test_a_sample_outside_the_window_is_dead_lettered_with_the_rule(
    cohort: list[AnyMessage], expected: StepOutput
) -> None:
    """Row 3 in a worker: a message decades ahead took 676 MB and blocked the loop 10 s."""
    first = cohort[0]
    doc = decode_record(encode(first))
    doc.update(event_id="stray", start="2090-01-01T00:00:00+00:00")
    stray = decode(doc)
    msgs = [*cohort[:5], stray, *cohort[5:]]
    h = Harness()
    h.batch(h.records(keyed(msgs)))
    dead = [d for d in h.topic("dl") if d["reason"] != "late_data"]
    assert [d["reason"] for d in dead] == ["time_window"]
    assert "days after this subject's latest data" in dead[0]["error"]
    assert _rows(h) == expected_rows(expected)


@pytest.mark.parametrize("clue", ["timestamp", "highwater"])
def test_a_recreated_device_topic_is_detected_not_skipped_as_redelivered(
    cohort: list[AnyMessage], clue: str
) -> None:
    """Row 13: after the device topic was re-created (offsets from 0 again) with the state
    changelog kept, new messages were skipped as "redelivered" without a trace. Two clues:
    a record newer than everything the state applied, or the state's offset beyond the
    log's end."""
    half = len(cohort) // 2
    h = Harness()
    ts = 1_700_000_000_000
    h.batch(h.records(keyed(cohort[:half]), ts=ts))
    applied = h.counts["applied"]
    h.offsets.clear()  # the topic is re-created: offsets restart at 0
    if clue == "timestamp":
        rest = h.records(keyed(cohort[half:]), ts=ts + 60_000)
        h.batch(rest)  # highwater unknown
    else:
        rest = h.records(keyed(cohort[half : half + 6]), ts=ts)
        h.batch(rest, highwater=lambda p: h.offsets[p])
    assert h.counts["redelivered_skipped"] == 0
    assert h.counts["topic_reset"] > 0
    assert h.counts["applied"] == applied + len(rest)


def test_a_true_redelivery_is_still_skipped(cohort: list[AnyMessage]) -> None:
    h = Harness()
    base = 1_700_000_000_000
    records = h.records(keyed(cohort[:20]), ts=base)
    # records from producers with different clocks: a later offset may carry an earlier ts
    records = [
        Record(r.topic, r.partition, r.offset, r.key, r.value, base - 1000 * (i % 3))
        for i, r in enumerate(records)
    ]
    h.batch(records, highwater=lambda p: h.offsets[p])
    h.batch(records, highwater=lambda p: h.offsets[p])
    assert h.counts["redelivered_skipped"] == 20
    assert h.counts["topic_reset"] == 0


def test_a_silent_subject_gets_its_data_gap_notice_live_exactly_once() -> None:
    """Processing time closes a silent subject's days (pipeline.idle was not wired): the
    data-gap notice comes after gap_notice_days, once, with the existing notice schema."""
    clock = [0.0]
    h = Harness(ticker=lambda: clock[0])
    spec = CohortSpec(n_subjects=1, days=10, seed=1, rr=False, late_upload_prob=0.0)
    msgs = list(simulate(spec))
    h.batch(h.records(keyed(msgs)))
    before = {(n["kind"], n.get("date")) for n in h.topic("n")}
    gap_days = Pipeline().risk.gap_notice_days

    def tick(seconds: float) -> process_mod.BatchResult:
        clock[0] += seconds
        result = h.proc.tick(list(h.table.items()), idle_after_s=3600)
        h._take(result)
        return result

    assert not tick(1800).outgoing  # half an hour of silence: nothing
    for _ in range(45):
        tick(86_400.0 / 3)  # every 8 hours for 15 days
    for _ in range(3):
        tick(0.0)  # the same moment judged again: nothing new
    gaps = [n for n in h.topic("n") if n["kind"] == "data_gap"]
    assert gaps, "no data-gap notice after 15 silent days"
    assert gaps[0]["days_without_data"] == gap_days
    dates = [g["date"] for g in gaps]
    assert len(dates) == len(set(dates)), "a data-gap notice was sent twice"
    assert [g["days_without_data"] for g in gaps] == [gap_days + 7 * i for i in range(len(gaps))]
    assert not any(("data_gap", d) in before for d in dates)
    rows = [r["id"] for r in h.topic("f")]
    assert len(rows) == len(set(rows)), "a day was closed twice"
    # the notice has the wire schema of notices
    from phenotyping.events import Notice

    Notice.model_validate(gaps[0])
    # the closed days after the data are empty rows
    last_data = max(r["date"] for r in h.topic("f") if r["observed_min"])
    assert all(r["observed_min"] == 0 for r in h.topic("f") if r["date"] > last_data)
    assert dt.date.fromisoformat(gaps[0]["date"]) > dt.date.fromisoformat(last_data)
    # the idle days are exactly those an in-process pipeline closes at that time
    pipe = Pipeline()
    for m in msgs:
        pipe.process(m)
    (state,) = pipe.store.values()
    from phenotyping.pipeline import idle_for

    more = idle_for(msgs[0].subject_id, state, clock[0] / 60)
    in_process = {f"{r['subject_id']}:{r['date']}" for r in more.daily}
    assert in_process <= set(rows)


def test_idle_closing_never_judges_a_partition_this_worker_does_not_own() -> None:
    clock = [0.0]
    h = Harness(ticker=lambda: clock[0])
    msgs = list(simulate(CohortSpec(n_subjects=1, days=6, seed=1, rr=False)))
    h.batch(h.records(keyed(msgs)))
    clock[0] += 10 * 86_400
    h.proc.tick(list(h.table.items()), idle_after_s=1)  # first sighting starts the silence
    clock[0] += 10 * 86_400
    result = h.proc.tick(list(h.table.items()), idle_after_s=1, owned=lambda p: False)
    assert not result.outgoing and not result.touched
