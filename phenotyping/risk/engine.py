"""Per-subject relapse-risk engine: the state that ties the parts together.

:class:`RiskState` is fed the subject's closed daily rows in date order (``assess``) and
clinical events (``clinical``). It returns risk columns for the row, alerts and notices.
Pure and deterministic: dates are passed in, nothing reads a clock.

Where each rule lives (every number is a :class:`~phenotyping.risk.params.RiskParams`
field):

- :mod:`~phenotyping.risk.params` -- the numbers, which were tuned, and on what;
- :mod:`~phenotyping.risk.monitor` -- watched features (names derived from the day engine's
  window), their clinical direction and transform;
- :mod:`~phenotyping.risk.baseline` -- the personal band: window, warm-up with the
  population prior, weekday/weekend medians, log transforms;
- :mod:`~phenotyping.risk.change` -- signals (correlated features folded together), one
  CUSUM per signal, combined evidence;
- :mod:`~phenotyping.risk.policy` -- levels and when an episode resolves;
- :mod:`~phenotyping.risk.wording` -- what the clinician reads.

Episodes
    An episode opens at ``elevated`` (one ``opened`` alert), may escalate, and resolves when
    the signals that opened it are back in the personal band (``policy``). While it is open
    and for ``washout_days`` after, the baseline is pinned as it was at the opening (a
    relapse is never absorbed into "usual"); the CUSUMs restart after it resolves and no
    new episode opens for ``cooldown_days``. An episode still open ``max_episode_days``
    after its ``opened`` alert (not after its back-dated start) is closed with a
    ``resolved`` update that says it did NOT return to the usual range, so a lasting
    change (or an early false episode) cannot silence the
    engine for good; a further change alerts again.
Missing data
    A day without a value leaves every CUSUM unchanged. ``gap_notice_days`` days without any
    usable feature give a ``data_gap`` notice (repeated weekly) and the daily row says
    ``risk_data="gap"``: losing data is shown to the clinician, never read as "all well".
Treatment
    ``treatment_session`` events update the days since the last session. A ``response``
    (marked by a clinician, or a PHQ-9 at or below ``(1 - response_phq9_drop)`` x the last
    pre-course PHQ-9) starts a new baseline from ``max(response, last session +
    post_session_washout_days)``. Where the person's own remission days are known -- a
    ``remission_period`` event (a clinician marks the days from its date to ``until``), or
    the band pinned before the relapse during which a treatment course started -- the days
    since the response are completed to a full window from those days, so judging goes
    on from the first day with the person's own band; otherwise the population prior
    gives the first judgement ``min_baseline_days`` days later (not 16). Alerts after it
    say "deterioration after response".
Clinician feedback (``kind="feedback"``)
    See :mod:`~phenotyping.risk.feedback`: a holiday, illness or device problem explains
    its whole period, from the acknowledged episode's start to ``until`` (days left out of
    the baseline, no evidence gathered, the episode resolved as explained when the period
    ends); a device problem without an end date re-anchors the baseline on the new
    device; ``contacted_fine`` raises the evidence the same pattern needs; every effect is
    stated in a ``feedback_applied`` notice and on the alerts it touches.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from phenotyping.errors import StateError
from phenotyping.features.envelope import pack, params_dict, unpack
from phenotyping.features.time import is_weekend, iso_date, ordinal
from phenotyping.risk import baseline as bl
from phenotyping.risk import feedback as fb
from phenotyping.risk import kernels, stats
from phenotyping.risk.change import Signal, build_signals, counter_evidence, evidence, score
from phenotyping.risk.monitor import DEVICE_HRV, DEVICE_SLEEP, Monitored, monitored
from phenotyping.risk.params import RiskParams, config_version
from phenotyping.risk.policy import LEVELS, in_band, level_of
from phenotyping.risk.wording import explanation, num

__all__ = ["LEVELS", "RiskParams", "RiskState", "config_version", "ordinal"]

HIST_DTYPE = np.dtype([("feature", "<i2"), ("date", "<i8"), ("value", "<f8"), ("eligible", "?")])
FROZEN_DTYPE = np.dtype([("feature", "<i2"), ("date", "<i8"), ("value", "<f8")])
SIG_DTYPE = np.dtype([("c", "<f8"), ("run", "<i8"), ("ewma", "<f8")])
_MAGIC = b"PHRS"
_VERSION = 2
_NEVER = -(2**40)


# a baseline table: (values, transformed values, dates, chosen cells), a row per feature
_Table = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[Any], NDArray[Any]]
# ... and which features use the warm-up baseline
_Baselines = tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[Any], NDArray[Any], NDArray[Any]
]


class _Layout(NamedTuple):
    """The watched features and signals of one feature window, and what the daily
    assessment needs of them as arrays and names (made once, not per day). A tuple
    whose first three items are (features, how many are the main ones, signals), as
    ``_features`` returned before."""

    feats: tuple[Monitored, ...]
    n_main: int
    signals: tuple[Signal, ...]
    columns: bl.Columns
    window: NDArray[np.int64]  # days each feature's value covers
    names: tuple[tuple[str, str, str], ...]  # the row's z_, base_, scale_ column names
    logs: tuple[bool, ...]  # the same features judged as log(x + 1) (baseline.back)
    reads: tuple[tuple[str, str | None], ...]  # (column, valid flag) of the daily row
    roots: list[float]  # sqrt(window_days) of each feature (a signal's increment)
    # per signal, change.score's inputs as tuples: ((members, fallback), first_only), a
    # member (feature, orientation, sqrt(window_days))
    scoring: tuple[tuple[tuple[tuple[tuple[int, int, float], ...], ...], bool], ...]
    # the same for the compiled day (kernels.advance_signals): signal j's group g (0:
    # members, 1: fallback) is features sfeat[j, g, :ssize[j, g]], with their signs and roots
    sfeat: NDArray[np.int64]
    ssign: NDArray[np.float64]
    sroot: NDArray[np.float64]
    ssize: NDArray[np.int64]
    sfirst: NDArray[np.bool_]  # the first member with a value (phase), not the mean
    sgated: NDArray[np.bool_]  # the late-phase signal (change.counter_evidence)
    circular: NDArray[np.bool_]  # clock times (a feature each)
    undamped: NDArray[np.bool_]  # no signal damped (a signal each)
    unheld: NDArray[np.bool_]  # no feature explained (a feature each; never written to)


@functools.lru_cache(maxsize=8)
def _features(window_days: int) -> _Layout:
    main = monitored(window_days)
    feats = main + DEVICE_HRV + DEVICE_SLEEP
    signals = build_signals(feats, len(main))
    roots = [math.sqrt(s.window_days) for s in feats]
    width = max((len(g) for sg in signals for g in (sg.members, sg.fallback)), default=0)
    sfeat = np.zeros((len(signals), 2, width), np.int64)
    ssign = np.zeros((len(signals), 2, width))
    sroot = np.ones((len(signals), 2, width))
    ssize = np.zeros((len(signals), 2), np.int64)
    for j, sg in enumerate(signals):
        for g, group in enumerate((sg.members, sg.fallback)):
            ssize[j, g] = len(group)
            for m, (i, sign) in enumerate(group):
                sfeat[j, g, m], ssign[j, g, m], sroot[j, g, m] = i, sign, roots[i]
    return _Layout(
        feats=feats,
        n_main=len(main),
        signals=signals,
        columns=bl.Columns.of(feats),
        window=np.array([s.window_days for s in feats], dtype=np.int64),
        names=tuple((f"z_{s.column}", f"base_{s.column}", f"scale_{s.column}") for s in main),
        logs=tuple(s.log for s in main),
        reads=tuple((s.column, s.valid_flag) for s in feats),
        roots=roots,
        scoring=tuple(
            (
                tuple(
                    tuple((i, sign, roots[i]) for i, sign in group)
                    for group in (sg.members, sg.fallback)
                ),
                sg.first_only,
            )
            for sg in signals
        ),
        sfeat=sfeat,
        ssign=ssign,
        sroot=sroot,
        ssize=ssize,
        sfirst=np.array([sg.first_only for sg in signals], dtype=bool),
        sgated=np.array([sg.name == "phase_late" for sg in signals], dtype=bool),
        circular=np.array([s.circular for s in feats], dtype=bool),
        undamped=np.zeros(len(signals), dtype=bool),
        unheld=np.zeros(len(feats), dtype=bool),
    )


def _scores(lay: _Layout, z: list[float]) -> list[float]:
    """:func:`~phenotyping.risk.change.score` of every signal (the score only), from the
    layout's tuples: the same arithmetic in the same order (tested against it), without
    a call and two lists per signal."""
    out = []
    for j, (groups, first_only) in enumerate(lay.scoring):
        u = math.nan
        for group in groups:
            if len(group) >= 8:  # np.mean's pairwise sum: as change.score does it
                u = score(lay.signals[j], np.array(z), np.array(lay.roots))[0]
                break
            total, n = 0.0, 0
            for i, sign, root in group:
                if math.isfinite(z[i]):
                    total += sign * z[i] / root
                    n += 1
                    if first_only:
                        break
            if n:
                u = total / n
                break
        out.append(u)
    return out


def _clipped_z(
    lay: _Layout,
    p: RiskParams,
    today: NDArray[np.float64],
    med: NDArray[np.float64],
    scale: NDArray[np.float64],
    held: NDArray[np.bool_],
) -> list[float]:
    """The features' clipped z of a day, feature by feature: the definition
    :meth:`RiskState._advance` computes compiled (the loop of ``assess`` until issue 12;
    kept as the reference it is tested against)."""
    ml, sl, hl = med.tolist(), scale.tolist(), held.tolist()
    zl = [math.nan] * len(ml)
    for i, (t, m, s) in enumerate(zip(today.tolist(), ml, sl, strict=True)):
        # judged (else no scale), a value today, a usable scale, not explained
        if math.isfinite(t) and math.isfinite(s) and s > 0 and not hl[i]:
            dev = stats.deviation(t, m, circular=lay.feats[i].circular)
            zl[i] = max(-p.z_clip, min(p.z_clip, dev / s))
    return zl


def _new_sig(n: int) -> NDArray[np.void]:
    s = np.zeros(n, SIG_DTYPE)
    s["run"] = -1
    s["ewma"] = np.nan
    return s


@dataclass
class RiskState:
    """Risk state of one subject (serialisable, compact).

    The person's recent daily values are kept as one table, a row per watched feature and
    a column per day with at least one usable value (NaN: no value that day), with a
    same-shaped table of which values may enter the baseline: the baselines of every
    feature are then a few array operations (one sort per median, along each feature's
    contiguous days), not a loop over features. Serialised as before (``hist``: one entry
    per (feature, day) with a value), so states load both ways across versions.
    """

    params: RiskParams = field(default_factory=RiskParams)
    version: str = ""
    frozen: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, FROZEN_DTYPE))
    # the person's known remission days (a clinician-marked remission period, or the band
    # pinned before the relapse that started a treatment course): a baseline after a response
    remission: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, FROZEN_DTYPE))
    sig: NDArray[np.void] = field(default_factory=lambda: _new_sig(0))
    last_date: int = _NEVER
    baseline_from: int = _NEVER
    frozen_until: int = _NEVER
    episode_start: int = -1  # -1: no episode open (dated back to the deviation's start)
    episode_opened: int = -1  # date of the episode's ``opened`` alert (-1: none open)
    episode_level: int = 0
    episode_signals: int = 0  # bit mask of the signals that opened it
    days_in_band: int = 0
    last_closed: int = _NEVER
    days_unusable: int = 0
    gap_start: int = -1
    last_session: int = -1
    last_session_modality: str = ""
    course_active: bool = False
    course_start: int = -1
    pre_course_phq9: float = float("nan")
    response_date: int = -1
    last_medication_change: int = -1
    report_instrument: str = ""
    report_score: float = float("nan")
    report_date: int = -1
    feedback_reason: str = ""  # the latest feedback (named on alerts while it applies)
    feedback_from: int = -1
    feedback_until: int = -1
    # clinician feedback in force (risk/feedback.py)
    excl_mode: str = ""  # "exclude": an explained period; "reanchor": a new device
    excl_reason: str = ""
    excl_from: int = -1
    excl_until: int = -1
    excl_episode: int = -1  # start of the open episode the period explains (-1: none)
    fine_from: int = -1
    fine_until: int = -1
    fine_signals: int = 0  # bit mask of the pattern that needs more evidence
    fine_episode: int = -1  # start of the episode acknowledged as fine (-1: none)
    last_episode_start: int = -1
    last_episode_signals: int = 0
    last_episode_end: int = _NEVER  # (an explained close leaves ``last_closed`` alone)
    # the daily values (not part of the header: serialised as ``hist``, see the class doc)
    _dates: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False
    )
    _vals: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False
    )
    _elig: NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros((0, 0), bool), repr=False, compare=False
    )
    _tvals: NDArray[np.float64] = field(  # _vals as judged (baseline.transform)
        default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._lay: tuple[RiskParams, _Layout] | None = None
        n = len(self._signals)
        if self.sig.size != n:
            self.sig = _new_sig(n)
        f = len(self._feats)
        if self._vals.shape != (f, self._dates.size):
            self._vals = np.full((f, self._dates.size), np.nan)
            self._elig = np.zeros((f, self._dates.size), bool)
        if self._tvals.shape != self._vals.shape:
            self._tvals = (
                self._vals
                if not self._vals.size
                else bl.transform_all(self._layout.columns, self._vals)
            )
        self._by_params: tuple[RiskParams, NDArray[np.int64], NDArray[np.float64]] | None = None
        self._k: tuple[RiskParams, NDArray[np.float64]] | None = None
        self._frozen_cols: tuple[NDArray[np.void], _Table] | None = None
        # the table as entries, while it has not changed (a state saved after every
        # message that closed no day, or right after loading, is not converted again);
        # a loaded state makes its table from them when it is first used
        self._entries: NDArray[np.void] | None = None
        self._unpacked = True

    @property
    def _layout(self) -> _Layout:
        # read ~6 times a day: kept per parameters object (they are replaced, not changed)
        lay = self._lay
        if lay is None or lay[0] is not self.params:
            lay = self._lay = (self.params, _features(self.params.feature_window_days))
        return lay[1]

    @property
    def _feats(self) -> tuple[Monitored, ...]:
        return self._layout.feats

    @property
    def _n_main(self) -> int:
        return self._layout.n_main

    @property
    def _signals(self) -> tuple[Signal, ...]:
        return self._layout.signals

    @property
    def hist(self) -> NDArray[np.void]:
        """The daily values as entries (feature, date, value, eligible), in date then
        feature order: the serialised form (a copy: change the state through its
        methods)."""
        return self._hist_entries().copy()

    @hist.setter
    def hist(self, entries: NDArray[np.void]) -> None:
        feature = entries["feature"]
        if feature.size and (feature.min() < 0 or feature.max() >= len(self._feats)):
            raise StateError("state: corrupt (risk history names an unknown feature)")
        self._entries, self._unpacked = entries.copy(), False

    def _unpack(self) -> None:
        """Make the table from the entries of a loaded state (on its first use)."""
        if self._unpacked:
            return
        self._unpacked = True
        assert self._entries is not None
        entries = self._entries
        f = len(self._feats)
        feature = entries["feature"].astype(np.int64)
        date = entries["date"].astype(np.int64)
        if date.size > 1 and (date[1:] < date[:-1]).any():  # not as written: sort
            dates, day = np.unique(date, return_inverse=True)
        else:  # in date order, as every state is written: the days are the runs
            first = np.empty(date.size, bool)
            first[:1] = True
            np.not_equal(date[1:], date[:-1], out=first[1:])
            dates, day = date[first], np.cumsum(first) - 1
        self._dates = dates
        self._vals = np.full((f, dates.size), np.nan)
        self._elig = np.zeros((f, dates.size), bool)
        self._vals[feature, day] = entries["value"]
        self._elig[feature, day] = entries["eligible"]
        # a value is NaN only where there is none (entries hold finite values)
        self._elig &= ~np.isnan(self._vals)
        self._tvals = bl.transform_all(self._layout.columns, self._vals)

    def _hist_entries(self) -> NDArray[np.void]:
        if self._entries is None:
            day, feature = np.nonzero(~np.isnan(self._vals.T))
            out = np.zeros(day.size, HIST_DTYPE)
            out["feature"], out["date"] = feature, self._dates[day]
            out["value"], out["eligible"] = self._vals[feature, day], self._elig[feature, day]
            self._entries = out
        return self._entries

    def _need_prior(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Per feature: the values its baseline needs (twice ``min_baseline_days``
        without a population prior) and its prior scale (NaN: none)."""
        if self._by_params is None or self._by_params[0] is not self.params:
            p = self.params
            priors = dict(p.prior_scale)
            prior = np.array([priors.get(s.column, np.nan) for s in self._feats])
            need = np.where(np.isnan(prior), 2, 1) * p.min_baseline_days
            self._by_params = (p, need.astype(np.int64), prior)
        return self._by_params[1], self._by_params[2]

    # ------------------------------------------------------------------ clinical events
    def clinical(
        self,
        date: int,
        kind: str,
        *,
        modality: str | None = None,
        instrument: str | None = None,
        score: float | None = None,
        reason: str | None = None,
        until: int | None = None,
    ) -> list[dict[str, Any]]:
        """Record a clinical event of local date ``date``; returns notices (if any)."""
        self._unpack()
        notices: list[dict[str, Any]] = []
        if kind == "treatment_session":
            if not self.course_active:
                pinned = self.episode_start >= 0 or date <= self.frozen_until
                if self.frozen.size and pinned:  # the band from before this relapse
                    self._keep_remission(self.frozen)
                self.course_active, self.course_start = True, date
                if self.report_instrument == "PHQ-9":
                    self.pre_course_phq9 = self.report_score
            self.last_session = max(self.last_session, date)
            self.last_session_modality = modality or "other"
        elif kind == "course_end":
            self.course_active = False
        elif kind == "medication_change":
            self.last_medication_change = max(self.last_medication_change, date)
        elif kind == "self_report" and instrument is not None and score is not None:
            if instrument == "PHQ-9" and self.course_active and date <= self.course_start:
                self.pre_course_phq9 = float(score)  # entered late, dated before the course
            if date >= self.report_date:
                self.report_instrument, self.report_score = instrument, float(score)
                self.report_date = date
            drop = self.params.response_phq9_drop
            if (
                instrument == "PHQ-9"
                and self.course_active
                and math.isfinite(self.pre_course_phq9)
                and score <= (1 - drop) * self.pre_course_phq9
                and self.response_date < self.last_session
            ):
                self._rebaseline(date)
                notices.append(self._notice("response_detected", date))
        elif kind == "response":
            self._rebaseline(date)
        elif kind == "feedback" and reason is not None:
            notices.append(self._feedback(date, reason, until))
        elif kind == "remission_period" and until is not None:
            h = self.hist  # as entries (a rare event: the simple way)
            sel = (h["date"] >= date) & (h["date"] <= until)
            part = np.zeros(int(sel.sum()), FROZEN_DTYPE)
            part["feature"], part["date"], part["value"] = (
                h["feature"][sel],
                h["date"][sel],
                h["value"][sel],
            )
            self._keep_remission(part)
        return notices

    def _keep_remission(self, days: NDArray[np.void]) -> None:
        """Remember ``days`` as the remission baseline: the latest ``baseline_days`` values
        of each feature."""
        keep = []
        for i in np.unique(days["feature"]):
            f = days[days["feature"] == i]
            keep.append(f[np.argsort(f["date"], kind="stable")][-self.params.baseline_days :])
        self.remission = np.concatenate(keep) if keep else np.zeros(0, FROZEN_DTYPE)

    def _feedback(self, date: int, reason: str, until: int | None) -> dict[str, Any]:
        """Apply an acknowledgement's reason (rules: :mod:`phenotyping.risk.feedback`);
        returns the ``feedback_applied`` notice saying what changed."""
        p = self.params
        n_sig = len(self._signals)
        is_open = self.episode_start >= 0
        recent = (
            not is_open
            and self.last_episode_start >= 0
            and date - self.last_episode_end <= p.washout_days
        )
        ep_start = self.episode_start if is_open else (self.last_episode_start if recent else -1)
        opened = self.episode_opened if is_open else -1
        ep_sig = self.episode_signals if is_open else (self.last_episode_signals if recent else 0)
        start = min(ep_start, date) if ep_start >= 0 else date
        self.feedback_reason, self.feedback_from = reason, date
        self.feedback_until = date + fb.DEFAULT_DAYS - 1
        applies_from, applies_until = start, until
        if reason in fb.EXPLAINING and not (reason == "device_problem" and until is None):
            end = until if until is not None else date + fb.DEFAULT_DAYS - 1
            if end < start:
                effect = (
                    f"{fb.label(reason)} until {iso_date(end)}, before this deviation began "
                    f"({iso_date(start)}): recorded, nothing changed"
                )
            else:
                over = end < date  # the period is over: the days since are not explained
                self.excl_mode, self.excl_reason = "exclude", reason
                self.excl_from, self.excl_until = start, end
                self.excl_episode = self.episode_start if is_open and not over else -1
                self.feedback_until = max(end, date)
                self._exclude_entries(start, end)
                if not over and (start < date or is_open):  # what they gathered is explained
                    self.sig = _new_sig(n_sig)
                effect = fb.period_text(reason, start, end)
                if is_open and not over:
                    effect += (
                        f"; the alert of {iso_date(self.episode_start)} stays open and "
                        f"resolves as explained on {iso_date(end + 1)}"
                    )
                elif is_open:
                    effect += (
                        "; the period is over, so the evidence since it and the open alert "
                        "stand (the alert resolves when the values are back to usual)"
                    )
            applies_until = end
        elif reason == "device_problem":
            # the new device's days: from the alert's day (the change began before it; the
            # episode's back-dated start can reach into the old device's days)
            start = opened if opened >= 0 else date
            applies_from = start
            self.excl_mode, self.excl_reason = "reanchor", reason
            self.excl_from, self.excl_until = start, date - 1
            self.excl_episode = self.episode_start if is_open else -1
            self.baseline_from = start
            new = self._dates >= start
            self._elig[:, new] = ~np.isnan(self._vals[:, new])
            self._entries = None
            self._exclude_entries(start, start - 1)  # windows reaching before the device
            self.frozen = np.zeros(0, FROZEN_DTYPE)
            self.frozen_until = _NEVER
            self.sig = _new_sig(n_sig)
            effect = fb.reanchor_text(start)
            if is_open:
                effect += f"; the alert of {iso_date(self.episode_start)} resolves as explained"
        elif reason == "contacted_fine":
            pattern = ep_sig | sum(1 << j for j in range(n_sig) if self.sig["c"][j] > p.floor)
            if ep_start < 0 or not pattern:
                pattern = (1 << n_sig) - 1
            self.fine_from, self.fine_signals = date, pattern
            self.fine_until = (
                until if until is not None and until >= date else date + p.contacted_fine_days - 1
            )
            self.fine_episode = self.episode_start if is_open and until is None else -1
            self.feedback_until = self.fine_until
            doms = sorted({self._signals[j].domain for j in range(n_sig) if pattern >> j & 1})
            after = p.contacted_fine_days if self.fine_episode >= 0 else 0
            effect = fb.fine_text(date, p.contacted_fine_factor, doms, self.fine_until, after)
            applies_from, applies_until = date, self.fine_until
        elif reason == "contacted_deteriorating":
            ended = []
            if self.excl_mode == "exclude" and self.excl_until >= date:
                self.excl_until = date - 1
                self.excl_episode = -1
                ended.append(f"the explanation ({fb.label(self.excl_reason)})")
            if self.fine_until >= date:
                self.fine_until, self.fine_episode = date - 1, -1
                ended.append("the raised evidence needed")
            effect = fb.label(reason) + (
                f": {' and '.join(ended)} ended from {iso_date(date)}" if ended else ": recorded"
            )
            applies_from, applies_until = date, None
        else:
            effect = f"{fb.label(reason)}: recorded, nothing changed"
            applies_from, applies_until = date, None
        notice = self._notice("feedback_applied", date)
        notice.update(
            reason=reason,
            applies_from=iso_date(applies_from),
            applies_until=None if applies_until is None else iso_date(applies_until),
            effect=effect,
        )
        return notice

    def _rebaseline(self, date: int) -> None:
        self.response_date = date
        start = date
        if self.last_session >= 0:
            start = max(start, self.last_session + self.params.post_session_washout_days + 1)
        self.baseline_from = start
        self.frozen = np.zeros(0, FROZEN_DTYPE)
        self.frozen_until = _NEVER
        self.sig = _new_sig(len(self._signals))
        self.episode_start, self.episode_level, self.days_in_band = -1, 0, 0
        self.episode_opened = -1

    # ------------------------------------------------------------------ daily assessment
    def assess(
        self, subject: str, row: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """Judge one closed day: (risk columns for the row, alerts, notices)."""
        self._unpack()
        p = self.params
        d = ordinal(row["date"])
        cols: dict[str, Any] = {}
        alerts: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        if d <= self.last_date:  # already judged (a replayed row): nothing changes
            return cols, alerts, notices
        self.last_date = d
        lay = self._layout
        # every watched feature's value in the row (NaN: none, or not valid)
        get = row.get
        read = []
        usable = False  # at least one value
        for column, flag in lay.reads:
            v = get(column)
            if v is None or (flag is not None and not get(flag)):
                read.append(math.nan)
                continue
            f = float(v)
            if math.isfinite(f):
                read.append(f)
                usable = True
            else:
                read.append(math.nan)
        values = np.array(read)
        notices += self._gap(subject, d, usable)
        excluded = self._held(d)
        # an episode that resolves today as explained by a new device: today's values are
        # the new device's (the baseline re-anchored on them)
        closing = self._explained(d) and self.excl_mode == "reanchor"
        eligible = not (
            (self.episode_start >= 0 and not closing)
            or d <= self.frozen_until
            or d < self.baseline_from
            or excluded
        )
        weekend = is_weekend(d)
        wheld = self._window_held(d)
        # every feature's baseline at once (baseline.py, engine's ``_baseline`` per feature)
        need, prior = self._need_prior()
        vals, tvals, dates, chosen, warm = self._baselines(d)
        med, scale, judged = bl.estimate_day(
            lay.columns, vals, tvals, dates, chosen, weekend, p, prior, need
        )
        prior_used = bool((warm & judged).any())
        today = bl.transform_all(lay.columns, values)
        # the z-scores, signals and CUSUMs of the day, compiled (_update_signals and the
        # z of every judged feature with a value today, not explained, as they were)
        zl, e, contributing, rising, scored = self._advance(d, today, med, scale, wheld)
        ml, sl = med.tolist(), scale.tolist()
        # the main features' columns (baseline.back inlined: expm1 of a log feature's)
        for (zn, bn, sn), log, z, m, s in zip(lay.names, lay.logs, zl, ml, sl, strict=False):
            cols[zn] = z
            cols[bn] = math.expm1(m) if log else m
            cols[sn] = s
        if usable:
            self._entries = None
            cut = d - p.exclude_recent_days - p.baseline_days - 7
            # the dates are increasing: nothing to drop while the first is after the cut
            if self._dates.size and self._dates[0] <= cut:
                keep = self._dates > cut
                keep[self._first_rows()] = True
            else:
                keep = None
            if keep is not None and not keep.all():
                self._dates, self._vals = self._dates[keep], self._vals[:, keep]
                self._elig, self._tvals = self._elig[:, keep], self._tvals[:, keep]
            self._dates = np.concatenate((self._dates, (d,)))
            self._vals = np.concatenate([self._vals, values[:, None]], axis=1)
            self._tvals = np.concatenate([self._tvals, today[:, None]], axis=1)
            new = ~np.isnan(values) & ~wheld & eligible
            self._elig = np.concatenate([self._elig, new[:, None]], axis=1)

        factor = 1.0
        if prior_used:  # judged against the short warm-up baseline: demand more evidence
            factor *= p.warmup_factor
        doms = sorted({self._signals[j].domain for j in contributing})
        level = level_of(e, len(doms), factor)
        cols.update(
            risk_score=round(min(1.0, e / (2 * factor)), 4),
            risk_level=LEVELS[level],
            risk_domains=",".join(doms),
            risk_warming_up=not np.isfinite(med).any(),
            risk_evidence=round(e, 4),
            risk_data="ok" if self.days_unusable < p.gap_notice_days else "gap",
            # the clinical context as of this day (the clinician feed's caseload view)
            ctx_last_session=iso_date(self.last_session) if self.last_session >= 0 else None,
            ctx_last_session_modality=self.last_session_modality or None,
            ctx_self_report_instrument=self.report_instrument or None,
            ctx_self_report_score=self.report_score if self.report_date >= 0 else None,
            ctx_self_report_date=iso_date(self.report_date) if self.report_date >= 0 else None,
        )
        alerts += self._episode(
            subject, d, level, rising, scored, cols, values, med, scale, zl, row, prior_used
        )
        return cols, alerts, notices

    def _prior(self, spec: Monitored) -> float | None:
        return dict(self.params.prior_scale).get(spec.column)

    def _first_rows(self) -> NDArray[np.intp]:
        """Rows of the person's first valid days since the baseline start (the warm-up
        baseline), kept until the regular window has filled."""
        ok = np.logical_or.reduce(self._elig, axis=0)
        if self._dates.size and self._dates[0] < self.baseline_from:
            ok &= self._dates >= self.baseline_from
        rows: NDArray[np.intp] = ok.nonzero()[0]
        return rows[: self.params.baseline_days]

    def _baselines(self, d: int) -> _Baselines:
        """Every feature's baseline for day ``d`` at once, as :meth:`_baseline` chooses it
        feature by feature: (values, the same transformed, their dates, which are chosen
        -- row ``i``'s chosen cells in order are feature ``i``'s baseline --, which
        features use the warm-up baseline)."""
        self._unpack()
        p = self.params
        nf = len(self._feats)
        if self.frozen.size and (self.episode_start >= 0 or d <= self.frozen_until):
            vals, tvals, dates, chosen = self._frozen_table()
            return vals, tvals, dates, chosen, np.zeros(nf, bool)
        need, _ = self._need_prior()
        bd = p.baseline_days
        date = self._dates
        end = d - p.exclude_recent_days
        if self.response_date < 0 or not self.remission.size:
            # the usual case, compiled: the regular window of each feature, or its
            # warm-up baseline when the window is short (the choice below, cell by cell)
            chosen, warm = kernels.choose_window(
                self._elig, date, self.baseline_from, end, bd, d, need
            )
            return self._vals, self._tvals, date, chosen, warm
        mine = self._elig & (date >= self.baseline_from)
        sel = mine & ((date <= end) & (date > end - bd))
        n_own = sel.sum(axis=1)
        if self.response_date >= 0 and self.remission.size and (n_own < bd).any():
            # after a response: the remission days complete the window (rare; per feature)
            parts = [self._baseline(i, d, bool(need[i] == p.min_baseline_days)) for i in range(nf)]
            vals, dates, chosen = _table([(v, t) for v, t, _ in parts])
            tvals = bl.transform_all(self._layout.columns, vals)
            return vals, tvals, dates, chosen, np.array([w for _, _, w in parts], dtype=bool)
        regular = n_own >= need
        if regular.all():
            return self._vals, self._tvals, date, sel, ~regular
        early = mine & (date < d)
        first = early & (np.cumsum(early, axis=1) <= bd)
        return self._vals, self._tvals, date, np.where(regular[:, None], sel, first), ~regular

    def _frozen_table(self) -> _Table:
        """The pinned baseline as a table (made once per pinning)."""
        if self._frozen_cols is None or self._frozen_cols[0] is not self.frozen:
            f = self.frozen
            parts = []
            for i in range(len(self._feats)):
                mine = f[f["feature"] == i]
                parts.append((mine["value"].astype(np.float64), mine["date"].astype(np.int64)))
            vals, dates, chosen = _table(parts)
            tvals = bl.transform_all(self._layout.columns, vals)
            self._frozen_cols = (self.frozen, (vals, tvals, dates, chosen))
        return self._frozen_cols[1]

    def _baseline(
        self, i: int, d: int, has_prior: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], bool]:
        """Baseline values and dates of feature ``i`` for day ``d``; True when it is the
        warm-up baseline (population prior weighs most). A feature without a population
        prior needs twice ``min_baseline_days`` of the person's own values.

        The definition, feature by feature; :meth:`_baselines` makes the same choice for
        every feature at once (tested against this)."""
        self._unpack()
        p = self.params
        need = p.min_baseline_days * (1 if has_prior else 2)
        if self.frozen.size and (self.episode_start >= 0 or d <= self.frozen_until):
            f = self.frozen[self.frozen["feature"] == i]
            return f["value"].astype(np.float64), f["date"].astype(np.int64), False
        date, value = self._dates, self._vals[i]
        mine = self._elig[i] & (date >= self.baseline_from)
        end = d - p.exclude_recent_days
        sel = mine & (date <= end) & (date > end - p.baseline_days)
        n_own = int(np.count_nonzero(sel))
        if self.response_date >= 0 and n_own < p.baseline_days and self.remission.size:
            # after a response: the days since it, completed to a full window from the
            # person's known remission days (not the population prior)
            r = self.remission[self.remission["feature"] == i]
            r = r[r["date"] < self.baseline_from][-(p.baseline_days - n_own) :]
            if n_own + r.size >= need:
                vals = np.concatenate([r["value"], value[sel]]).astype(np.float64)
                dates = np.concatenate([r["date"], date[sel]]).astype(np.int64)
                return vals, dates, False
        if n_own >= need:
            return value[sel].astype(np.float64), date[sel].astype(np.int64), False
        early = mine & (date < d)
        dates = date[early][: p.baseline_days]
        vals = value[early][: p.baseline_days]
        return vals.astype(np.float64), dates.astype(np.int64), True

    def _advance(
        self,
        d: int,
        today: NDArray[np.float64],
        med: NDArray[np.float64],
        scale: NDArray[np.float64],
        wheld: NDArray[np.bool_],
    ) -> tuple[list[float], float, list[int], set[int], set[int]]:
        """The features' clipped z of day ``d`` (``today``: their transformed values,
        NaN where none; ``med``, ``scale``: their baselines; ``wheld``: explained), then
        every signal's CUSUM advanced by it: (z, evidence, signals above the floor,
        signals whose CUSUM rose today, signals that had a value today). One compiled
        call (:func:`phenotyping.risk.kernels.advance_signals`); the same as the z loop
        of ``assess`` before it and :meth:`_update_signals` (tested against them)."""
        p = self.params
        lay = self._layout
        sig = self.sig.copy()  # a new array every day, as before (a loaded one may be read-only)
        damped = lay.undamped
        if self.fine_from <= d <= self.fine_until:  # "contacted_fine": the same pattern
            damped = np.array([bool(self.fine_signals >> j & 1) for j in range(damped.size)])
        z, e, flags = kernels.advance_signals(
            today,
            med,
            scale,
            wheld,
            lay.circular,
            float(p.z_clip),
            lay.sfeat,
            lay.ssign,
            lay.sroot,
            lay.ssize,
            lay.sfirst,
            self._signal_k(),
            lay.sgated,
            float(p.phase_activity_gate),
            float(p.ewma_lambda),
            self._held(d),
            d,
            sig["c"],
            sig["run"],
            sig["ewma"],
            damped,
            float(p.floor),
            float(p.contacted_fine_factor),
            float(p.h),
            float(p.h_single),
        )
        self.sig = sig
        contributing: list[int] = []
        rising: set[int] = set()
        scored: set[int] = set()
        for j, f in enumerate(flags.tolist()):
            if f:
                if f & kernels.ABOVE_FLOOR:
                    contributing.append(j)
                if f & kernels.RISING:
                    rising.add(j)
                if f & kernels.SCORED:
                    scored.add(j)
        return z.tolist(), e, contributing, rising, scored

    def _signal_k(self) -> NDArray[np.float64]:
        """Each signal's CUSUM allowance ``k`` (per parameters, made once)."""
        if self._k is None or self._k[0] is not self.params:
            p = self.params
            k = [p.k_sleep_long if sg.name == "sleep_long" else p.k for sg in self._signals]
            self._k = (p, np.array(k, dtype=np.float64))
        return self._k[1]

    def _update_signals(
        self, d: int, z: list[float]
    ) -> tuple[float, list[int], set[int], set[int]]:
        """Advance every signal's CUSUM by day ``d`` (``z``: the features' clipped z):
        (evidence, signals above the floor, signals whose CUSUM rose today, signals that
        had a value today). The definition :meth:`_advance` computes compiled (the
        engine's path until issue 12; kept as the reference it is tested against)."""
        p = self.params
        rising: set[int] = set()
        scored: set[int] = set()
        lay = self._layout
        c, run, ewma = (list(f) for f in zip(*self.sig.tolist(), strict=True))
        held = self._held(d)
        scores = _scores(lay, z) if not held else []
        for j, sg in enumerate(lay.signals if not held else ()):
            u = scores[j]
            if not math.isfinite(u):
                continue
            scored.add(j)
            act = ewma[0]  # activity, updated before the phase signals
            if sg.name == "phase_late" and counter_evidence(act, p.phase_activity_gate):
                u = min(u, 0.0)  # later AND clearly more active: not a depressive delay
            before = c[j]
            k = p.k_sleep_long if sg.name == "sleep_long" else p.k
            after = max(0.0, before + u - k)
            if after > 0 and before == 0:
                run[j] = d
            if after == 0:
                run[j] = -1
            if after > before:
                rising.add(j)
            c[j] = after
            ew = ewma[j]
            ewma[j] = u if math.isnan(ew) else p.ewma_lambda * u + (1 - p.ewma_lambda) * ew
        self.sig = np.array(list(zip(c, run, ewma, strict=True)), SIG_DTYPE)
        if self.fine_from <= d <= self.fine_until:  # "contacted_fine": the same pattern
            n = len(self._signals)
            mask = np.array([bool(self.fine_signals >> j & 1) for j in range(n)])
            c = fb.damp(np.array(c), mask, p.floor, p.contacted_fine_factor).tolist()
        contributing = [j for j, cj in enumerate(c) if cj > p.floor]
        return evidence(np.array(c), p.floor, p.h, p.h_single), contributing, rising, scored

    def _exclude_entries(self, start: int, end: int) -> None:
        """Keep the days ``start``..``end`` out of the baseline, and the values of features
        computed over several days while their window reaches into them."""
        date = self._dates
        self._elig[(date >= start) & (date <= end + self._layout.window[:, None] - 1)] = False
        self._entries = None

    def _window_held(self, d: int) -> NDArray[np.bool_]:
        """Per feature: its value of day ``d`` covers a day of an explained period (a
        7-day feature stays explained for 6 days after it; after a device re-anchoring,
        until its window holds only the new device's days)."""
        w = self._layout.window
        if self.excl_mode == "exclude":
            return (d >= self.excl_from) & (d - w + 1 <= self.excl_until)
        if self.excl_mode == "reanchor":
            return (d >= self.excl_from) & (d - w + 1 < self.excl_from)
        return self._layout.unheld

    def _held(self, d: int) -> bool:
        """Day ``d`` lies in an explained period: left out of the baseline, no evidence."""
        return self.excl_mode == "exclude" and self.excl_from <= d <= self.excl_until

    def _explained(self, d: int) -> bool:
        """The open episode is the one an explained period or a new device accounts for,
        and that period is over on day ``d``: it resolves as explained."""
        return (
            self.episode_start >= 0
            and self.excl_episode == self.episode_start
            and d > self.excl_until
        )

    # ------------------------------------------------------------------ episodes
    def _episode(
        self,
        subject: str,
        d: int,
        level: int,
        rising: set[int],
        scored: set[int],
        cols: dict[str, Any],
        values: NDArray[np.float64],
        med: NDArray[np.float64],
        scale: NDArray[np.float64],
        z: list[float],
        row: dict[str, Any],
        prior_used: bool,
    ) -> list[dict[str, Any]]:
        p = self.params
        out: list[dict[str, Any]] = []
        args = (cols, values, med, scale, z, row, prior_used)
        if self.episode_start < 0:
            if level >= 2 and d > self.last_closed + p.cooldown_days and not self._held(d):
                active = [j for j in range(len(self._signals)) if self.sig["c"][j] > p.floor]
                runs = [int(self.sig["run"][j]) for j in active if self.sig["run"][j] >= 0]
                self.episode_start = max(min([*runs, d]), d - 14)
                self.episode_opened = d
                self.episode_signals = sum(1 << j for j in active)
                self._elig[:, self._dates >= self.episode_start] = False
                self._entries = None
                self._pin_baseline(d)
                self.episode_level, self.days_in_band = level, 0
                out.append(self._alert(subject, d, "opened", level, *args))
            return out
        if self.excl_mode and self.excl_episode == self.episode_start:
            # explained by the clinician: held through the period, then resolved as such
            if self._explained(d):
                out.append(self._alert(subject, d, "resolved", level, *args, explained=True))
                self._close(d, explained=True)
            return out
        if level > self.episode_level:
            self.episode_level = level
            out.append(self._alert(subject, d, "escalated", level, *args))
        mine = [j for j in range(len(self._signals)) if self.episode_signals >> j & 1]
        # only the signals measured today: a day without data keeps the last smoothed
        # score, and must not count as "back to usual" (it does not count either way)
        ewma = self.sig["ewma"]
        back = in_band([float(ewma[j]) if j in scored else math.nan for j in mine], p.band_z)
        # A day counts towards resolution when the opening signals are back in the band
        # and the evidence is either below elevated or no longer growing (no signal above
        # the floor rose today): after a high episode the CUSUMs need weeks to decay by k
        # a day, and waiting for the level kept an episode whose values were back to usual
        # open until the 28-day close. A new deviation that keeps the level up (another
        # signal rising) keeps the episode open.
        c_now = self.sig["c"]
        growing = any(float(c_now[j]) > p.floor for j in rising)
        if back is True and (level < 2 or not growing):
            self.days_in_band += 1
        elif back is False or level >= 2:
            self.days_in_band = 0
        opened = self.episode_opened if self.episode_opened >= 0 else self.episode_start
        if self.days_in_band >= p.close_after_days:
            out.append(self._alert(subject, d, "resolved", level, *args))
            self._close(d)
        elif d - opened >= p.max_episode_days:
            out.append(self._alert(subject, d, "resolved", level, *args, persisting=True))
            self._close(d)
        return out

    def _close(self, d: int, explained: bool = False) -> None:
        p = self.params
        self.last_episode_start, self.last_episode_signals = (
            self.episode_start,
            self.episode_signals,
        )
        self.last_episode_end = d
        if self.fine_episode >= 0 and self.fine_episode == self.episode_start:
            # "contacted_fine" on this episode: the same pattern needs more evidence for
            # ``contacted_fine_days`` after it resolves (not only after the acknowledgement)
            self.fine_until = max(self.fine_until, d + p.contacted_fine_days)
            self.fine_episode = -1
        reanchored = explained and self.excl_mode == "reanchor"
        self.episode_start, self.episode_level, self.days_in_band = -1, 0, 0
        self.episode_signals, self.episode_opened = 0, -1
        self.frozen_until = _NEVER if reanchored else d + p.washout_days
        if explained:
            # no cooldown, and the CUSUMs keep what they gathered since the explained days
            # (they restarted at the acknowledgement and held through the period); after a
            # period the baseline stays pinned as it was before it
            self.excl_episode = -1
            return
        self.last_closed = d
        self.sig = _new_sig(len(self._signals))

    def _pin_baseline(self, d: int) -> None:
        self.frozen = np.zeros(0, FROZEN_DTYPE)  # unpinned while we read the sliding window
        parts = []
        for i, spec in enumerate(self._feats):
            # the baseline ``assess`` judges with: a feature without a population prior
            # needs twice the days (pinning the 5-day window left it unjudged, its CUSUM
            # frozen and the episode unable to resolve)
            vals, dates, _ = self._baseline(i, d, self._prior(spec) is not None)
            part = np.zeros(vals.size, FROZEN_DTYPE)
            part["feature"], part["date"], part["value"] = i, dates, vals
            parts.append(part)
        self.frozen = np.concatenate(parts) if parts else np.zeros(0, FROZEN_DTYPE)

    def _alert(
        self,
        subject: str,
        d: int,
        kind: str,
        level: int,
        cols: dict[str, Any],
        values: NDArray[np.float64],
        med: NDArray[np.float64],
        scale: NDArray[np.float64],
        z: list[float],
        row: dict[str, Any],
        prior_used: bool,
        persisting: bool = False,
        explained: bool = False,
    ) -> dict[str, Any]:
        p = self.params
        feats = self._feats
        found: list[tuple[float, Monitored, float, float, float, int]] = []
        contributing: list[tuple[float, dict[str, Any]]] = []
        seen: set[int] = set()
        for j, sg in enumerate(self._signals):
            c = float(self.sig["c"][j])
            if c <= p.floor and not (self.episode_signals >> j & 1):
                continue
            # described over the CUSUM's run, at most the last 14 days (a run can start
            # long before a change while the CUSUM hovers above 0)
            onset = max(int(self.sig["run"][j]) if self.sig["run"][j] >= 0 else d, d - 13)
            strength = round(c / p.h_single, 3)
            for i, _ in sg.members + sg.fallback:
                if i in seen or not math.isfinite(med[i]):
                    continue
                spec = feats[i]
                run_values = self._vals[i, (self._dates >= onset) & (self._dates <= d)]
                run_values = run_values[~np.isnan(run_values)]
                usual = bl.back(spec, float(med[i]))
                if not run_values.size:
                    continue
                seen.add(i)
                if spec.circular:
                    mean = (usual + float(np.mean(stats.wrap_minutes(run_values - usual)))) % 1440
                elif spec.log:  # judged on log(x + 1): the typical day (geometric mean),
                    # else a few near-zero days (which drive the CUSUM) can leave the
                    # arithmetic mean "above usual" in an activity-down alert
                    mean = float(np.expm1(np.mean(np.log1p(np.maximum(run_values, 0.0)))))
                else:
                    mean = float(np.mean(run_values))
                delta = stats.deviation(mean, usual, circular=spec.circular)
                days = d - onset + 1
                item = {
                    "feature": spec.column,
                    "label": spec.label,
                    "domain": sg.domain,
                    "direction": "up" if delta > 0 else "down",
                    "value": num(values[i]),
                    "mean_since_onset": num(mean),
                    "baseline_median": num(usual),
                    "baseline_scale": num(scale[i]),
                    "z": num(z[i]),
                    "signal_strength": strength,
                    "days_in_deviation": days,
                }
                contributing.append((strength, item))
                found.append((strength, spec, mean, usual, delta, days))
        contributing.sort(key=lambda t: -t[0])
        after_response = self.response_date >= 0 and d > self.response_date
        note = self._feedback_note(d)
        text = explanation(
            found,
            kind,
            after_response=after_response,
            close_after_days=p.close_after_days,
            feedback=note,
        )
        if persisting:
            text = (
                # "Closed after " is what the feed recognises (feed.store.CLOSED_UNRESOLVED)
                f"Closed after {p.max_episode_days} days from this alert, still away from "
                "the usual range (not resolved): the CUSUMs restart; a further change "
                "alerts again"
            )
        if explained:
            text = "Resolved as explained by the clinician: " + (
                fb.reanchor_text(self.excl_from)
                if self.excl_mode == "reanchor"
                else fb.period_text(self.excl_reason, self.excl_from, self.excl_until)
                + f"; from {iso_date(self.excl_until + 1)} judged against the usual range "
                "from before"
            )
        episode = iso_date(self.episode_start)
        alert_id = hashlib.blake2b(
            f"{subject}|{episode}|{kind}|{iso_date(d)}|{self.version}".encode(), digest_size=10
        ).hexdigest()
        domains = [x for x in cols["risk_domains"].split(",") if x]
        return {
            "type": "alert",
            "version": 1,
            "alert_id": alert_id,
            "subject_id": subject,
            "kind": kind,
            "date": iso_date(d),
            "level": LEVELS[level] if kind != "resolved" else LEVELS[self.episode_level],
            "score": cols["risk_score"],
            "episode_start": episode,
            "domains": domains,
            "contributing": [t[1] for t in contributing],
            "coverage": {
                "day_coverage": num(row.get("coverage")),
                "night_coverage": num(row.get("night_coverage")),
                "valid_days_last_7": self._valid_days(d),
            },
            "days_since_last_session": (d - self.last_session) if self.last_session >= 0 else None,
            "last_session_modality": self.last_session_modality or None,
            "after_response": after_response,
            "days_since_response": (d - self.response_date) if self.response_date >= 0 else None,
            "self_report": (
                {
                    "instrument": self.report_instrument,
                    "score": self.report_score,
                    "date": iso_date(self.report_date),
                }
                if self.report_date >= 0
                else None
            ),
            "baseline": "population prior" if prior_used else "personal",
            "config_version": self.version,
            "explanation": text,
        }

    def _feedback_note(self, d: int) -> str | None:
        """What clinician feedback does to the alert of day ``d`` (None: nothing)."""
        p = self.params
        notes = []
        if self.excl_mode == "exclude" and self.excl_from <= d <= self.excl_until + 14:
            # during the period and while an alert's description (at most 14 days) reaches
            # back into it
            notes.append(fb.period_text(self.excl_reason, self.excl_from, self.excl_until))
        if self.fine_from <= d <= self.fine_until:
            doms = sorted(
                {sg.domain for j, sg in enumerate(self._signals) if self.fine_signals >> j & 1}
            )
            notes.append(
                fb.fine_text(self.fine_from, p.contacted_fine_factor, doms, self.fine_until, 0)
            )
        if (
            self.feedback_reason in ("contacted_deteriorating", "other")
            and self.feedback_from <= d <= self.feedback_until
        ):
            notes.append(fb.label(self.feedback_reason))
        return "; ".join(notes) or None

    def _valid_days(self, d: int) -> int:
        # a row is a day with at least one value
        return int(np.count_nonzero((self._dates > d - 7) & (self._dates <= d)))

    def _gap(self, subject: str, d: int, usable: bool) -> list[dict[str, Any]]:
        p = self.params
        if usable:
            self.days_unusable, self.gap_start = 0, -1
            return []
        if self.days_unusable == 0:
            self.gap_start = d
        self.days_unusable += 1
        n = self.days_unusable
        if n >= p.gap_notice_days and (n - p.gap_notice_days) % 7 == 0:
            notice = self._notice("data_gap", d)
            notice.update(
                subject_id=subject, gap_start=iso_date(self.gap_start), days_without_data=n
            )
            return [notice]
        return []

    def _notice(self, kind: str, d: int) -> dict[str, Any]:
        return {"kind": kind, "date": iso_date(d), "config_version": self.version}

    # ------------------------------------------------------------------ state
    def to_bytes(self) -> bytes:
        header = {k: getattr(self, k) for k in _header_fields()}
        header = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in header.items()
        }
        header["params"] = params_dict(self.params)  # asdict, cached (speed only)
        arrays = {"hist": self._hist_entries(), "sig": self.sig, "frozen": self.frozen}
        if self.remission.size:  # only when known: the state stays as before otherwise
            arrays["remission"] = self.remission
        return pack(_MAGIC, _VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskState:
        dtypes = {
            "hist": HIST_DTYPE,
            "sig": SIG_DTYPE,
            "frozen": FROZEN_DTYPE,
            "remission": FROZEN_DTYPE,
        }
        header, arrays = unpack(data, _MAGIC, _VERSION, dtypes)
        raw = header.pop("params")
        raw["prior_scale"] = tuple((str(k), float(v)) for k, v in raw.get("prior_scale", ()))
        params = RiskParams(**raw)
        for key in ("pre_course_phq9", "report_score"):
            if header.get(key) is None:
                header[key] = float("nan")
        fresh = "excl_mode" not in header  # a state written before feedback covered periods
        state = cls(
            params=params,
            sig=arrays["sig"],
            frozen=arrays["frozen"],
            # absent from a state saved before remission baselines existed
            remission=arrays.get("remission", np.zeros(0, FROZEN_DTYPE)),
            **header,
        )
        state.hist = arrays["hist"]
        if fresh and state.feedback_reason in fb.EXPLAINING:
            state.excl_mode, state.excl_reason = "exclude", state.feedback_reason
            state.excl_from, state.excl_until = state.feedback_from, state.feedback_until
        elif fresh and state.feedback_reason == "contacted_fine":
            state.fine_from, state.fine_until = state.feedback_from, state.feedback_until
            state.fine_signals = (1 << len(state._signals)) - 1
        return state


def warm_up() -> float:
    """Load (or compile, the first time) the risk engine's kernels by judging a few
    synthetic days; returns the CPU seconds it took. A process that must not pause on its
    first real assessment (a stream worker) calls it once at start, beside
    :func:`phenotyping.features.day.warm_up`.

    Examples
    --------
    >>> warm_up() < 600
    True
    """
    t0 = time.process_time()
    state = RiskState()
    for i in range(24):
        row: dict[str, Any] = {"date": iso_date(19_000 + i), "valid": True, "sleep_valid": True}
        row.update(
            activity_mean_worn=200.0 + i % 5,
            sleep_tst_min=420.0 + i % 7,
            sleep_midpoint_clock_min=(1400.0 + 20 * (i % 4)) % 1440,
        )
        state.assess("warm-up", row)
    return time.process_time() - t0


@functools.cache
def _header_fields() -> tuple[str, ...]:
    """The state's fields written as its JSON header, in their order (the arrays and the
    parameters are written apart; the table is written as ``hist``)."""
    skip = ("params", "sig", "frozen", "remission")
    return tuple(
        f.name for f in fields(RiskState) if f.name not in skip and not f.name.startswith("_")
    )


def _table(
    columns: list[tuple[NDArray[np.float64], NDArray[np.int64]]],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Per-feature (values, dates) as one table: row ``i`` holds feature ``i``'s values in
    order from the left, then NaN (values, dates, which cells are chosen)."""
    width = max((v.size for v, _ in columns), default=0)
    vals = np.full((len(columns), width), np.nan)
    dates = np.zeros((len(columns), width), np.int64)
    chosen = np.zeros((len(columns), width), bool)
    for i, (v, t) in enumerate(columns):
        vals[i, : v.size], dates[i, : v.size], chosen[i, : v.size] = v, t, True
    return vals, dates, chosen
