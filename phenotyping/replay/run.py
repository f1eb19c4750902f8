"""In-process replay: recordings -> schema messages -> the pipeline -> files.

This is the embedded default of the main job: no broker needed. It runs exactly the
:func:`phenotyping.pipeline.step` the Kafka workers run.

Outputs in ``--out DIR``:

``daily_features.csv``
    one row per subject and local day (every feature, its coverage and validity).
``recording_summary.csv``
    one row per subject: whole-recording circadian and sleep measures.
``alerts.jsonl``
    relapse-risk alerts (opened / escalated / resolved), one JSON object per line.
``notices.jsonl``
    one JSON object per notice (e.g. ``late_data``: samples for an already-closed day that
    were not applied, with the event id).
``clinical_events.jsonl``
    the clinical events replayed (treatment sessions, responses, self-reports), once per
    event id, by subject and time -- what the plots mark beside the features.
``report.json``
    files, rows and messages read, unusable rows with their reasons, the files of a
    replayed folder that no reader recognises (``not_read``), late samples, throughput.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import time
import traceback
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping import events
from phenotyping.errors import FormatError, InputError
from phenotyping.events import ActivityBatch, AnyMessage, ClinicalEvent, encode, natural_key
from phenotyping.features import sleep
from phenotyping.features.day import EngineParams
from phenotyping.features.recording import recording_summary
from phenotyping.pipeline import (
    MAX_AHEAD_DAYS,
    MAX_BEHIND_DAYS,
    OutOfWindow,
    Pipeline,
    StepOutput,
    flush,
)
from phenotyping.replay.formats import (
    ReadOptions,
    ReadReport,
    detect,
    files_in,
    may_hold_many,
    not_recordings,
    read,
)
from phenotyping.replay.formats._util import subject_from
from phenotyping.replay.spill import (
    MemoryReturn,
    ParkedStates,
    SpilledItems,
    SpilledRows,
    SpilledSeries,
    SpillError,
)
from phenotyping.risk.engine import RiskParams

#: The files :func:`write_outputs` writes, in the order the module docstring lists them.
OUTPUT_FILES = (
    "daily_features.csv",
    "recording_summary.csv",
    "alerts.jsonl",
    "notices.jsonl",
    "clinical_events.jsonl",
    "report.json",
)


@dataclass
class RecordingCollector:
    """Keeps each subject's whole activity series for the per-recording summary (in a
    temporary file: :class:`SpilledSeries`)."""

    parts: SpilledSeries = field(default_factory=SpilledSeries)
    clinical: dict[str, dict[str, Any]] = field(default_factory=dict)  # by event id

    def add(self, msg: AnyMessage) -> None:
        if isinstance(msg, ClinicalEvent):
            self.clinical.setdefault(msg.event_id, json.loads(encode(msg)))
        if isinstance(msg, ActivityBatch) and msg.counts is not None:
            start_s = int(msg.start.timestamp())
            values = np.array(msg.counts, dtype=np.float64)
            if msg.epoch_s != 60:
                from phenotyping.features.day import minute_sums

                summed = minute_sums(values, msg.epoch_s, (start_s % 60) // msg.epoch_s)
                values = values if summed is None else summed
            self.parts.add(msg.subject_id, start_s // 60, msg.tz_offset_min, values)

    def summaries(self, order: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """One row per subject, in ``order`` (default: sorted by subject id), one at a
        time."""
        for subject in sorted(self.parts.subjects()) if order is None else order:
            parts = sorted(self.parts.parts(subject), key=lambda p: p[0])
            first = parts[0][0]
            last = max(p[0] + len(p[2]) for p in parts)
            series = np.full(last - first, np.nan)
            for start, _, values in parts:
                seg = series[start - first : start - first + len(values)]
                np.fmax(seg, values, out=seg)
            start_local = first + parts[0][1]
            yield {"subject_id": subject, **recording_summary(series, start_local % 1440)}


@dataclass
class ReplayResult:
    """Every output of a replay. ``daily``, ``recordings``, ``notices`` and ``alerts`` are
    sequences of dicts: lists, or (a one-process replay) held in temporary files
    (:mod:`phenotyping.replay.spill`), read back on access, equal to the lists they stand
    for; ``list(...)`` makes a list."""

    daily: Sequence[dict[str, Any]]
    recordings: Sequence[dict[str, Any]]
    report: ReadReport
    late: int
    seconds: float
    samples: int
    notices: Sequence[dict[str, Any]] = field(default_factory=list)
    alerts: Sequence[dict[str, Any]] = field(default_factory=list)
    clinical: list[dict[str, Any]] = field(default_factory=list)
    state_bytes: int = 0  # the subjects' states (to_bytes) at the end, summed; 0 unless measured
    # where each notice and alert came from: (0, file, n) while a file was read, (1, subject,
    # n) when the subject's last days closed -- to put the parts of a shared replay back in
    # the order one process produces
    notice_keys: list[tuple[int, str, int]] = field(default_factory=list, repr=False)
    alert_keys: list[tuple[int, str, int]] = field(default_factory=list, repr=False)

    def summary_lines(self) -> list[str]:
        subjects = {r["subject_id"] for r in self.daily}
        valid = sum(1 for r in self.daily if r.get("valid"))
        lines = [
            f"read {self.report.files} recording(s), {self.report.rows:,} rows "
            f"-> {self.report.messages:,} messages ({self.samples:,} samples)",
            f"{len(subjects)} subject(s), {len(self.daily):,} daily rows "
            f"({valid:,} valid, {len(self.daily) - valid:,} below the coverage threshold)",
            f"{self.seconds:.2f} s, {self.samples / max(self.seconds, 1e-9):,.0f} samples/s",
        ]
        if self.report.not_read:
            names = [Path(f).name for f in self.report.not_read]
            more = f", and {len(names) - 5:,} more" if len(names) > 5 else ""
            lines.append(
                f"{len(names):,} file(s) in the folder(s) not read, no reader recognises them "
                f"(report.json lists them): {', '.join(names[:5])}{more}"
            )
        if self.report.unusable:
            lines.append("unusable rows (not used):")
            lines += [f"  {n:,}  {why}" for why, n in sorted(self.report.unusable.items())]
        if self.late:
            lines.append(f"{self.late:,} late sample(s) for already-closed days (not applied)")
        opened = [a for a in self.alerts if a["kind"] == "opened"]
        lines.append(
            f"{len(opened)} alert episode(s) in {len({a['subject_id'] for a in opened})} "
            f"subject(s) ({len(self.alerts)} alert messages), {len(self.notices)} notice(s)"
        )
        return lines


#: Subject states kept live in a one-process replay; the others are parked as their bytes
#: (~20 KiB instead of ~150-250 KiB). Large enough that a JSONL cohort whose subjects'
#: messages interleave does not serialise a state per message (~2-4 ms each) until it has
#: more subjects than this; ~100 MB at most.
LIVE_STATES = 512


def _replay_files(
    files: Sequence[Path],
    fmt: str,
    params: EngineParams,
    risk: RiskParams,
    progress: bool,
    options: ReadOptions | None = None,
    spill: bool = False,
    measure_states: bool = False,
    keyed: bool | None = None,
) -> ReplayResult:
    """Replay ``files`` in this process. With ``spill`` (the result is not sent to another
    process) daily rows, alerts, notices and recording rows go to temporary files as they
    are produced, and subject states beyond the ``LIVE_STATES`` most recently used are
    parked as their compressed bytes in another, so memory keeps a few bytes a row and
    ~100 bytes a parked subject. ``keyed`` (default: not ``spill``): record where each
    alert and notice came from, for a shared replay's merge."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    report = ReadReport()
    pipeline = Pipeline(params, risk, store=ParkedStates(LIVE_STATES) if spill else {})
    collector = RecordingCollector()
    out = StepOutput()
    daily: SpilledRows | list[dict[str, Any]] = SpilledRows() if spill else out.daily
    alerts: SpilledItems | list[dict[str, Any]] = SpilledItems("alerts") if spill else out.alerts
    notices: SpilledItems | list[dict[str, Any]] = SpilledItems("notices") if spill else out.notices
    nights = _Nights()
    # freed memory the allocator keeps, to the system -- in a one-process replay: a forked
    # worker's heap is its parent's, shared page by page, and trimming it cost a 2-process
    # Depresjon replay ~0.1 s of 0.7 (its memory returns when it exits anyway)
    give_back: Callable[[], None] = MemoryReturn() if spill else lambda: None
    samples = 0
    notice_keys: list[tuple[int, str, int]] = []
    alert_keys: list[tuple[int, str, int]] = []

    if keyed is None:
        keyed = not spill

    def mark(phase: int, source: str) -> None:  # the notices and alerts added since the last
        if not keyed:  # one process: its order is the order; the keys only order shared parts
            return
        notice_keys.extend((phase, source, n) for n in range(len(notices) - len(notice_keys)))
        alert_keys.extend((phase, source, n) for n in range(len(alerts) - len(alert_keys)))

    for f in tqdm(files, unit="file", disable=not progress, leave=False):
        try:
            for msg in read(f, fmt, report, options):
                try:
                    step_out = pipeline.process(msg)
                except InputError as exc:  # e.g. outside the subject's time window
                    report.reject(_message_reason(exc))
                    continue
                collector.add(msg)
                samples += events.samples(msg)
                if spill:
                    _spill(step_out, nights, daily, alerts, notices)
                else:
                    out.extend(step_out)
        except FormatError as exc:  # one bad file is counted; the others still replay
            report.reject(f"file not used: {exc}")
        except SpillError:  # the temporary files failed, not this recording: stop, say why
            raise
        except Exception as exc:  # a reader bug must not cost the other files
            report.reject(f"file not used: {f.name}: reader failed ({type(exc).__name__})")
        mark(0, str(f))
        give_back()
    if spill:  # subject by subject, so that only one subject's last rows are in memory
        for subject in sorted(pipeline.store):
            _spill(flush(subject, pipeline.store[subject]), nights, daily, alerts, notices)
            mark(1, subject)
            give_back()
    else:
        for subject in sorted(pipeline.store):  # as Pipeline.flush does
            out.extend(flush(subject, pipeline.store[subject]))
            mark(1, subject)
    late = state_bytes = 0
    store = pipeline.store
    states = (
        store.peek(measure_states)  # one at a time: parked states stay parked
        if isinstance(store, ParkedStates)
        else ((s, st, len(st.to_bytes()) if measure_states else 0) for s, st in store.items())
    )
    for _, state, size in states:
        late += state.days.late
        state_bytes += size if measure_states else 0
    recordings: SpilledItems | list[dict[str, Any]]
    if spill:  # in the order replay() returns them (its sort is stable)
        recordings = SpilledItems("recording summaries")
        order = sorted(sorted(collector.parts.subjects()), key=natural_key)
    else:
        recordings, order = [], None
        nights.add(daily)
    for rec in collector.summaries(order):
        rec.update(nights.timing(rec["subject_id"]))
        recordings.append(rec)
    return ReplayResult(
        daily,
        recordings,
        report,
        late,
        time.perf_counter() - t0,
        samples,
        notices,
        alerts,
        clinical=list(collector.clinical.values()),
        state_bytes=state_bytes,
        notice_keys=notice_keys,
        alert_keys=alert_keys,
    )


def _spill(
    step_out: StepOutput,
    nights: _Nights,
    daily: SpilledRows | list[dict[str, Any]],
    alerts: SpilledItems | list[dict[str, Any]],
    notices: SpilledItems | list[dict[str, Any]],
) -> None:
    """A step's outputs to their (spilled) sequences, in the order produced."""
    nights.add(step_out.daily)
    daily.extend(step_out.daily)
    alerts.extend(step_out.alerts)
    notices.extend(step_out.notices)


class _Nights:
    """What :func:`nightly_timing` reads of each subject's rows, kept as the rows are
    produced (in date order): the count of valid days, and the sleep midpoint and weekday
    of each valid night -- ~9 bytes a night instead of reading every row back from disk."""

    def __init__(self) -> None:
        self._valid: dict[str, int] = {}
        self._mids: dict[str, array[float]] = {}
        self._weekdays: dict[str, array[int]] = {}

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        for r in rows:
            subject = r["subject_id"]
            if subject not in self._valid:
                self._valid[subject] = 0
                self._mids[subject], self._weekdays[subject] = array("d"), array("b")
            if r.get("valid"):
                self._valid[subject] += 1
            if r.get("sleep_valid"):
                mid, weekday = r["sleep_midpoint_clock_min"], r["weekday"]
                self._mids[subject].append(float("nan") if mid is None else float(mid))
                self._weekdays[subject].append(-1 if weekday is None else int(weekday))

    def timing(self, subject: str) -> dict[str, float | int]:
        if subject not in self._valid:
            return nightly_timing([])
        mids = np.frombuffer(self._mids[subject], dtype=np.float64)
        weekdays = np.frombuffer(self._weekdays[subject], dtype=np.int8)
        return _timing(self._valid[subject], mids, weekdays)


def _message_reason(exc: InputError) -> str:
    """The reason counted in the report for a message the pipeline refused (no dates or
    ids in it, so equal reasons add up)."""
    if isinstance(exc, OutOfWindow):
        if exc.rule == "ahead":
            return f"time: more than {MAX_AHEAD_DAYS} days after the subject's latest data"
        return f"time: more than {MAX_BEHIND_DAYS} days before the subject's latest data"
    return f"message not used: {str(exc).split(':', 1)[0]}"


def nightly_timing(days: list[dict[str, Any]]) -> dict[str, float | int]:
    """Across a recording's valid days and nights: counts, midpoint and social jet lag."""
    nights = [r for r in days if r.get("sleep_valid")]
    mids = np.array([r["sleep_midpoint_clock_min"] for r in nights], dtype=np.float64)
    weekdays = [r["weekday"] for r in nights]
    return _timing(sum(1 for r in days if r.get("valid")), mids, weekdays)


def _timing(
    valid_days: int, mids: NDArray[np.float64], weekdays: Sequence[Any] | NDArray[np.int8]
) -> dict[str, float | int]:
    free = np.isin(weekdays, (5, 6))
    return {
        "valid_days": valid_days,
        "valid_nights": len(mids),
        "sleep_midpoint_circmean_min": sleep.circular_mean_minutes(mids),
        "social_jetlag_min": sleep.social_jet_lag(mids, free) if len(mids) else float("nan"),
    }


def replay(
    paths: Sequence[Path],
    *,
    fmt: str = "auto",
    params: EngineParams | None = None,
    risk: RiskParams | None = None,
    progress: bool = False,
    jobs: int = 1,
    options: ReadOptions | None = None,
    measure_states: bool = False,
) -> ReplayResult:
    """Replay recordings in-process through the pipeline and return every output.

    ``options`` tell the readers what the files do not say (e.g. the time zone).

    With ``jobs > 1`` the recordings are shared among ``jobs`` processes (this one and
    ``jobs - 1`` forked workers), each running the same pipeline on whole recordings (a
    subject never spans two processes, so the result is identical to ``jobs=1``; rows are
    sorted by subject and date either way).
    ``options`` (:class:`phenotyping.replay.formats._util.ReadOptions`) carries ``--tz``, the
    column mapping and the subject override to the third-party readers.
    ``measure_states``: sum the subjects' serialised states at the end into
    ``state_bytes`` (a benchmark's figure; it costs a ``to_bytes`` per live state).
    """
    for p in paths:
        if not p.exists():
            raise FormatError(f"{p}: no such file or folder")
    params = params or EngineParams()
    risk = risk or RiskParams()
    t0 = time.perf_counter()
    files = [f for p in paths for f in files_in(p, options)]
    if not files:
        raise FormatError("; ".join(found_nothing(p) for p in paths))
    groups = _subject_groups(files, fmt, options)
    result: ReplayResult
    exiting: list[BaseProcess] = []
    if jobs <= 1 or len(groups) < 2:
        result = _replay_files(files, fmt, params, risk, progress, options, True, measure_states)
        if isinstance(result.daily, SpilledRows):
            result.daily.sort(natural_key)
        result.clinical = sorted(result.clinical, key=_clinical_order)
    else:
        merged = _Merged(files)
        exiting = _replay_shared(
            groups, jobs, fmt, params, risk, progress, options, measure_states, merged.add
        )
        result = merged.result()
    failed = [why for why in result.report.unusable if why.startswith("file not used: ")]
    if files and len(failed) == len(files):  # nothing could be read at all: an error
        raise FormatError(failed[0].removeprefix("file not used: "))
    # a folder given twice, or inside another given folder, names its files once
    result.report.not_read = list(
        dict.fromkeys(str(f) for p in paths for f in not_recordings(p, files))
    )
    result.seconds = time.perf_counter() - t0
    MemoryReturn(every_s=0.0)()  # the live states and buffers of the replay just freed
    for proc in exiting:  # reaped if they have exited by now; else multiprocessing reaps
        proc.join(timeout=0)  # them at its next start or at exit (waiting cost ~7 ms)
    return result


def _clinical_order(c: dict[str, Any]) -> tuple[Any, ...]:
    return (natural_key(c["subject_id"]), dt.datetime.fromisoformat(c["at"]), c["event_id"])


class _Merged:
    """The parts of a shared replay, taken as they arrive (in any order), their rows,
    alerts, notices and recording rows spilled at once; :meth:`result` puts them in the
    order one process gives them (rows by subject and date, recording rows by subject;
    alerts and notices: those raised while reading, file by file, then those of the final
    closes, subject by subject). A subject never spans two parts, so that order is exact."""

    #: daily rows held as dicts (~7 KiB each) before they are spilled: spilling costs the
    #: parent ~50 us a row, which a replay of a few thousand rows (Depresjon: 1,144) would
    #: feel in its two-process speed, while a large one stays bounded
    HELD_ROWS = 5_000

    def __init__(self, files: Sequence[Path]) -> None:
        self._file_no = {str(f): i for i, f in enumerate(files)}
        self.report = ReadReport()
        self.late = self.state_bytes = self.samples = 0
        self.daily = SpilledRows()
        self._held: list[dict[str, Any]] = []  # rows not spilled yet (at most HELD_ROWS)
        self.recordings = SpilledItems("recording summaries")
        self._recording_subjects: list[str] = []
        self.clinical: list[dict[str, Any]] = []
        self.alerts = _Keyed("alerts", self._file_no)
        self.notices = _Keyed("notices", self._file_no)

    def add(self, part: ReplayResult) -> None:
        self.report.files += part.report.files
        self.report.rows += part.report.rows
        self.report.messages += part.report.messages
        self.report.unusable.update(part.report.unusable)
        self.late += part.late
        self.state_bytes += part.state_bytes
        self.samples += part.samples
        if isinstance(part.daily, list):
            self._held.extend(part.daily)
            if len(self._held) > self.HELD_ROWS:
                self.daily.extend(self._held)
                self._held.clear()
        else:  # a part spilled to disk (a group of many subjects): streamed, never all held
            for row in part.daily:
                self._held.append(row)
                if len(self._held) > self.HELD_ROWS:
                    self.daily.extend(self._held)
                    self._held.clear()
        for rec in part.recordings:
            self.recordings.append(rec)
            self._recording_subjects.append(rec["subject_id"])
        self.clinical.extend(part.clinical)
        self.alerts.extend(part.alerts, part.alert_keys)
        self.notices.extend(part.notices, part.notice_keys)

    def result(self) -> ReplayResult:
        daily: Sequence[dict[str, Any]]
        if len(self.daily):
            self.daily.extend(self._held)
            self.daily.sort(natural_key)
            daily = self.daily
        else:  # a small replay: its rows never went to disk (the order SpilledRows.sort gives)
            keys = {s: (natural_key(s), s) for s in {r["subject_id"] for r in self._held}}
            daily = sorted(self._held, key=lambda r: (keys[r["subject_id"]], r["date"]))
        names = self._recording_subjects
        self.recordings.reorder(
            np.array(sorted(range(len(names)), key=lambda i: (natural_key(names[i]), names[i])))
        )
        return ReplayResult(
            daily=daily,
            recordings=self.recordings,
            report=self.report,
            late=self.late,
            seconds=0.0,
            samples=self.samples,
            notices=self.notices.in_order(),
            alerts=self.alerts.in_order(),
            clinical=sorted(self.clinical, key=_clinical_order),
            state_bytes=self.state_bytes,
        )


class _Keyed:
    """Alerts or notices of a shared replay, spilled with where each came from: while
    file ``f`` was read (phase 0), or at subject ``s``'s final closes (phase 1), the
    ``n``-th there."""

    def __init__(self, role: str, file_no: dict[str, int]) -> None:
        self.items = SpilledItems(role)
        self._file_no = file_no
        self._phase = array("b")
        self._where = array("q")  # phase 0: the file's number; phase 1: the subject's
        self._n = array("q")
        self._subjects: dict[str, int] = {}

    def extend(self, items: Sequence[dict[str, Any]], keys: Sequence[tuple[int, str, int]]) -> None:
        for item, (phase, source, n) in zip(items, keys, strict=True):
            self.items.append(item)
            self._phase.append(phase)
            where = (
                self._file_no.get(source, -1)
                if phase == 0
                else self._subjects.setdefault(source, len(self._subjects))
            )
            self._where.append(where)
            self._n.append(n)

    def in_order(self) -> SpilledItems:
        phase = np.frombuffer(self._phase, dtype=np.int8)
        where = np.frombuffer(self._where, dtype=np.int64).copy()
        rank = np.empty(len(self._subjects), np.int64)  # subjects in the order of their ids
        for r, name in enumerate(sorted(self._subjects)):
            rank[self._subjects[name]] = r
        late = phase == 1
        where[late] = rank[where[late]]
        n = np.frombuffer(self._n, dtype=np.int64)
        self.items.reorder(np.lexsort((n, where, phase)) if len(n) else np.empty(0, np.int64))
        return self.items


def _replay_shared(
    groups: list[list[Path]],
    jobs: int,
    fmt: str,
    params: EngineParams,
    risk: RiskParams,
    progress: bool,
    options: ReadOptions | None,
    measure_states: bool,
    take: Callable[[ReplayResult], None],
) -> list[BaseProcess]:
    """Each group replayed by :func:`_replay_files` in one of ``jobs`` processes: ``jobs - 1``
    forked workers and this one each claim, one at a time, the longest group that no
    process has claimed yet. Each group's result is handed to ``take`` as soon as this
    process can (in no set order) and then dropped.

    No executor: a claim is one shared counter (a worker holds no queued group that this
    process might have taken when it runs out of its own), this process runs no thread
    beside its own replay (the executor's result thread took the lock away from it to read
    results while it replayed), and a worker's part comes back on its own pipe, read here
    between groups. Returns the workers, done but perhaps still exiting (not waited for
    here: tearing down a forked copy of this process takes the kernel several ms)."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    from tqdm import tqdm

    # longest first, so that the last groups to finish are short ones and no process
    # waits long for another at the end
    order = sorted(range(len(groups)), key=lambda i: -_size(groups[i]))
    # A group that may hold many subjects (JSONL, Open mHealth: a whole cohort) is replayed
    # here, spilled to disk with its states parked, as one process would: a worker holds
    # its part's states and rows in memory until it sends them, which for a cohort would
    # grow with its subjects.
    many = [i for i in order if _holds_many(groups[i], fmt)]
    order = [i for i in order if i not in many]
    ctx = mp.get_context("fork")
    claimed = ctx.RawValue("q", 0)  # the next position in ``order`` to claim
    lock = ctx.Lock()

    def claim() -> int | None:
        with lock:
            k = int(claimed.value)
            claimed.value = k + 1
        return order[k] if k < len(order) else None

    def work(send: Connection, inherited: list[Connection]) -> None:
        """A forked worker: claim, replay, send; then "done". It first closes the read ends
        of the pipes it inherited (its own, and the earlier workers'): were it to hold
        one, a parent killed by a signal would leave it blocked for ever on a full pipe
        with a reader that never reads, instead of failing at its next send."""
        for conn in inherited:
            conn.close()
        try:
            while (i := claim()) is not None:
                part = _replay_files(
                    groups[i], fmt, params, risk, False, options, False, measure_states
                )
                send.send((i, part))
                del part
            send.send(None)
        except BaseException as exc:  # noqa: BLE001 -- the parent raises it
            send.send(_WorkerFailed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        finally:
            send.close()

    bar = tqdm(total=len(groups), unit="subject", disable=not progress, leave=False)
    workers: dict[Connection, BaseProcess] = {}
    done: list[BaseProcess] = []

    def receive(conn: Connection) -> None:
        try:
            msg = conn.recv()
        except EOFError:  # died without a word (killed, or crashed in compiled code)
            proc = workers.pop(conn)
            proc.join()
            raise _WorkerFailed(
                f"a replay worker process stopped (exit code {proc.exitcode}) "
                "before it sent its results",
                "",
            ) from None
        if msg is None:  # that worker is done
            done.append(workers.pop(conn))
            conn.close()
        elif isinstance(msg, _WorkerFailed):
            raise msg
        else:
            take(msg[1])
            bar.update()

    # The workers are forked: every object of this process is theirs too, and a garbage
    # collection in a worker walks (and so copies, page by page) all of them. Frozen,
    # the collector leaves them alone; the workers only collect their own.
    gc.freeze()
    try:
        # none forked to find nothing left (this process takes one if it has no cohort)
        for _ in range(max(0, min(jobs - 1, len(order) - (0 if many else 1)))):
            recv, send = ctx.Pipe(duplex=False)
            _widen(send)
            proc: BaseProcess = ctx.Process(
                target=work, args=(send, [recv, *workers]), daemon=True
            )
            proc.start()
            send.close()
            workers[recv] = proc
        # this process works too (no third process on two cores, nothing of its share
        # pickled), and reads what the workers finished between its own groups
        for cohort in many:
            part = _replay_files(
                groups[cohort], fmt, params, risk, False, options, True, measure_states, True
            )
            take(part)
            bar.update()
            del part
            for conn in wait(list(workers), timeout=0):
                receive(conn)  # type: ignore[arg-type]
        while (i := claim()) is not None:
            part = _replay_files(
                groups[i], fmt, params, risk, False, options, False, measure_states
            )
            take(part)
            bar.update()
            del part
            for conn in wait(list(workers), timeout=0):
                receive(conn)  # type: ignore[arg-type]
        while workers:
            for conn in wait(list(workers)):
                receive(conn)  # type: ignore[arg-type]
        return done
    finally:
        for conn, proc in workers.items():  # only after a failure
            proc.terminate()
            proc.join()
            conn.close()
        gc.unfreeze()
        bar.close()


def _holds_many(group: Sequence[Path], fmt: str) -> bool:
    """Whether ``group`` may hold many subjects' data (a cohort's JSONL or Open mHealth
    files), not one subject's recording."""
    return fmt in ("jsonl", "omh") or any(may_hold_many(f) for f in group)


def _widen(conn: Connection) -> None:
    """Let the pipe under ``conn`` hold up to 1 MiB (Linux; elsewhere, or if refused, it
    keeps its 64 KiB): a worker's part (~1 KiB pickled a daily row; 25 KiB for a month,
    100 KiB for three) then waits in the pipe while the parent finishes a group of its
    own, instead of stopping the worker until the parent reads."""
    import fcntl

    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is not None:
        try:
            fcntl.fcntl(conn.fileno(), setsize, 1 << 20)
        except OSError:  # above the system's pipe-max-size: the default stays
            pass


class _WorkerFailed(RuntimeError):
    """A worker of a shared replay failed: what it raised, and its traceback."""

    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message + (f"\n(in the worker process)\n{trace}" if trace else ""))


def found_nothing(path: Path) -> str:
    """Why ``path`` has nothing to replay, naming what it does hold."""
    if path.is_file():
        return f"{path}: not a recording in a known format (use --format)"
    kinds: dict[str, int] = {}
    n = 0
    for f in path.rglob("*"):
        if f.is_file():
            n += 1
            suffix = "".join(f.suffixes[-2:]).lower() or "(no extension)"
            kinds[suffix] = kinds.get(suffix, 0) + 1
    listing = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items(), key=lambda kv: -kv[1])[:6])
    held = f"{n} file(s): {listing}" if n else "no files"
    return f"{path}: no recording in a known format found ({held})"


def _size(files: Sequence[Path]) -> int:
    """Bytes on disk of ``files`` (folders: of the files in them), the work's proxy."""
    total = 0
    for f in files:
        try:
            total += (
                f.stat().st_size
                if f.is_file()
                else sum(p.stat().st_size for p in f.rglob("*") if p.is_file())
            )
        except OSError:  # unreadable: reading it will say why
            pass
    return total


def _subject_groups(
    files: Sequence[Path], fmt: str, options: ReadOptions | None = None
) -> list[list[Path]]:
    """Files grouped so that one subject's data never spans two processes: a recording
    file (or MMASH folder) is one subject; JSONL files may hold any subjects, so they stay
    together in one group."""
    groups: dict[str, list[Path]] = {}
    subject = getattr(options, "subject", None)
    for f in files:
        if fmt == "auto" and subject is None and not may_hold_many(f):
            # one subject's recording, whatever its format (not sniffed here: reading it
            # sniffs it), grouped by the subject id its name gives: two files of one
            # subject and a file given twice are replayed by one process, as one would
            groups.setdefault(_subject_key(f), []).append(f)
            continue
        try:
            kind = detect(f, options) if fmt == "auto" else fmt
        except FormatError:
            kind = "unreadable"
        # JSONL and Open mHealth files may hold any subjects; --subject makes every file one
        together = kind in ("jsonl", "omh") or getattr(options, "subject", None) is not None
        key = kind if together else _subject_key(f)
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def _subject_key(f: Path) -> str:
    """The subject id the readers take from the name of ``f`` (``subject_from`` of the part
    before the first dot; a Fitbit export's ``fitbit/`` folder is named for its parent):
    ``s1.csv``, ``s1.part2.csv``, ``s1.csv`` in another folder and ``s 1.csv`` (id ``s_1``,
    as ``s_1.csv``) give one key. A key that joins more files than one subject's costs
    only parallelism; one that split a subject would give two states of it."""
    name = f.parent.name if f.name.lower() == "fitbit" else f.name
    return "one:" + subject_from(name.split(".")[0])


def write_outputs(result: ReplayResult, out: Path) -> None:
    """Write the output files (module docstring) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "daily_features.csv", result.daily)
    _write_csv(out / "recording_summary.csv", result.recordings)
    for name, items in (
        ("alerts", result.alerts),
        ("notices", result.notices),
        ("clinical_events", result.clinical),
    ):
        with (out / f"{name}.jsonl").open("w") as fh:
            for item in items:
                fh.write(json.dumps(item, sort_keys=True) + "\n")
    report = {
        "files": result.report.files,
        "rows": result.report.rows,
        "messages": result.report.messages,
        "samples": result.samples,
        # by reason: the same file whatever order the parts of a shared replay came in
        "unusable": {str(k): int(v) for k, v in sorted(result.report.unusable.items())},
        "not_read": result.report.not_read,
        "late_samples": result.late,
        "alerts": len(result.alerts),
        "notices": len(result.notices),
        "seconds": round(result.seconds, 3),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_number) + "\n")


def _json_number(v: Any) -> Any:
    """NumPy scalars as JSON numbers (counters may hold them)."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(v) for k, v in row.items()})


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return v
