"""What clinician feedback does on the negative controls (issue 13 item 3).

For each negative control (ordinary life, not a relapse) a run is repeated with a clinician
who acknowledges the FIRST episode opened on or after the onset day: a
``ClinicalEvent(kind="feedback")`` dated the alert's date + 1 day is put through
:func:`phenotyping.pipeline.step` (the path a worker or a replay takes) before that day's
row is judged. Surrogates last :data:`WEEKS` weeks (the control from day ``ONSET``, then
weeks of ordinary life in which a later episode would show). Variants:

``none``
    no feedback.
``reason``
    the reason that fits the control (:data:`FITTING`): ``holiday_travel``, ``illness`` or
    ``device_problem``, with ``until`` the control's last day -- and no ``until`` for a
    lasting device change (the engine then re-anchors the baseline on the new device). A
    clinician names a holiday only for an alert during it or in the week after it: a
    first episode opened later gets no feedback.
``fine``
    ``contacted_fine`` without ``until``.

Relapse after an explained period
    ``holiday_relapse`` is the one-week holiday followed, from its first day home (day
    ``ONSET + 7``), by the combined relapse step (activity -30% and +90 min) that lasts
    to the end; ``late_step`` is the same step from the same day without the holiday (the
    reference). Its figures: an alert (opened or escalated) dated within 7 and 14 days of
    the relapse's first day, and whether the feedback resolved an episode as explained
    after that day: an explained holiday must not hide a relapse that follows it.

Daily rows are judged as :func:`phenotyping.pipeline.step` judges them (``RiskState.assess``
in date order). Figures count from the onset day only (the days before it are the same in
every variant): episodes opened per 90 assessable person-days, the share of runs alerted
(identical with and without feedback by construction: feedback follows the first alert),
the share with a further episode or an escalation after the first (acknowledged) alert.

Examples
--------
>>> FITTING["holiday"], FITTING["device_down"], control_end(7, 42, 63), control_end(0, 42, 63)
('holiday_travel', 'device_problem', 48, 62)
>>> variants("late_step"), variants("holiday")
(('none',), ('none', 'reason', 'fine'))
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from phenotyping.evaluate import metrics as mt
from phenotyping.evaluate.runner import ONSET, Source, scenario_rows
from phenotyping.evaluate.scenarios import SCENARIOS, Scenario, shifted
from phenotyping.events import ClinicalEvent
from phenotyping.features.time import ordinal
from phenotyping.pipeline import SubjectState, step
from phenotyping.risk.engine import RiskParams

FITTING = {
    "holiday": "holiday_travel",
    "illness": "illness",
    "trip": "holiday_travel",
    "device_up": "device_problem",
    "device_down": "device_problem",
    "holiday_relapse": "holiday_travel",
}
VARIANTS = ("none", "reason", "fine")
#: surrogate length of the feedback runs: 6 weeks before the control, 9 from its start
WEEKS = 15
#: day index of the relapse that follows the holiday (its first day home)
RELAPSE = ONSET + 7
_HOLIDAY = SCENARIOS["holiday"]
_STEP = shifted(0.7, 90)


def _holiday_then_step(series: Any, onset: int, seed: int) -> Any:
    return _STEP(_HOLIDAY.inject(series, onset, seed), onset + 7, seed)


def _late_step(series: Any, onset: int, seed: int) -> Any:
    return _STEP(series, onset + 7, seed)


#: the controls and the two relapse-after-the-holiday scenarios (by name)
CATALOGUE: dict[str, Scenario] = {
    **{n: SCENARIOS[n] for n in FITTING if n in SCENARIOS},
    "holiday_relapse": Scenario(
        "holiday_relapse",
        "positive",
        "one-week holiday, then the combined step from the first day home",
        _holiday_then_step,
        days=7,
    ),
    "late_step": Scenario(
        "late_step",
        "positive",
        "the combined step from the same day, no holiday (reference)",
        _late_step,
    ),
}
RELAPSES = ("holiday_relapse", "late_step")


def variants(name: str) -> tuple[str, ...]:
    """The feedback variants run on scenario ``name`` (the reference relapse: none)."""
    return VARIANTS if name in FITTING else ("none",)


def control_end(days: int, onset: int, n_days: int) -> int:
    """Day index of a control's last day (``days`` 0: it lasts to the run's last day)."""
    return onset + days - 1 if days > 0 else n_days - 1


@dataclass(frozen=True)
class FeedbackRun:
    """One run's figures from the onset day on."""

    assessable: int  # assessable days from the onset day
    episodes: int  # episodes opened from the onset day
    acknowledged: int | None  # day index of the acknowledged alert (None: none given)
    repeat: bool  # another episode opened after the first one
    alerts: tuple[tuple[int, str], ...] = ()  # (day index, kind) of every alert from onset

    def escalated_after(self) -> bool:
        """An ``escalated`` alert came after the first ``opened`` one (the acknowledged
        one when feedback was given)."""
        first = next((d for d, k in self.alerts if k == "opened"), None)
        return first is not None and any(k == "escalated" and d > first for d, k in self.alerts)

    def new_alert(self, day: int, after_ack: bool = False) -> int | None:
        """Day index of the first opened or escalated alert on or after ``day`` (with
        ``after_ack``: also after the acknowledged alert); None: none."""
        after = day
        if after_ack and self.acknowledged is not None:
            after = max(day, self.acknowledged + 1)
        hits = [d for d, k in self.alerts if k in ("opened", "escalated") and d >= after]
        return min(hits) if hits else None

    def explained_after(self, day: int) -> bool:
        """An episode was resolved as explained by the feedback after day ``day``."""
        return any(k == "explained" and d > day for d, k in self.alerts)


def feedback_event(
    subject: str, day: int, first_date: int, tz_offset_min: int, reason: str, until: int | None
) -> ClinicalEvent:
    """The acknowledgement as the feed publishes it: local noon of day index ``day``."""
    tz = dt.timezone(dt.timedelta(minutes=tz_offset_min))
    local = dt.date(1970, 1, 1) + dt.timedelta(days=first_date + day)
    return ClinicalEvent(
        event_id=f"feedback:{subject}:{day}",
        subject_id=subject,
        source="evaluate",
        tz_offset_min=tz_offset_min,
        at=dt.datetime.combine(local, dt.time(12), tz),
        kind="feedback",
        reason=reason,  # checked by the model (FeedbackReason)
        until=None if until is None else dt.date(1970, 1, 1) + dt.timedelta(first_date + until),
    )


def run_feedback(
    rows: Sequence[dict[str, Any]],
    params: RiskParams,
    subject: str,
    first_date: int,
    *,
    tz_offset_min: int = 0,
    onset: int = ONSET,
    reason: str | None = None,
    until: int | None = None,
    ack_by: int | None = None,
) -> FeedbackRun:
    """The risk engine over daily rows in date order; with ``reason``, the first episode
    opened on or after ``onset`` is acknowledged with it (``until``: day index) on the next
    day, through :func:`phenotyping.pipeline.step`, before that day is judged -- if it
    opened no later than day ``ack_by`` (None: whenever it opened)."""
    state = SubjectState.new(risk=params)
    assessable = episodes = 0
    acked: int | None = None
    first: int | None = None
    repeat = False
    pending: int | None = None
    alerts: list[tuple[int, str]] = []
    for r in rows:
        i = ordinal(r["date"]) - first_date
        if pending is not None and i >= pending and reason is not None:
            step(state, feedback_event(subject, pending, first_date, tz_offset_min, reason, until))
            pending = None
        row = {k: (math.nan if v is None else v) for k, v in r.items()}
        cols, out, _ = state.risk.assess(subject, row)
        if i < onset:
            continue
        if cols and not cols["risk_warming_up"]:
            assessable += 1
        for a in out:
            explained = str(a["explanation"]).startswith("Resolved as explained")
            alerts.append((i, "explained" if explained else str(a["kind"])))
            if a["kind"] != "opened":
                continue
            episodes += 1
            if first is None:
                first = i
                if reason is not None and (ack_by is None or i <= ack_by):
                    acked, pending = i, i + 1
            else:
                repeat = True
    return FeedbackRun(assessable, episodes, acked, repeat, tuple(alerts))


@dataclass(frozen=True)
class Record:
    subject: str
    seed: int
    scenario: str
    variant: str
    run: FeedbackRun


@dataclass(frozen=True)
class Feedback:
    """The feedback evaluation's work (for :func:`phenotyping.evaluate.harness.collect`):
    every scenario of ``names`` (:data:`CATALOGUE`) on a ``weeks``-week surrogate, with
    each of its :func:`variants`."""

    params: RiskParams
    names: tuple[str, ...] = tuple(CATALOGUE)
    weeks: int = WEEKS

    def __call__(self, src: Source, seed: int) -> list[Record]:
        rows = scenario_rows(src, seed, self.names, weeks=self.weeks, catalogue=CATALOGUE)
        out = []
        for name in self.names:
            r = rows[name]
            n_days = ordinal(r[-1]["date"]) - src.first_date + 1
            days = CATALOGUE[name].days
            end = control_end(days, ONSET, n_days)
            for variant in variants(name):
                reason = {"none": None, "reason": FITTING.get(name), "fine": "contacted_fine"}
                run = run_feedback(
                    r,
                    self.params,
                    src.subject,
                    src.first_date,
                    tz_offset_min=src.offset,
                    reason=reason[variant],
                    # a lasting device change: no end date (the baseline re-anchors)
                    until=end if variant == "reason" and days > 0 else None,
                    ack_by=end + 7 if variant == "reason" and days > 0 else None,
                )
                out.append(Record(src.subject, seed, name, variant, run))
        return out


def summarise(records: Sequence[Record]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (scenario, variant): per-seed figures with 95% t-intervals over seeds, and the
    pooled episodes / assessable days with an exact Poisson interval; for the relapse
    scenarios the share of runs with a new alert within 7 and 14 days of the relapse."""
    from phenotyping.evaluate.harness import Figure

    seeds = sorted({r.seed for r in records})
    by: dict[tuple[str, str, int], list[FeedbackRun]] = {}
    for r in records:
        by.setdefault((r.scenario, r.variant, r.seed), []).append(r.run)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name in dict.fromkeys(r.scenario for r in records):
        for v in variants(name):
            rate, alerted, repeat, escalated, hidden = [], [], [], [], []
            within: dict[int, list[float]] = {7: [], 14: []}
            k = days = 0
            for s in seeds:
                runs = by[(name, v, s)]
                ep, ad = sum(x.episodes for x in runs), sum(x.assessable for x in runs)
                k, days = k + ep, days + ad
                rate.append(mt.per_90(ep, ad))
                alerted.append(float(np.mean([x.episodes > 0 for x in runs])))
                repeat.append(float(np.mean([x.repeat for x in runs])))
                escalated.append(float(np.mean([x.escalated_after() for x in runs])))
                for h in within:
                    hit = [(x.new_alert(RELAPSE) or 10**9) < RELAPSE + h for x in runs]
                    within[h].append(float(np.mean(hit)))
                hidden.append(float(np.mean([x.explained_after(RELAPSE) for x in runs])))
            out[(name, v)] = {
                "per_90": Figure.of(rate),
                "alerted": Figure.of(alerted),
                "repeat": Figure.of(repeat),
                "escalated": Figure.of(escalated),
                "pooled": (k, days, *mt.poisson_ci(k, days)),
                "within_7": Figure.of(within[7]),
                "within_14": Figure.of(within[14]),
                "explained_after": Figure.of(hidden),
            }
    return out


def report(summary: dict[tuple[str, str], dict[str, Any]], subjects: int, seeds: int) -> str:
    """The Markdown tables of :func:`summarise`."""
    label = {"none": "no feedback", "reason": "fitting reason", "fine": "contacted_fine"}
    lines = [
        f"{subjects} subjects x {seeds} seeds; from the onset day to the run's end; mean over "
        "seeds (95% t-interval over seeds); pooled: exact Poisson 95%.",
        "",
        "| negative control | feedback on the first alert | false episodes / 90 pd | pooled "
        "episodes / days (95%) | runs alerted, % | runs with a further episode after the "
        "first (acknowledged) alert, % | runs escalated after it, % |",
        "|---|---|---|---|---|---|---|",
    ]
    relapse = []
    for (name, v), f in summary.items():
        k, days, lo, hi = f["pooled"]
        what = label[v] + (f" (`{FITTING[name]}`)" if v == "reason" else "")
        if name in RELAPSES:
            relapse.append(
                f"| {CATALOGUE[name].label} | {what} | {f['within_7'].text(pct=True)} | "
                f"{f['within_14'].text(pct=True)} | {f['explained_after'].text(pct=True)} |"
            )
            continue
        lines.append(
            f"| {CATALOGUE[name].label} | {what} | {f['per_90'].text()} | {k} / {days} "
            f"({lo:.2f}–{hi:.2f}) | {f['alerted'].text(pct=True)} | "
            f"{f['repeat'].text(pct=True)} | {f['escalated'].text(pct=True)} |"
        )
    if relapse:
        lines += [
            "",
            f"A relapse after the holiday (from day {RELAPSE + 1}, the first day home): runs "
            "with an alert (opened or escalated) dated within 7 and 14 days from the relapse's "
            "first day, and runs in which an episode was resolved as explained by the "
            "feedback after that day (the relapse explained away).",
            "",
            "| scenario | feedback on the first alert | alerted within 7 d, % | within 14 d, % | "
            "explained away, % |",
            "|---|---|---|---|---|",
            *relapse,
        ]
    return "\n".join(lines) + "\n"
