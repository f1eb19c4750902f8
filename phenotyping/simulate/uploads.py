"""How a simulated cohort reaches the ingest: batches, imperfect uploads, arrival order.

:func:`simulate` yields the cohort's messages in upload (arrival) order, as a lazy
iterator; :func:`simulate_timed` also yields each arrival instant; :func:`write_jsonl`
writes them one :func:`phenotyping.events.encode` line per message.

*Imperfect uploads*, all drawn from the seed:

* ``wear_gap_prob``: per subject-day, a 1-8 h stretch while awake with the watch off:
  ``null`` counts (hour batches entirely inside it are not sent, nor samples in it, nor
  daytime RR bursts).
* ``nonwear_day_prob``: per subject-day, nothing at all for that local day nor for the
  night that starts on its evening (no activity, RR or sleep message).
* ``late_upload_prob``: per subject-day, everything of that day and of its night arrives
  24-72 h late (after later data of the same subject).
* ``duplicate_prob``: per message, the identical message (same ``event_id``, same bytes)
  is uploaded a second time 1 min to 12 h later.

*Treatment* (:class:`Treatment`, ``CohortSpec.treat``): a course of sessions (ketamine,
TMS...) with the clinic's records as :class:`ClinicalEvent` messages -- a session per
session day, a weekly PHQ-9 self-report (before, during and after the course), optionally
a clinician's ``response`` and a ``course_end``. PHQ-9 falls linearly over the course and,
when the subject also has a later :class:`Deterioration` (a relapse after a response),
climbs back. Optionally the course also lifts a depressed activity level. Clinical events
come from the clinic, not the wearable: they are never late, duplicated or dropped, arrive
1-30 min after they happen and use their own random stream, so a treatment that changes no
signal (``pre_activity_factor=1``) adds messages but changes none of the others.

Conventions
-----------
*Time zone.* ``tz`` is a fixed UTC offset in minutes (default ``+60``) or an IANA zone
name. Days are cut at local midnight. A batch is split where the UTC offset changes, so
every message carries one ``tz_offset_min`` valid for all of its samples (a sleep
episode, which cannot be split, carries the offset at its *end*, i.e. of the wake-up day;
its ``start`` and ``end`` each carry their own offset).

*Batches.* ``batch="day"``: one :class:`ActivityBatch` per subject per local day (1440
one-minute epochs; two batches on a daylight-saving day). ``"hour"``: one per local
clock hour. ``"sample"``: one per minute (one epoch each), for benchmarks. The counts are
the same in all three shapes.

*Event ids* are ``f"{subject}:{type}:{start}"`` with ``start`` the batch start in UTC
(``2024-01-01T23:00:00Z``; for heartbeat bursts the first beat, to the millisecond), so a
re-upload carries the same id; clinical events are ``f"{subject}:clinical:{kind}:{at}"``.

*Arrival.* A message arrives after its last sample: day batches 5-120 min after local
midnight, hour batches 1-15 min after the hour, samples at once, RR bursts 1-30 s after
their last beat, sleep episodes 5-60 min after getting up (plus the late-upload delay,
and the duplicate delay for a re-upload). :func:`simulate_timed` also yields the arrival
instant; ties keep subject order.

*Determinism and independence.* Every random draw comes from a stream keyed by
``(seed, stream, subject index, day or night)``. The same spec gives byte-identical
output; a subject's data do not depend on how many other subjects there are, every
message of a shorter cohort is also in a longer one with the same seed, switching RR off
changes no other message, and the perturbation probabilities change *which*
perturbations apply but not the underlying signals. Besides :mod:`phenotyping.events`
only NumPy and the standard library are used; generation is vectorised per subject-day
and per night, and holds about one day of data per subject in memory (messages are
built only when they are yielded).
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from phenotyping.events import (
    ActivityBatch,
    ClinicalEvent,
    HeartBeatBatch,
    Modality,
    SleepEpisode,
    encode,
)
from phenotyping.simulate.clock import EPOCH, HOUR_MS, MS_MIN, Clock, iso_utc
from phenotyping.simulate.physiology import (
    F64,
    I64,
    S_CLINIC,
    S_PERTURB,
    S_RR,
    S_RR_DAY,
    Night,
    Physiology,
    Subject,
)
from phenotyping.simulate.spec import (
    ACTIVITY_SOURCE,
    CLINIC_SOURCE,
    HEART_SOURCE,
    CohortSpec,
)

SimMessage = ActivityBatch | HeartBeatBatch | SleepEpisode | ClinicalEvent


class Upload(NamedTuple):
    """A message and the instant (UTC) it reaches the ingest."""

    arrival: dt.datetime
    message: SimMessage


class _Group(Protocol):
    def build(self, i: int) -> SimMessage: ...


@dataclass(frozen=True)
class _ActivityGroup:
    sid: str
    clock: Clock
    a0: int  # UTC minute of counts[0]
    counts: F64  # NaN = missing
    chunks: list[tuple[int, int, int]]  # (index start, index end, offset)

    def build(self, i: int) -> ActivityBatch:
        lo, hi, off = self.chunks[i]
        seg = self.counts[lo:hi]
        values: list[float | None] = list(seg.tolist())
        nan = np.isnan(seg)
        if nan.any():
            edges = np.flatnonzero(np.diff(np.concatenate(([False], nan, [False])).astype(np.int8)))
            for s, e in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
                values[s:e] = [None] * (e - s)
        minute = self.a0 + lo
        return ActivityBatch(
            event_id=f"{self.sid}:activity:{iso_utc(minute * MS_MIN)}",
            subject_id=self.sid,
            source=ACTIVITY_SOURCE,
            tz_offset_min=off,
            start=(EPOCH + dt.timedelta(minutes=minute)).astimezone(self.clock.tzinfo(off)),
            epoch_s=60,
            counts=values,
        )


@dataclass(frozen=True)
class _HeartGroup:
    sid: str
    clock: Clock
    first_ms: I64  # first beat of each burst, UTC ms
    bounds: I64  # burst i holds rr[bounds[i]:bounds[i + 1]]
    last_ms: I64  # last beat of each burst, UTC ms
    offsets: I64
    rr: NDArray[np.uint16]

    def build(self, i: int) -> HeartBeatBatch:
        ms = int(self.first_ms[i])
        off = int(self.offsets[i])
        return HeartBeatBatch(
            event_id=f"{self.sid}:heartbeat:{iso_utc(ms)}",
            subject_id=self.sid,
            source=HEART_SOURCE,
            tz_offset_min=off,
            first_beat=(EPOCH + dt.timedelta(milliseconds=ms)).astimezone(self.clock.tzinfo(off)),
            rr_ms=self.rr[int(self.bounds[i]) : int(self.bounds[i + 1])].tolist(),
        )


@dataclass(frozen=True)
class _SleepGroup:
    sid: str
    clock: Clock
    night: Night

    def build(self, i: int) -> SleepEpisode:
        nt = self.night
        off_start, off_end = self.clock.offset(nt.bed_start), self.clock.offset(nt.bed_end)
        waso = int(nt.waso.sum())
        tst = nt.sleep_off - nt.sleep_on - waso
        return SleepEpisode(
            event_id=f"{self.sid}:sleep:{iso_utc(nt.bed_start * MS_MIN)}",
            subject_id=self.sid,
            source=ACTIVITY_SOURCE,
            tz_offset_min=off_end,
            start=(EPOCH + dt.timedelta(minutes=nt.bed_start)).astimezone(
                self.clock.tzinfo(off_start)
            ),
            end=(EPOCH + dt.timedelta(minutes=nt.bed_end)).astimezone(self.clock.tzinfo(off_end)),
            is_main_sleep=True,
            tst_min=float(tst),
            waso_min=float(waso),
            latency_min=float(nt.sleep_on - nt.bed_start),
            efficiency_pct=round(100.0 * tst / (nt.bed_end - nt.bed_start), 1),
        )


class _Clinical(NamedTuple):
    minute: int  # UTC minute it happened
    kind: Literal["treatment_session", "course_end", "response", "self_report"]
    modality: Modality | None = None
    score: float | None = None


@dataclass(frozen=True)
class _ClinicalGroup:
    sid: str
    clock: Clock
    events: list[_Clinical]

    def build(self, i: int) -> ClinicalEvent:
        ev = self.events[i]
        off = self.clock.offset(ev.minute)
        return ClinicalEvent(
            event_id=f"{self.sid}:clinical:{ev.kind}:{iso_utc(ev.minute * MS_MIN)}",
            subject_id=self.sid,
            source=CLINIC_SOURCE,
            tz_offset_min=off,
            at=(EPOCH + dt.timedelta(minutes=ev.minute)).astimezone(self.clock.tzinfo(off)),
            kind=ev.kind,
            modality=ev.modality,
            instrument="PHQ-9" if ev.kind == "self_report" else None,
            score=ev.score,
        )


_Item = tuple[int, _Group, int]  # (arrival UTC ms, group, index in group)


class _Cohort(Physiology):
    """The cohort's messages: batches cut from the signals, with their arrival times."""

    def bursts(self, sub: Subject, t0_ms: int, rr: I64) -> _HeartGroup:
        """Cut a recording into bursts on the UTC ``rr_burst_s`` grid and at offset changes."""
        beats = t0_ms + np.concatenate(([0], np.cumsum(rr)))
        ends = beats[1:]
        key = ends // (self.spec.rr_burst_s * 1000)
        segs = self.clock.segments(t0_ms // MS_MIN, int(beats[-1]) // MS_MIN + 1)
        seg_starts = np.array([s[0] * MS_MIN for s in segs[1:]], dtype=np.int64)
        seg_idx = np.searchsorted(seg_starts, ends, side="right")
        cut = np.flatnonzero((np.diff(key) != 0) | (np.diff(seg_idx) != 0)) + 1
        bounds = np.concatenate(([0], cut, [rr.size])).astype(np.int64)
        seg_off = np.array([s[2] for s in segs], dtype=np.int64)
        return _HeartGroup(
            sid=sub.sid,
            clock=self.clock,
            first_ms=beats[bounds[:-1]],
            bounds=bounds,
            last_ms=beats[bounds[1:]],
            offsets=seg_off[seg_idx[bounds[:-1]]],
            rr=rr.astype(np.uint16),
        )

    def _chunks(self, a: int, b: int, counts: F64) -> list[tuple[int, int, int]]:
        mode = self.spec.batch
        out: list[tuple[int, int, int]] = []
        for s, e, off in self.clock.segments(a, b):
            if mode == "day":
                edges = [s, e]
            elif mode == "hour":
                first = s + (-(s + off)) % 60
                edges = [s, *range(first if first > s else first + 60, e, 60), e]
            else:
                edges = list(range(s, e + 1))
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                if mode == "day" or not np.isnan(counts[lo - a : hi - a]).all():
                    out.append((lo - a, hi - a, off))
        return out

    # ---- one subject-day: its messages in arrival order

    def subject_day(self, sub: Subject, d: int) -> Iterator[_Item]:
        """Messages of local day ``d`` and of night ``d`` of one subject, by arrival."""
        spec = self.spec
        p = self.rng(S_PERTURB, sub.idx, d)
        nonwear = float(p.random()) < spec.nonwear_day_prob
        gap = float(p.random()) < spec.wear_gap_prob
        gap_pos, gap_len = float(p.random()), int(p.integers(60, 481))
        late = float(p.random()) < spec.late_upload_prob
        late_ms = int(p.uniform(24, 72) * HOUR_MS)
        # Arrival draws come from the stream that made the message (RR) or, for activity
        # and sleep, from `p` after a fixed number of draws (sleep first: its count is
        # fixed), so switching one kind of message on or off moves no other arrival.
        sleep_u = p.random(3)

        groups: list[_Group] = []
        when: list[I64] = []  # per group: arrival (UTC ms) of each of its messages
        again: list[I64] = []  # per group: arrival of the duplicate, -1 if none

        def add(
            group: _Group,
            ends: I64,
            u: F64 | None,
            r: np.random.Generator,
            lag: tuple[float, float],
        ) -> None:
            """Queue a group's messages; ``u`` (3 uniforms per message) or ``r`` draws them."""
            if u is None:
                u = r.random((3, ends.size))
            u = u.reshape(3, ends.size)
            lo, hi = lag
            at = ends + np.rint(lo + u[0] * (hi - lo)).astype(np.int64)
            at += late_ms if late else 0
            dup = u[1] < spec.duplicate_prob
            dup_at = at + np.rint(MS_MIN + u[2] * (12 * HOUR_MS - MS_MIN)).astype(np.int64)
            groups.append(group)
            when.append(at)
            again.append(np.where(dup, dup_at, -1))

        if nonwear:
            return
        a, b = self.midnight(d), self.midnight(d + 1)
        counts, awake = self.activity(sub, d, np.arange(a, b, dtype=np.int64))
        if gap:
            idx = np.flatnonzero(awake)
            if idx.size:
                s = int(idx[min(int(gap_pos * idx.size), idx.size - 1)])
                bed = np.flatnonzero(~awake[s:])
                e = min(s + gap_len, s + int(bed[0]) if bed.size else b - a)
                counts[s:e] = np.nan
                awake[s:e] = False
        chunks = self._chunks(a, b, counts)
        if chunks:
            ends = np.array([(a + c[1]) * MS_MIN for c in chunks], dtype=np.int64)
            lag = {"day": (5.0, 120.0), "hour": (1.0, 15.0), "sample": (0.0, 0.0)}[spec.batch]
            add(
                _ActivityGroup(sub.sid, self.clock, a, counts, chunks),
                ends,
                None,
                p,
                (lag[0] * MS_MIN, lag[1] * MS_MIN),
            )
        if spec.rr and spec.rr_day_bursts:
            rd = self.rng(S_RR_DAY, sub.idx, d)
            idx = np.flatnonzero(awake[:-3])
            for w in rd.random(spec.rr_day_bursts).tolist() if idx.size else []:
                t0 = (a + int(idx[min(int(w * idx.size), idx.size - 1)])) * MS_MIN
                t0 += int(rd.integers(0, MS_MIN))
                hr = sub.hr + 18 + 5 * float(rd.standard_normal())
                rr = self.beats(
                    rd,
                    t0,
                    t0 + 120_000,
                    hr,
                    0.6 * sub.rmssd,
                    sub.resp_hz,
                    np.ones(4, dtype=np.bool_),
                    night=False,
                )
                if rr.size:
                    hg = self.bursts(sub, t0, rr)
                    add(hg, hg.last_ms, None, rd, (1_000.0, 30_000.0))
        if d <= spec.days - 2:
            nt = self.night(sub, d)
            if spec.sleep_episodes:
                add(
                    _SleepGroup(sub.sid, self.clock, nt),
                    np.array([nt.bed_end * MS_MIN], dtype=np.int64),
                    sleep_u,
                    p,
                    (5.0 * MS_MIN, 60.0 * MS_MIN),
                )
            if spec.rr:
                rn = self.rng(S_RR, sub.idx, d)
                t0 = nt.bed_start * MS_MIN + int(rn.integers(0, MS_MIN))
                awake_min = np.ones(nt.bed_end - nt.bed_start + 1, dtype=np.bool_)
                lat = nt.sleep_on - nt.bed_start
                awake_min[lat : lat + nt.waso.size] = nt.waso
                rr = self.beats(
                    rn,
                    t0,
                    nt.bed_end * MS_MIN,
                    nt.hr,
                    nt.rmssd,
                    sub.resp_hz,
                    awake_min,
                    night=True,
                )
                if rr.size:
                    hg = self.bursts(sub, t0, rr)
                    add(hg, hg.last_ms, None, rn, (1_000.0, 30_000.0))
        if not groups:
            return
        sizes = [w.size for w in when]
        gid = np.repeat(np.arange(len(groups)), sizes)
        iid = np.concatenate([np.arange(n) for n in sizes])
        dup_at = np.concatenate(again)
        dup = dup_at >= 0
        arrival = np.concatenate([*when, dup_at[dup]])
        gid = np.concatenate((gid, gid[dup]))
        iid = np.concatenate((iid, iid[dup]))
        order = np.argsort(arrival, kind="stable")
        for lo in range(0, order.size, 512):
            sel = order[lo : lo + 512]
            for at, g, i in zip(
                arrival[sel].tolist(), gid[sel].tolist(), iid[sel].tolist(), strict=True
            ):
                yield at, groups[g], i

    def clinical_day(self, sub: Subject, d: int) -> Iterator[_Item]:
        """Clinical events of local day ``d`` of a treated subject, by arrival.

        They come from the clinic, not the wearable: never late, duplicated or dropped with
        the device's data. Each arrives 1-30 min after it happened (from its own random
        stream, so a treatment moves no device message); the events of a day are at least
        60 min apart, so arrival keeps their order.
        """
        t = sub.treat
        if t is None:
            return
        r = self.rng(S_CLINIC, sub.idx, d)
        noise = float(r.standard_normal())
        lags = r.integers(1, 31, 4)
        date = self.spec.start + dt.timedelta(days=d)
        events: list[_Clinical] = []

        def at(offset_min: int) -> int:
            return self.clock.to_utc(date, t.session_minute + offset_min)

        if (d - t.start_day) % t.report_every_days == 0:
            score = t.phq9(d, sub.det.day if sub.det else None) + t.phq9_sd * noise
            score = float(min(max(round(score), 0), 27))
            events.append(_Clinical(at(-60), "self_report", score=score))
        if d in t.session_days():
            events.append(_Clinical(at(0), "treatment_session", modality=t.modality))
        if t.response_after_days is not None and d == t.last_day + t.response_after_days:
            events.append(_Clinical(at(60), "response"))
        if t.course_end and d == t.last_day:
            events.append(_Clinical(at(120), "course_end"))
        if not events:
            return
        group = _ClinicalGroup(sub.sid, self.clock, events)
        for i, ev in enumerate(events):
            yield (ev.minute + int(lags[i])) * MS_MIN, group, i


def simulate_timed(spec: CohortSpec) -> Iterator[Upload]:
    """Like :func:`simulate`, also yielding each message's arrival instant (UTC).

    Arrival instants never decrease.

    Examples
    --------
    >>> ups = list(simulate_timed(CohortSpec(n_subjects=1, days=2, rr=False)))
    >>> [u.message.type for u in ups]
    ['activity', 'sleep', 'activity']
    >>> all(a.arrival <= b.arrival for a, b in zip(ups, ups[1:]))
    True
    """
    cohort = _Cohort(spec)
    carry: list[_Item] = []
    for d in range(spec.days):
        # Everything produced from day d+1 on ends after local midnight d+1, so whatever
        # arrives by then can be released now; the rest waits (lazily built) in `carry`.
        watermark = cohort.midnight(d + 1) * MS_MIN
        streams = [cohort.subject_day(sub, d) for sub in cohort.subjects]
        streams += [cohort.clinical_day(sub, d) for sub in cohort.subjects if sub.treat]
        pending: list[_Item] = []
        for item in heapq.merge(carry, *streams, key=itemgetter(0)):
            if item[0] <= watermark:  # merged items come sorted: once over, always over
                yield Upload(EPOCH + dt.timedelta(milliseconds=item[0]), item[1].build(item[2]))
            else:
                pending.append(item)
        carry = pending
    for arr, group, i in carry:
        yield Upload(EPOCH + dt.timedelta(milliseconds=arr), group.build(i))


def simulate(spec: CohortSpec) -> Iterator[SimMessage]:
    """Yield the cohort's messages in upload (arrival) order; see the module docstring.

    Examples
    --------
    >>> spec = CohortSpec(n_subjects=2, days=2, seed=7)
    >>> [m.event_id for m in simulate(spec)] == [m.event_id for m in simulate(spec)]
    True
    """
    for upload in simulate_timed(spec):
        yield upload.message


def write_jsonl(messages: Iterable[SimMessage], path: str | os.PathLike[str]) -> int:
    """Write one ``encode(message)`` line per message to ``path``; return the count.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = pathlib.Path(tmp) / "cohort.jsonl"
    ...     n = write_jsonl(simulate(CohortSpec(n_subjects=1, days=2)), out)
    ...     n == len(out.read_bytes().splitlines())
    True
    """
    n = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        for msg in messages:
            fh.write(encode(msg))
            fh.write(b"\n")
            n += 1
    return n
