"""Per-subject relapse-risk engine: personal baselines, CUSUMs, levels, episodes, alerts.

:class:`RiskState` is fed the subject's closed daily rows in date order (``assess``) and
clinical events (``clinical``). It returns risk columns for the row, alerts and notices.
Pure and deterministic: dates are passed in, nothing reads a clock.

Policy (every number is a :class:`RiskParams` field)
----------------------------------------------------
Baseline
    Per feature, the median and MAD-scale of its valid values over the ``baseline_days``
    days that end ``exclude_recent_days`` before the day judged -- the recent days being
    judged never judge themselves. No z before ``min_baseline_days`` valid values (warm-up;
    no population prior is used). Values of days inside an alert episode, and of the
    ``washout_days`` after it, never enter the baseline (frozen baseline), so it cannot
    absorb a relapse. Optional day-of-week adjustment: weekend and weekday days get their
    own median when each has at least ``min_baseline_days // 2`` values.
Change detection
    Robust z oriented in the clinical direction(s), clipped at +-``z_clip``, divided by
    ``sqrt(window_days)``, feeds one-sided CUSUMs with reference ``k`` and threshold ``h``
    from the false-alarm budget ``arl_days`` (see :mod:`phenotyping.risk.stats`). A missing
    day is a gap: nothing is updated, nothing imputed. An EWMA of z (``ewma_lambda``) is kept
    for display only.
Levels and score
    A domain (activity, sleep, HRV, circadian) *deviates* when one of its features' CUSUMs
    crossed ``h`` within the last ``alert_window_days``. Level: ``watch`` = 1 domain,
    ``elevated`` = ``elevated_domains`` (2) domains, ``high`` = ``high_domains`` (3) domains,
    or 2 domains one of whose CUSUMs signalled twice (it restarts at 0 after a signal, so a
    second signal means the deviation persists). Score (0-1, a ranking, not a
    probability) = sum over domains of the domain's strength (signals in the window plus the
    current CUSUM / h, capped at 2), divided by 4, capped at 1. A signalling CUSUM restarts
    at 0, so one bad day cannot hold a domain "deviating" for longer than the window, and
    ``z_clip`` (3) stops a single outlier day from signalling on its own.
Episodes and alerts
    An episode opens at ``elevated`` (one alert, ``opened``), gives an ``escalated`` update
    when its level rises and a ``resolved`` update after ``close_after_days`` consecutive
    days below ``elevated`` (hysteresis); then all CUSUMs restart at 0, the baseline stays
    frozen for ``washout_days`` and no new episode opens for ``cooldown_days``.
Data gaps
    ``gap_notice_days`` consecutive days without any usable feature give a ``data_gap``
    notice (repeated weekly while the gap lasts). A gap never raises an alert by itself.
Treatment
    ``treatment_session`` events update the days since the last session (carried by every
    alert). A ``response`` -- marked by a clinician, or a PHQ-9 at or below
    ``(1 - response_phq9_drop)`` x the last PHQ-9 before the course -- starts a new
    baseline: values before ``max(response day, last session + post_session_washout_days)``
    are no longer used, the CUSUMs restart and warm-up begins again, because the
    pre-response (depressed) period is the wrong "normal" for detecting relapse. Alerts
    after a response are named "deterioration after response". Self-reported scores are
    shown beside alerts, never required.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from phenotyping.features.envelope import pack, unpack
from phenotyping.features.time import is_weekend, iso_date, ordinal
from phenotyping.risk import stats
from phenotyping.risk.monitor import DOMAINS, MONITORED, Monitored, change_clause, value_of

LEVELS = ("none", "watch", "elevated", "high")
DOMAIN_CUSUMS = {
    dom: sum(2 if s.direction == "both" else 1 for s in MONITORED if s.domain == dom)
    for dom in DOMAINS
}
N_FEAT = len(MONITORED)
HIST_DTYPE = np.dtype([("feature", "<i2"), ("date", "<i8"), ("value", "<f8"), ("eligible", "?")])
FROZEN_DTYPE = np.dtype([("feature", "<i2"), ("value", "<f8")])
FEAT_DTYPE = np.dtype(
    [
        ("s_up", "<f8"),
        ("s_down", "<f8"),
        ("run_up", "<i8"),  # date the up-CUSUM last left 0 (-1: at 0)
        ("run_down", "<i8"),
        ("last_alarm", "<i8"),  # last date a CUSUM signalled (crossed h; then reset to 0)
        ("prev_alarm", "<i8"),  # the signal before that (-1: none)
        ("alarm_run", "<i8"),  # start of the run that led to the last signal
        ("alarm_dir", "<i1"),  # +1 up, -1 down
        ("ewma", "<f8"),
    ]
)
_MAGIC = b"PHRS"
_VERSION = 1


@dataclass(frozen=True)
class RiskParams:
    """Every threshold and window of the risk engine.

    Parameters
    ----------
    baseline_days
        28: four weeks of the person's own days -- long enough for a stable median/MAD,
        short enough to follow slow seasonal change.
    exclude_recent_days
        7: the week being judged never enters its own baseline (a slow relapse would
        otherwise be absorbed as it happens).
    min_baseline_days
        10: warm-up; no z (hence no alert) before 10 valid values. No population prior is
        used, so every alert compares a person only with themself.
    day_of_week
        False: weekend/weekday medians, when each has >= min_baseline_days // 2 values.
    k
        0.5: CUSUM reference in robust SDs; tuned to detect a shift of about 1 SD.
    arl_days
        1460: in-control average run length of each CUSUM (days between false signals).
        With ~15 statistics in 4 domains and the two-domain rule this gave ~0.14 elevated
        episodes per 90 days on stable synthetic subjects; see the evaluation for real data.
    z_clip
        3: a single outlier day adds at most 2.5 to a CUSUM, so one bad night cannot signal.
    ewma_lambda
        0.3: smoothing of the displayed z trend (not used for decisions).
    alert_window_days
        7: signals of different domains must fall within a week to count together.
    elevated_domains, high_domains
        2 and 3: domains needed for "elevated" and "high" (see the policy above).
    close_after_days
        3: consecutive days below elevated before an episode resolves (hysteresis).
    cooldown_days
        7: no new episode for a week after one resolves.
    washout_days
        14: after an episode, values stay out of the baseline for two more weeks.
    gap_notice_days
        3: days without usable data before a data-gap notice (repeated weekly).
    post_session_washout_days
        3: after the last treatment session, acute effects (e.g. ketamine's on sleep) are
        kept out of the new baseline.
    response_phq9_drop
        0.5: a PHQ-9 at or below half of the last pre-course PHQ-9 counts as a response,
        the usual definition of response in depression trials.
    """

    baseline_days: int = 28
    exclude_recent_days: int = 7
    min_baseline_days: int = 10
    day_of_week: bool = False
    k: float = 0.5
    arl_days: float = 1460.0
    share_arl_in_domain: bool = False
    cusum_input: Literal["robust_z", "rank"] = "robust_z"
    z_clip: float = 3.0
    ewma_lambda: float = 0.3
    alert_window_days: int = 7
    elevated_domains: int = 2
    high_domains: int = 3
    close_after_days: int = 3
    cooldown_days: int = 7
    washout_days: int = 14
    gap_notice_days: int = 3
    post_session_washout_days: int = 3
    response_phq9_drop: float = 0.5

    @property
    def h(self) -> float:
        """Threshold of a domain with a single one-sided CUSUM."""
        return stats.threshold_for_arl(self.arl_days, self.k)

    def thresholds(self) -> NDArray[np.float64]:
        """h per monitored feature: a domain's false-alarm budget ``arl_days`` is shared by
        its one-sided CUSUMs (a domain of 5 gives each an ARL of 5 x arl_days), so a domain
        with many statistics does not signal more often than one with few."""
        shares = [DOMAIN_CUSUMS[s.domain] if self.share_arl_in_domain else 1 for s in MONITORED]
        return np.array([stats.threshold_for_arl(self.arl_days * n, self.k) for n in shares])


def config_version(params: RiskParams, extra: dict[str, Any] | None = None) -> str:
    """Short stable hash of everything that shapes an alert (risk and engine settings)."""
    text = json.dumps({"risk": asdict(params), **(extra or {})}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _new_feat() -> NDArray[np.void]:
    f = np.zeros(N_FEAT, FEAT_DTYPE)
    f["run_up"] = f["run_down"] = f["last_alarm"] = f["prev_alarm"] = f["alarm_run"] = -1
    f["ewma"] = np.nan
    return f


@dataclass
class RiskState:
    """Risk state of one subject (serialisable, compact)."""

    params: RiskParams = field(default_factory=RiskParams)
    version: str = ""
    hist: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, HIST_DTYPE))
    # the baseline samples pinned when an episode opened (used until the washout ends)
    frozen: NDArray[np.void] = field(default_factory=lambda: np.zeros(0, FROZEN_DTYPE))
    feat: NDArray[np.void] = field(default_factory=_new_feat)
    last_date: int = -(2**40)
    baseline_from: int = -(2**40)
    frozen_until: int = -(2**40)
    episode_start: int = -1  # -1: no episode open
    episode_level: int = 0
    days_below: int = 0
    last_closed: int = -(2**40)
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

    # ------------------------------------------------------------------ clinical events
    def clinical(
        self,
        date: int,
        kind: str,
        *,
        modality: str | None = None,
        instrument: str | None = None,
        score: float | None = None,
    ) -> list[dict[str, Any]]:
        """Record a clinical event of local date ``date``; returns notices (if any)."""
        notices: list[dict[str, Any]] = []
        if kind == "treatment_session":
            if not self.course_active:
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
        return notices

    def _rebaseline(self, date: int) -> None:
        self.response_date = date
        start = date
        if self.last_session >= 0:
            start = max(start, self.last_session + self.params.post_session_washout_days + 1)
        self.baseline_from = start
        self.frozen = np.zeros(0, FROZEN_DTYPE)
        self.frozen_until = -(2**40)
        self.feat = _new_feat()
        self.episode_start, self.episode_level, self.days_below = -1, 0, 0

    # ------------------------------------------------------------------ daily assessment
    def assess(
        self, subject: str, row: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """Judge one closed day: (risk columns for the row, alerts, notices)."""
        p = self.params
        h = p.h
        d = ordinal(row["date"])
        cols: dict[str, Any] = {}
        alerts: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        if d <= self.last_date:  # already judged (a replayed row): nothing changes
            return cols, alerts, notices
        self.last_date = d
        values = np.array([value_of(s, row) for s in MONITORED])
        usable = bool(np.isfinite(values).any())
        notices += self._gap(subject, d, usable)
        eligible = not (self.episode_start >= 0 or d <= self.frozen_until or d < self.baseline_from)
        warm = 0
        for i, spec in enumerate(MONITORED):
            z, med, scale = self._update_feature(i, spec, d, values[i], weekend=is_weekend(d))
            warm += int(math.isfinite(med))
            cols[f"z_{spec.column}"] = z
            cols[f"base_{spec.column}"] = med
            cols[f"scale_{spec.column}"] = scale
        if usable:
            new = np.zeros(int(np.isfinite(values).sum()), HIST_DTYPE)
            idx = np.flatnonzero(np.isfinite(values))
            new["feature"], new["date"], new["value"], new["eligible"] = (
                idx,
                d,
                values[idx],
                eligible,
            )
            keep = self.hist["date"] > d - p.exclude_recent_days - p.baseline_days - 7
            self.hist = np.concatenate([self.hist[keep], new])

        level, score, domains, strength = self._level(d, h)
        cols.update(
            risk_score=score,
            risk_level=LEVELS[level],
            risk_domains=",".join(domains),
            risk_warming_up=warm == 0,
        )
        alerts += self._episode(subject, d, level, score, domains, values, cols, row)
        return cols, alerts, notices

    def _baseline_values(self, i: int, d: int, weekend: bool | None) -> NDArray[np.float64]:
        p = self.params
        if self.frozen.size and (self.episode_start >= 0 or d <= self.frozen_until):
            # pinned: the baseline as it was when the episode opened, not a sliding window
            # that empties while every new day is kept out of it
            return np.asarray(self.frozen["value"][self.frozen["feature"] == i], dtype=np.float64)
        end = d - p.exclude_recent_days
        h = self.hist
        sel = (
            (h["feature"] == i)
            & h["eligible"]
            & (h["date"] <= end)
            & (h["date"] > end - p.baseline_days)
            & (h["date"] >= self.baseline_from)
        )
        values = h["value"][sel]
        if p.day_of_week and weekend is not None:
            wk = np.array([is_weekend(int(x)) for x in h["date"][sel]], dtype=bool)
            same = np.asarray(values[wk == weekend], dtype=np.float64)
            if same.size >= p.min_baseline_days // 2:
                return same
        return np.asarray(values, dtype=np.float64)

    def _update_feature(
        self, i: int, spec: Monitored, d: int, value: float, *, weekend: bool
    ) -> tuple[float, float, float]:
        p = self.params
        nan = float("nan")
        base = self._baseline_values(i, d, weekend)
        if base.size < p.min_baseline_days:
            return nan, nan, nan
        med, scale = stats.robust_baseline(base, circular=spec.circular, min_scale=spec.min_scale)
        if not math.isfinite(value) or not math.isfinite(scale) or scale <= 0:
            return nan, med, scale
        z = stats.deviation(value, med, circular=spec.circular) / scale
        z = max(-p.z_clip, min(p.z_clip, z))
        score = (
            stats.rank_score(value, base, med, circular=spec.circular)
            if p.cusum_input == "rank"
            else z
        )
        f = self.feat[i]
        f["ewma"] = (
            z if math.isnan(f["ewma"]) else p.ewma_lambda * z + (1 - p.ewma_lambda) * f["ewma"]
        )
        root = math.sqrt(spec.window_days)
        for name, run, sign, used in (
            ("s_up", "run_up", 1, spec.direction in ("up", "both")),
            ("s_down", "run_down", -1, spec.direction in ("down", "both")),
        ):
            if not used:
                continue
            before = float(f[name])
            after = stats.cusum(before, sign * score / root, p.k)
            if after > 0 and before == 0:
                f[run] = d
            if after > self._h[i]:  # a signal: record it, restart this CUSUM (Page's scheme); a
                # head start of h/2 (fast initial response) was tried and doubled the false
                # episodes on stable synthetic subjects
                f["prev_alarm"], f["last_alarm"] = f["last_alarm"], d
                f["alarm_run"], f["alarm_dir"] = f[run], sign
                after = 0.0
            if after == 0:
                f[run] = -1
            f[name] = after
        return z, med, scale

    @property
    def _h(self) -> NDArray[np.float64]:
        return _thresholds(self.params)

    def _level(self, d: int, h: float) -> tuple[int, float, list[str], dict[str, float]]:
        """Level and score from the signals of the last ``alert_window_days``."""
        p = self.params
        since = d - p.alert_window_days + 1
        f = self.feat
        recent = f["last_alarm"] >= since
        repeated = f["prev_alarm"] >= since  # signalled again after its restart
        # strength: signals in the window (0, 1, 2) plus the current CUSUM's progress
        progress = np.maximum(f["s_up"], f["s_down"]) / self._h
        strength_f = recent.astype(float) + repeated.astype(float) + progress
        domains: list[str] = []
        strength: dict[str, float] = {}
        persistent = False
        for dom in DOMAINS:
            idx = [i for i, s in enumerate(MONITORED) if s.domain == dom]
            strength[dom] = min(float(strength_f[idx].max()), 2.0)
            if recent[idx].any():
                domains.append(dom)
                persistent = persistent or bool(repeated[idx].any())
        n = len(domains)
        if n >= p.high_domains or (n >= p.elevated_domains and persistent):
            level = 3
        elif n >= p.elevated_domains:
            level = 2
        else:
            level = 1 if n else 0
        score = min(1.0, sum(strength.values()) / 4.0)
        return level, round(score, 4), domains, strength

    # ------------------------------------------------------------------ episodes
    def _episode(
        self,
        subject: str,
        d: int,
        level: int,
        score: float,
        domains: list[str],
        values: NDArray[np.float64],
        cols: dict[str, Any],
        row: dict[str, Any],
    ) -> list[dict[str, Any]]:
        p = self.params
        out: list[dict[str, Any]] = []
        if self.episode_start < 0:
            if level >= 2 and d > self.last_closed + p.cooldown_days:
                since = d - p.alert_window_days + 1
                f = self.feat
                runs = f["alarm_run"][(f["last_alarm"] >= since) & (f["alarm_run"] >= 0)]
                # the estimated onset: where the signalling CUSUM runs began, at most a
                # window before today (a CUSUM can hover above 0 long before a change)
                onset = int(min([*runs.tolist(), d]))
                self.episode_start = max(onset, d - p.alert_window_days)
                # the days since the onset must not shape the baseline any more, and the
                # baseline is pinned as it is now until the washout after the episode ends
                self.hist["eligible"][self.hist["date"] >= self.episode_start] = False
                self._pin_baseline(d)
                self.episode_level, self.days_below = level, 0
                out.append(
                    self._alert(subject, d, "opened", level, score, domains, values, cols, row)
                )
            return out
        if level > self.episode_level:
            self.episode_level = level
            out.append(
                self._alert(subject, d, "escalated", level, score, domains, values, cols, row)
            )
        self.days_below = self.days_below + 1 if level < 2 else 0
        if self.days_below >= p.close_after_days:
            out.append(
                self._alert(subject, d, "resolved", level, score, domains, values, cols, row)
            )
            self.episode_start, self.episode_level, self.days_below = -1, 0, 0
            self.last_closed = d
            self.frozen_until = d + p.washout_days
            self.feat = _new_feat()
        return out

    def _pin_baseline(self, d: int) -> None:
        self.frozen = np.zeros(0, FROZEN_DTYPE)  # unpinned while we read the sliding window
        parts = []
        for i in range(N_FEAT):
            values = self._baseline_values(i, d, None)
            part = np.zeros(values.size, FROZEN_DTYPE)
            part["feature"], part["value"] = i, values
            parts.append(part)
        self.frozen = np.concatenate(parts) if parts else np.zeros(0, FROZEN_DTYPE)

    def _alert(
        self,
        subject: str,
        d: int,
        kind: str,
        level: int,
        score: float,
        domains: list[str],
        values: NDArray[np.float64],
        cols: dict[str, Any],
        row: dict[str, Any],
    ) -> dict[str, Any]:
        p = self.params
        found: list[tuple[float, Monitored, dict[str, Any], float, float, float, int]] = []
        since = d - p.alert_window_days + 1
        for i, spec in enumerate(MONITORED):
            f = self.feat[i]
            if f["last_alarm"] < since:
                continue
            direction = "up" if int(f["alarm_dir"]) > 0 else "down"
            onset = int(f["alarm_run"]) if f["alarm_run"] >= 0 else int(f["last_alarm"])
            days = d - onset + 1
            med = float(cols[f"base_{spec.column}"])
            h_ = self.hist
            sel = (h_["feature"] == i) & (h_["date"] >= onset) & (h_["date"] <= d)
            run_values = h_["value"][sel]
            if spec.circular and run_values.size and math.isfinite(med):
                mean = (med + float(np.mean(stats.wrap_minutes(run_values - med)))) % 1440
            else:
                mean = float(np.mean(run_values)) if run_values.size else float("nan")
            delta = stats.deviation(mean, med, circular=spec.circular)
            strength = round(
                1.0
                + float(f["prev_alarm"] >= since)
                + max(float(f["s_up"]), float(f["s_down"])) / float(self._h[i]),
                3,
            )
            item = {
                "feature": spec.column,
                "label": spec.label,
                "domain": spec.domain,
                "direction": direction,
                "value": _num(values[i]),
                "mean_since_onset": _num(mean),
                "baseline_median": _num(med),
                "baseline_scale": _num(cols[f"scale_{spec.column}"]),
                "z": _num(cols[f"z_{spec.column}"]),
                "signal_strength": strength,
                "days_in_deviation": days,
            }
            found.append((strength, spec, item, mean, med, delta, days))
        found.sort(key=lambda t: -t[0])
        contributing = [t[2] for t in found]
        clauses = []
        for _, spec, _, mean, med, delta, days in found[:3]:
            if math.isfinite(mean) and math.isfinite(med):
                clauses.append(change_clause(spec, mean, med, delta, days))
            else:
                clauses.append(f"{spec.label} away from usual")
        after_response = self.response_date >= 0 and d > self.response_date
        explanation = "; ".join(clauses) if clauses else "deviations resolved"
        explanation = explanation[0].upper() + explanation[1:]
        if kind == "resolved":
            explanation = f"Resolved: no longer {LEVELS[2]} for {p.close_after_days} days"
        elif after_response:
            explanation = f"Deterioration after response: {explanation[0].lower()}{explanation[1:]}"
        episode = iso_date(self.episode_start)
        alert_id = hashlib.blake2b(
            f"{subject}|{episode}|{kind}|{iso_date(d)}|{self.version}".encode(), digest_size=10
        ).hexdigest()
        return {
            "type": "alert",
            "version": 1,
            "alert_id": alert_id,
            "subject_id": subject,
            "kind": kind,
            "date": iso_date(d),
            "level": LEVELS[level] if kind != "resolved" else LEVELS[self.episode_level],
            "score": score,
            "episode_start": episode,
            "domains": domains,
            "contributing": contributing,
            "coverage": {
                "day_coverage": _num(row.get("coverage")),
                "night_coverage": _num(row.get("night_coverage")),
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
            "baseline": "personal",
            "config_version": self.version,
            "explanation": explanation,
        }

    def _valid_days(self, d: int) -> int:
        h = self.hist
        recent = h["date"][(h["date"] > d - 7) & (h["date"] <= d)]
        return int(np.unique(recent).size)

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
        skip = ("params", "hist", "feat", "frozen")
        header = {k: v for k, v in self.__dict__.items() if k not in skip}
        header = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in header.items()
        }
        header["params"] = asdict(self.params)
        arrays = {"hist": self.hist, "feat": self.feat, "frozen": self.frozen}
        return pack(_MAGIC, _VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskState:
        dtypes = {"hist": HIST_DTYPE, "feat": FEAT_DTYPE, "frozen": FROZEN_DTYPE}
        header, arrays = unpack(data, _MAGIC, _VERSION, dtypes)
        params = RiskParams(**header.pop("params"))
        for key in ("pre_course_phq9", "report_score"):
            if header.get(key) is None:
                header[key] = float("nan")
        return cls(
            params=params,
            hist=arrays["hist"],
            feat=arrays["feat"],
            frozen=arrays["frozen"],
            **header,
        )


@functools.lru_cache(maxsize=16)
def _thresholds(params: RiskParams) -> NDArray[np.float64]:
    return params.thresholds()


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return round(f, 4) if math.isfinite(f) else None
