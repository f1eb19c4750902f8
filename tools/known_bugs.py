"""Re-plant the nine bugs of issue 14's audit, one at a time, and check a test catches each.

Each bug is a one-line edit of the core applied to a scratch copy of the repository; the
tests that run in CI WITHOUT the shared data are run against that copy (``PHENOTYPING_DATA``
points nowhere, so real-data tests skip and cannot be what catches the bug). A bug is
"killed" when pytest fails. The unmodified copy must pass first.

Usage: ``.venv/bin/python tools/known_bugs.py [--survivors] [--only PATH-PART]`` (about 1-2
minutes; prints a table, exits 1 if any bug survives). ``--survivors`` re-plants instead the
non-equivalent mutants that survived the mutation runs, for which tests were added
afterwards; ``--only`` keeps the bugs of the files whose path contains PATH-PART.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bug:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    occurrence: int = 1  # which occurrence of ``old`` to replace (1 = first)


FEATURES = ("tests/features",)
EVENTS = ("tests/test_events.py", "tests/test_events_rules.py")
# The audit's "two-domain alert window of 8 days" bug lived in the risk engine that issue 10
# replaced (merged 2026-11-28 08:48): the new engine has no such window, so it is not planted.

BUGS = (
    Bug(
        "7-day rolling window computed over 6 days",
        "phenotyping/features/day.py",
        "first = d - w + 1",
        "first = d - w + 2",
        FEATURES,
    ),
    Bug(
        "sleep-midpoint window of 8 nights",
        "phenotyping/features/day.py",
        'keep = self.midpoints["date"] > d - p.window_days',
        'keep = self.midpoints["date"] >= d - p.window_days',
        FEATURES,
    ),
    Bug(
        "hrv_valid ignores the edited-beat fraction",
        "phenotyping/features/day.py",
        'and hrv_row["night_fraction_edited"] <= p.max_night_edited',
        "and True",
        FEATURES,
    ),
    Bug(
        "sedentary minutes include sleep",
        "phenotyping/features/activity.py",
        "awake = worn if asleep is None else worn & ~asleep",
        "awake = worn",
        FEATURES,
    ),
    Bug(
        "noise-floor boundary <= -> <",
        "phenotyping/features/activity.py",
        "(x <= noise_floor)",
        "(x < noise_floor)",
        FEATURES,
    ),
    Bug(
        "episode-over-24-h rule removed",
        "phenotyping/events.py",
        "if minutes > 1440:",
        "if False:",
        EVENTS,
    ),
    Bug(
        "stages-coverage rule removed",
        "phenotyping/events.py",
        "if abs(covered - minutes * 60) > self.stages.epoch_s:",
        "if False:",
        EVENTS,
    ),
    Bug(
        "MAX_SPAN rule removed",
        "phenotyping/events.py",
        "if last - first > MAX_SPAN:",
        "if False:",
        EVENTS,
    ),
)


ACTIVITY_TESTS = ("tests/features/test_activity.py",)
PIPELINE_TESTS = ("tests/test_pipeline_steps.py",)
DAY_TESTS = ("tests/features/test_day_values.py",)
FEATURE_TESTS = ("tests/features/test_features_mutants.py",)
RISK_TESTS = ("tests/risk/test_risk_mutants.py",)
ENGINE_TESTS = ("tests/risk/test_engine_hand_worked.py",)

#: Surviving mutants of the cosmic-ray runs (tools/mutation.sh) that were NOT equivalent:
#: a test was added for each; ``--survivors`` re-plants them to show that test now fails.
SURVIVORS = (
    Bug(
        "wear_mask default run 120 -> 121",
        "phenotyping/features/activity.py",
        "min_run: int = 120",
        "min_run: int = 121",
        ACTIVITY_TESTS,
    ),
    Bug(
        "wear_mask default run 120 -> 119",
        "phenotyping/features/activity.py",
        "min_run: int = 120",
        "min_run: int = 119",
        ACTIVITY_TESTS,
    ),
    Bug(
        "noise-floor run starts above 1 count",
        "phenotyping/features/activity.py",
        "(x > 0) & (x <= noise_floor)",
        "(x > 1) & (x <= noise_floor)",
        ACTIVITY_TESTS,
    ),
    Bug(
        "no-window index 1 instead of -1",
        "phenotyping/features/activity.py",
        'return float("nan"), -1',
        'return float("nan"), 1',
        ACTIVITY_TESTS,
    ),
    Bug(
        "window needs MORE than half worn",
        "phenotyping/features/activity.py",
        "enough = n >= 0.5 * width",
        "enough = n > 0.5 * width",
        ACTIVITY_TESTS,
    ),
    Bug(
        "M10 starting at minute 0 reported as none",
        "phenotyping/features/activity.py",
        "if i10 >= 0 else -1",
        "if i10 > 0 else -1",
        ACTIVITY_TESTS,
    ),
    Bug(
        "M10 starting at minute 0 reported as none (>= 1)",
        "phenotyping/features/activity.py",
        "if i10 >= 0 else -1",
        "if i10 >= 1 else -1",
        ACTIVITY_TESTS,
    ),
    Bug(
        "a day exactly as long as the window has none",
        "phenotyping/features/activity.py",
        "if len(cs) - 1 < width:",
        "if len(cs) - 1 <= width:",
        ACTIVITY_TESTS,
    ),
    Bug(
        "a day exactly as long as the window has none (==)",
        "phenotyping/features/activity.py",
        "if len(cs) - 1 < width:",
        "if len(cs) - 1 == width:",
        ACTIVITY_TESTS,
    ),
    Bug(
        "single-minute flat run never marked",
        "phenotyping/features/activity.py",
        "    if n == 0:\n        return np.zeros(0, bool)\n    same",
        "    if n == 1:\n        return np.zeros(0, bool)\n    same",
        ACTIVITY_TESTS,
    ),
    Bug(
        "single-minute run of a mask never marked",
        "phenotyping/features/activity.py",
        "    if n == 0:\n        return np.zeros(0, bool)\n    change",
        "    if n == 1:\n        return np.zeros(0, bool)\n    change",
        ACTIVITY_TESTS,
    ),
    Bug(
        "only runs of exactly min_run marked",
        "phenotyping/features/activity.py",
        "[run_id] >= min_run))",
        "[run_id] == min_run))",
        ACTIVITY_TESTS,
    ),
    Bug(
        "empty day coverage -1",
        "phenotyping/features/activity.py",
        "if n_day else 0.0",
        "if n_day else -1.0",
        ACTIVITY_TESTS,
    ),
    Bug(
        "state magic compared with > instead of !=",
        "phenotyping/pipeline.py",
        "if magic != _MAGIC:",
        "if magic > _MAGIC:",
        PIPELINE_TESTS,
    ),
    Bug(
        "state version 0 accepted",
        "phenotyping/pipeline.py",
        "if version != _VERSION or n != 2:",
        "if version > _VERSION or n != 2:",
        PIPELINE_TESTS,
    ),
    Bug(
        "state with 3 parts accepted",
        "phenotyping/pipeline.py",
        "if version != _VERSION or n != 2:",
        "if version != _VERSION or n < 2:",
        PIPELINE_TESTS,
    ),
    Bug(
        "state with 1 part accepted",
        "phenotyping/pipeline.py",
        "if version != _VERSION or n != 2:",
        "if version != _VERSION or n > 2:",
        PIPELINE_TESTS,
    ),
    Bug(
        "state version constant 0",
        "phenotyping/pipeline.py",
        "_VERSION = 1",
        "_VERSION = 0",
        PIPELINE_TESTS,
    ),
    Bug(
        "messages not frozen",
        "phenotyping/events.py",
        "frozen=True, str_strip_whitespace=True",
        "frozen=False, str_strip_whitespace=True",
        EVENTS,
    ),
    Bug(
        "whitespace not stripped",
        "phenotyping/events.py",
        "frozen=True, str_strip_whitespace=True",
        "frozen=True, str_strip_whitespace=False",
        EVENTS,
    ),
    Bug(
        "only counts longer than steps rejected",
        "phenotyping/events.py",
        "if len(self.counts) != len(self.steps):",
        "if len(self.counts) > len(self.steps):",
        EVENTS,
    ),
    Bug(
        "episode minutes floored",
        "phenotyping/events.py",
        "minutes = (self.end - self.start).total_seconds() / 60",
        "minutes = (self.end - self.start).total_seconds() // 60",
        EVENTS,
    ),
    # second round (2026-11-28, tools/mutation.sh with MUTATION_SAMPLE): features/day.py
    Bug(
        "summary for the day just closed applied, not late",
        "phenotyping/features/day.py",
        "        if d <= self.closed_through:\n            self.late += 1\n            return\n"
        "        new = ",
        "        if d < self.closed_through:\n            self.late += 1\n            return\n"
        "        new = ",
        DAY_TESTS,
    ),
    Bug(
        "summaries of every open day counted late",
        "phenotyping/features/day.py",
        "        if d <= self.closed_through:\n            self.late += 1\n            return\n"
        "        new = ",
        "        if d >= self.closed_through:\n            self.late += 1\n            return\n"
        "        new = ",
        DAY_TESTS,
    ),
    Bug(
        "empty-window test looks at no past day",
        "phenotyping/features/day.py",
        # (the day-close kernels merged at 14:45 moved this line; same mutant, new line)
        "a, b = at[d - self.params.window_days], at[d + 1]",
        "a, b = at[d ** self.params.window_days], at[d + 1]",
        DAY_TESTS,
    ),
    Bug(
        "first day padded from the second minute's clock",
        "phenotyping/features/day.py",
        "head = int(local[0] % MINUTES_PER_DAY)",
        "head = int(local[1] % MINUTES_PER_DAY)",
        DAY_TESTS,
    ),
    Bug(
        "night coverage multiplied instead of divided",
        "phenotyping/features/day.py",
        "night_cov = r[kn.R_NIGHT_WORN] / max(n_hi - n_lo, 1)",
        "night_cov = r[kn.R_NIGHT_WORN] * max(n_hi - n_lo, 1)",
        DAY_TESTS,
    ),
    Bug(
        "processing time placed with a missing offset",
        "phenotyping/features/day.py",
        "known = self.offset[self.offset != NO_OFFSET]",
        "known = self.offset[self.offset == NO_OFFSET]",
        DAY_TESTS,
    ),
    Bug(
        "sample variance needs three values",
        "phenotyping/features/circadian.py",
        '    if v.size < 2:\n        return float("nan")',
        '    if v.size < 3:\n        return float("nan")',
        FEATURE_TESTS,
    ),
    Bug(
        "no qualifying window reported as start 1",
        "phenotyping/features/circadian.py",
        "    if p.size == 0 or not 0 < window_minutes <= p.size:\n        return -1,",
        "    if p.size == 0 or not 0 < window_minutes <= p.size:\n        return 1,",
        FEATURE_TESTS,
    ),
    Bug(
        "unqualified windows score +inf for the most active",
        "phenotyping/features/circadian.py",
        "fill = np.inf if lowest else -np.inf",
        "fill = np.inf if lowest else +np.inf",
        FEATURE_TESTS,
    ),
    Bug(
        "M10 starting at minute 0 reported as none (rolling parts)",
        "phenotyping/features/circadian.py",
        '"M10_start_minute": float(hi_start) if hi_start >= 0 else',
        '"M10_start_minute": float(hi_start) if hi_start > 0 else',
        FEATURE_TESTS,
        occurrence=2,  # the one of day_rows_summary
    ),
    Bug(
        "main sleep period refuses max_gap 0",
        "phenotyping/features/sleep.py",
        "if min_bout < 1 or max_gap < 0:",
        "if min_bout < 1 or max_gap < 1:",
        FEATURE_TESTS,
    ),
    Bug(
        "in-bed window may not start at epoch 0",
        "phenotyping/features/sleep.py",
        "if not 0 <= a < b <= n:",
        "if not 0 < a < b <= n:",
        FEATURE_TESTS,
    ),
    Bug(
        "rounded negative variance not clamped to 0",
        "phenotyping/features/hrv.py",
        "ss = np.maximum(s2 - _div(s1 * s1, n), 0.0)",
        "ss = np.maximum(s2 - _div(s1 * s1, n), -1.0)",
        FEATURE_TESTS,
    ),
    Bug(
        "variance clamped to at least 1",
        "phenotyping/features/hrv.py",
        "ss = np.maximum(s2 - _div(s1 * s1, n), 0.0)",
        "ss = np.maximum(s2 - _div(s1 * s1, n), 1.0)",
        FEATURE_TESTS,
    ),
    Bug(
        "state size limit below the documented 64 MB",
        "phenotyping/features/envelope.py",
        "MAX_STATE_BYTES = 64 * 1024 * 1024",
        "MAX_STATE_BYTES = 64 * 1024 * 1023",
        FEATURE_TESTS,
    ),
    Bug(
        "state size limit above the documented 64 MB",
        "phenotyping/features/envelope.py",
        "MAX_STATE_BYTES = 64 * 1024 * 1024",
        "MAX_STATE_BYTES = 64 * 1025 * 1024",
        FEATURE_TESTS,
    ),
    Bug(
        "a magic that sorts below is accepted",
        "phenotyping/features/envelope.py",
        "data[: len(magic)] != magic",
        "data[: len(magic)] > magic",
        FEATURE_TESTS,
    ),
    Bug(
        "3-byte payload not named",
        "phenotyping/features/envelope.py",
        "if len(payload) < 4:",
        "if len(payload) < 3:",
        FEATURE_TESTS,
    ),
    Bug(
        "array length -1 accepted",
        "phenotyping/features/envelope.py",
        "n < 0 or pos",
        "n < -1 or pos",
        FEATURE_TESTS,
    ),
    Bug(
        "episode start not capped at 14 days back",
        "phenotyping/risk/engine.py",
        "self.episode_start = max(min([*runs, d]), d - 14)",
        "self.episode_start = max(min([*runs, d]), d / 14)",
        RISK_TESTS,
    ),
    Bug(
        "clock angle shifted instead of scaled",
        "phenotyping/risk/stats.py",
        "ang = 2 * np.pi * values / MINUTES_PER_DAY",
        "ang = 2 * np.pi * values - MINUTES_PER_DAY",
        RISK_TESTS,
    ),
    Bug(
        "circular mean angle back to minutes shifted",
        "phenotyping/risk/stats.py",
        "math.atan2(s, c) * MINUTES_PER_DAY / (2 * np.pi)",
        "math.atan2(s, c) * MINUTES_PER_DAY + (2 * np.pi)",
        RISK_TESTS,
    ),
    Bug(
        "negative CUSUM threshold allowed",
        "phenotyping/risk/stats.py",
        "lo, hi = 0.0, 100.0",
        "lo, hi = -1.0, 100.0",
        RISK_TESTS,
    ),
    Bug(
        "night heart rate explained in days",
        "phenotyping/risk/monitor.py",
        "            min_scale=1.5,\n            nights=True,",
        "            min_scale=1.5,\n            nights=False,",
        RISK_TESTS,
    ),
    Bug(
        "sleep midpoint compared on a line, not the clock circle",
        "phenotyping/risk/monitor.py",
        "            circular=True,\n            min_scale=20.0,\n            nights=True,\n"
        '            signal="phase",',
        "            circular=False,\n            min_scale=20.0,\n            nights=True,\n"
        '            signal="phase",',
        RISK_TESTS,
    ),
    Bug(
        "RA floor as large as its range",
        "phenotyping/risk/monitor.py",
        "            min_scale=0.02,",
        "            min_scale=1.02,",
        RISK_TESTS,
    ),
    Bug(
        "sleep regularity never feeds its signal",
        "phenotyping/risk/change.py",
        'members("sleep_regularity", 1)',
        'members("sleep_regularity", 0)',
        RISK_TESTS,
    ),
    Bug(
        "four domains not high",
        "phenotyping/risk/policy.py",
        "(e >= 1 and n_domains >= 3)",
        "(e >= 1 and n_domains == 3)",
        RISK_TESTS,
    ),
    Bug(
        "three weak domains high",
        "phenotyping/risk/policy.py",
        "(e >= 1 and n_domains >= 3)",
        "(e >= 0 and n_domains >= 3)",
        RISK_TESTS,
    ),
    Bug(
        "clause with one missing number worded with a direction",
        "phenotyping/risk/wording.py",
        "if math.isfinite(mean) and math.isfinite(med):",
        "if math.isfinite(mean) or math.isfinite(med):",
        RISK_TESTS,
    ),
    Bug(
        "alert numbers with five decimals",
        "phenotyping/risk/wording.py",
        "return round(f, 4) if",
        "return round(f, 5) if",
        RISK_TESTS,
    ),
    Bug(
        "alert numbers with three decimals",
        "phenotyping/risk/wording.py",
        "return round(f, 4) if",
        "return round(f, 3) if",
        RISK_TESTS,
    ),
    Bug(
        "four contributions worded",
        "phenotyping/risk/wording.py",
        "key=lambda t: -t[0])[:3]",
        "key=lambda t: -t[0])[:4]",
        RISK_TESTS,
    ),
    # Third round (12:00 UTC, merged code): the 11 non-equivalent survivors of
    # risk/engine.py, killed by tests/risk/test_engine_hand_worked.py (fourth round).
    Bug(
        "risk state written as version 1",
        "phenotyping/risk/engine.py",
        "_VERSION = 2",
        "_VERSION = 1",
        ENGINE_TESTS,
    ),
    Bug(
        "contacted_fine without an episode covers only active signals",
        "phenotyping/risk/engine.py",
        "if ep_start < 0 or not pattern:",
        "if ep_start < -1 or not pattern:",
        ENGINE_TESTS,
    ),
    Bug(
        "deteriorating ends a device re-anchoring too",
        "phenotyping/risk/engine.py",
        'if self.excl_mode == "exclude" and self.excl_until >= date:',
        'if self.excl_mode >= "exclude" and self.excl_until >= date:',
        ENGINE_TESTS,
    ),
    Bug(
        "new baseline leaves out its first day",
        "phenotyping/risk/engine.py",
        "mine = self._elig & (date >= self.baseline_from)",
        "mine = self._elig & (date > self.baseline_from)",
        ENGINE_TESTS,
    ),
    Bug(
        "explained period leaves out one day too many",
        "phenotyping/risk/engine.py",
        "(date <= end + self._layout.window[:, None] - 1)",
        "(date <= end + self._layout.window[:, None] // 1)",
        ENGINE_TESTS,
    ),
    Bug(
        "days without data count as back to usual",
        "phenotyping/risk/engine.py",
        "float(ewma[j]) if j in scored else math.nan for j in mine",
        "float(ewma[j]) for j in mine",
        ENGINE_TESTS,
    ),
    Bug(
        "fine allowance renewed by a later episode",
        "phenotyping/risk/engine.py",
        "self.fine_episode >= 0 and self.fine_episode == self.episode_start",
        "self.fine_episode >= 0 and self.fine_episode <= self.episode_start",
        ENGINE_TESTS,
    ),
    Bug(
        "washout never ends",
        "phenotyping/risk/engine.py",
        "else d + p.washout_days",
        "else d ** p.washout_days",
        ENGINE_TESTS,
    ),
    Bug(
        "resolved alert reports today's level",
        "phenotyping/risk/engine.py",
        'LEVELS[level] if kind != "resolved"',
        'LEVELS[level] if not kind != "resolved"',
        ENGINE_TESTS,
    ),
    Bug(
        "note-only feedback named outside its week",
        "phenotyping/risk/engine.py",
        'if (\n            self.feedback_reason in ("contacted_deteriorating", "other")',
        'if not (\n            self.feedback_reason in ("contacted_deteriorating", "other")',
        ENGINE_TESTS,
    ),
    Bug(
        "valid days: & -> |",
        "phenotyping/risk/engine.py",
        "(self._dates > d - 7) & (self._dates <= d)",  # (after perf-risk's vectorisation)
        "(self._dates > d - 7) | (self._dates <= d)",
        ENGINE_TESTS,
    ),
    Bug(
        "valid days leave out the alert day",
        "phenotyping/risk/engine.py",
        "(self._dates > d - 7) & (self._dates <= d)",
        "(self._dates > d - 7) & (self._dates < d)",
        ENGINE_TESTS,
    ),
    # Fourth round: the non-equivalent survivors of a fresh sample of 40 engine.py mutants
    # (seed 1128), killed by the tests added to tests/risk/test_engine_hand_worked.py.
    Bug(
        "risk score always 0",
        "phenotyping/risk/engine.py",
        "risk_score=round(min(1.0, e / (2 * factor)), 4)",
        "risk_score=round(min(0.0, e / (2 * factor)), 4)",
        ENGINE_TESTS,
    ),
    Bug(
        "k_sleep_long on every signal but sleep_long",
        "phenotyping/risk/engine.py",
        'k = p.k_sleep_long if sg.name == "sleep_long" else p.k',
        'k = p.k_sleep_long if not sg.name == "sleep_long" else p.k',
        ENGINE_TESTS,
    ),
    Bug(
        "re-anchored 7-day feature held on one day only",
        "phenotyping/risk/engine.py",
        "(d >= self.excl_from) & (d - w + 1 < self.excl_from)",
        "(d >= self.excl_from) & (d - w + 1 == self.excl_from)",
        ENGINE_TESTS,
    ),
    Bug(
        "re-anchored multi-day feature held for good",
        "phenotyping/risk/engine.py",
        "(d >= self.excl_from) & (d - w + 1 < self.excl_from)",
        "(d >= self.excl_from) & (d / w + 1 < self.excl_from)",
        ENGINE_TESTS,
    ),
    Bug(
        "signal at the floor opens the episode too",
        "phenotyping/risk/engine.py",
        'if self.sig["c"][j] > p.floor]\n                runs',
        'if self.sig["c"][j] >= p.floor]\n                runs',
        ENGINE_TESTS,
    ),
    Bug(
        "alert describes at-floor signals, not joined ones",
        "phenotyping/risk/engine.py",
        "if c <= p.floor and not (self.episode_signals >> j & 1):",
        "if c != p.floor and not (self.episode_signals >> j & 1):",
        ENGINE_TESTS,
    ),
    Bug(
        "explained period named 13 days after it",
        "phenotyping/risk/engine.py",
        "self.excl_from <= d <= self.excl_until + 14:",
        "self.excl_from <= d <= self.excl_until + 13:",
        ENGINE_TESTS,
    ),
    Bug(
        "fine allowance not named during it",
        "phenotyping/risk/engine.py",
        "if self.fine_from <= d <= self.fine_until:\n            doms",
        "if self.fine_from > d <= self.fine_until:\n            doms",
        ENGINE_TESTS,
    ),
    Bug(
        "signal strength floored",
        "phenotyping/risk/engine.py",
        "strength = round(c / p.h_single, 3)",
        "strength = round(c // p.h_single, 3)",
        ENGINE_TESTS,
    ),
    Bug(
        "least/most active window accepts a negative width",
        "phenotyping/features/circadian.py",
        "not 0 < window_minutes <= p.size",
        "not 0 != window_minutes <= p.size",
        FEATURE_TESTS,
    ),
    Bug(
        "state cut inside its version passes the magic check",
        "phenotyping/features/envelope.py",
        "if len(data) < len(magic) + 2 or",
        "if len(data) == len(magic) + 2 or",
        FEATURE_TESTS,
    ),
    Bug(
        "array bound check subtracts",
        "phenotyping/features/envelope.py",
        "pos + dt.itemsize * n > len(payload)",
        "pos - dt.itemsize * n > len(payload)",
        FEATURE_TESTS,
    ),
    Bug(
        "unknown array name cut at 39 characters",
        "phenotyping/features/envelope.py",
        "unknown array {name[:40]!r}",
        "unknown array {name[:39]!r}",
        FEATURE_TESTS,
    ),
    Bug(
        "bad interval index found with > 1",
        "phenotyping/features/hrv.py",
        "bad = int(np.flatnonzero(~(np.isfinite(rr) & (rr > 0)))[0])",
        "bad = int(np.flatnonzero(~(np.isfinite(rr) & (rr > 1)))[0])",
        FEATURE_TESTS,
    ),
    Bug(
        "processing time placed with the offset before the last",
        "phenotyping/features/day.py",
        "off = int(known[-1])",
        "off = int(known[-2])",
        DAY_TESTS,
    ),
    # ... and of the engine stratum of the fourth round's stratified sample (seed 4114)
    Bug(
        "deteriorating on an allowance's last day leaves it",
        "phenotyping/risk/engine.py",
        "if self.fine_until >= date:",
        "if self.fine_until > date:",
        ENGINE_TESTS,
    ),
    Bug(
        "risk_data inverted",
        "phenotyping/risk/engine.py",
        'risk_data="ok" if self.days_unusable',
        'risk_data="ok" if not self.days_unusable',
        ENGINE_TESTS,
    ),
    Bug(
        "no smoothed score at all: a crash",
        "phenotyping/risk/engine.py",
        "elif back is False or level >= 2:",
        "elif back <= False or level >= 2:",
        ENGINE_TESTS,
    ),
    Bug(
        "old state with deteriorating feedback gets an allowance",
        "phenotyping/risk/engine.py",
        'elif fresh and state.feedback_reason == "contacted_fine":',
        'elif fresh and state.feedback_reason <= "contacted_fine":',
        ENGINE_TESTS,
    ),
    Bug(
        "log transform clamps at 1",
        "phenotyping/risk/baseline.py",
        "np.log1p(np.maximum(v, 0.0))",
        "np.log1p(np.maximum(v, 1.0))",
        ENGINE_TESTS + ("tests/risk/test_engine_table.py",),
    ),
    Bug(
        "day-type medians without enough days of the other type",
        "phenotyping/risk/baseline.py",
        "and (~same).sum() >= m",
        "and (same).sum() >= m",
        ENGINE_TESTS + ("tests/risk/test_engine_table.py",),
    ),
    Bug(
        "early phase averages both clocks",
        "phenotyping/risk/change.py",
        'members("phase", -1), first_only=True',
        'members("phase", -1), first_only=False',
        ENGINE_TESTS,
    ),
    Bug(
        "rhythm indices without direction",
        "phenotyping/risk/change.py",
        'Signal("rhythm", "circadian", members("rhythm", 1))',
        'Signal("rhythm", "circadian", members("rhythm", 0))',
        ENGINE_TESTS,
    ),
    Bug(
        "band boundary inclusive",
        "phenotyping/risk/policy.py",
        "return all(v < band_z for v in seen)",
        "return all(v <= band_z for v in seen)",
        ENGINE_TESTS,
    ),
    Bug(
        "two intervals without a reference",
        "phenotyping/features/hrv.py",
        "    if n < 2:\n        return np.full(n, -1",
        "    if n <= 2:\n        return np.full(n, -1",
        FEATURE_TESTS,
    ),
    Bug(
        "resolved alert worded as a deviation",
        "phenotyping/risk/wording.py",
        'if kind == "resolved":',
        'if kind > "resolved":',
        ENGINE_TESTS,
    ),
    Bug(
        "negative response drop accepted",
        "phenotyping/risk/params.py",
        '("response_phq9_drop", lambda v, _p: 0 < v < 1,',
        '("response_phq9_drop", lambda v, _p: 0 != v < 1,',
        ("tests/risk/test_params.py",),
    ),
    Bug(
        "summary-only day left without its offset",
        "phenotyping/features/day.py",
        "part = self.offset[lo - self.base : lo - self.base + MINUTES_PER_DAY]",
        "part = self.offset[lo - self.base : lo - self.base ** MINUTES_PER_DAY]",
        DAY_TESTS,
    ),
    Bug(
        "LATEST a day later",
        "phenotyping/events.py",
        "LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)",
        "LATEST = dt.datetime(2200, 1, 2, tzinfo=dt.UTC)",
        EVENTS,
    ),
    Bug(
        "PMSys sleep quality 5 refused",
        "phenotyping/events.py",
        '"pmsys_sleep_quality_1_5": (1, 5),',
        '"pmsys_sleep_quality_1_5": (1, 4),',
        EVENTS,
    ),
    Bug(
        "sleep stages not frozen",
        "phenotyping/events.py",
        'model_config = ConfigDict(extra="forbid", frozen=True)\n    epoch_s',
        'model_config = ConfigDict(extra="forbid", frozen=False)\n    epoch_s',
        EVENTS,
    ),
    Bug(
        "idle_for never moves event time",
        "phenotyping/pipeline.py",
        "if days.base < 0 or days.watermark_local",
        "if days.base >= 0 or days.watermark_local",
        PIPELINE_TESTS,
    ),
    # ... and of the final stratified sample (seed 2611)
    Bug(
        "a MADRS taken as the pre-course PHQ-9",
        "phenotyping/risk/engine.py",
        'if self.report_instrument == "PHQ-9":',
        'if self.report_instrument <= "PHQ-9":',
        ENGINE_TESTS,
    ),
    Bug(
        "acknowledged episode chosen the wrong way round",
        "phenotyping/risk/engine.py",
        "(self.last_episode_start if recent else -1)",
        "(self.last_episode_start if not recent else -1)",
        ENGINE_TESTS,
    ),
    Bug(
        "day-type deviations of clock times not wrapped",
        "phenotyping/risk/baseline.py",
        "if circular else d",
        "if not circular else d",
        ENGINE_TESTS + ("tests/risk/test_engine_table.py",),
    ),
    Bug(
        "HRV arrays of a state may differ in length",
        "phenotyping/pipeline.py",
        "if not len(d.hrv_burst) == len(d.hrv_bin)",
        "if not len(d.hrv_burst) <= len(d.hrv_bin)",
        PIPELINE_TESTS,
    ),
    Bug(
        "feedback until a year late",
        "phenotyping/pipeline.py",
        "int((until - dt.date(1970, 1, 1)).days)",
        "int((until - dt.date(1969, 1, 1)).days)",
        PIPELINE_TESTS,
    ),
    Bug(
        "behind-window message names the next day",
        "phenotyping/pipeline.py",
        'days before this "\n            f"subject\'s latest data ({iso_date((ref - 1) // _DAY)})',
        'days before this "\n            f"subject\'s latest data ({iso_date((ref + 1) // _DAY)})',
        PIPELINE_TESTS,
    ),
)


def scratch_copy(dst: Path) -> None:
    ignore = shutil.ignore_patterns(
        ".venv",
        ".git",
        "artifacts",
        "mutants",
        "__pycache__",
        "*.egg-info",
        ".mypy_cache",
        ".ruff_cache",
    )
    for name in ("phenotyping", "tests", "schemas", "deploy"):
        shutil.copytree(REPO / name, dst / name, ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy2(REPO / name, dst / name)


def plant(root: Path, bug: Bug) -> None:
    path = root / bug.path
    text = path.read_text()
    at = -1
    for _ in range(bug.occurrence):
        at = text.index(bug.old, at + 1)  # ValueError: the code moved, update this table
    path.write_text(text[:at] + bug.new + text[at + len(bug.old) :])


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHENOTYPING_")}
    env["PHENOTYPING_DATA"] = str(root / "no-shared-data")
    env["PYTHONPATH"] = str(root)
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-m",
            "not kafka and not browser",
            *tests,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    return proc.returncode, time.monotonic() - t0, failed[0] if failed else proc.stdout[-200:]


def main() -> int:
    args = sys.argv[1:]
    bugs = SURVIVORS if "--survivors" in args else BUGS
    if "--only" in args:  # e.g. --only features/day.py: the mutants of one module
        only = args[args.index("--only") + 1]
        bugs = tuple(b for b in bugs if only in b.path)
    survived = 0
    with tempfile.TemporaryDirectory(prefix="known-bugs-") as tmp:
        clean = Path(tmp) / "clean"
        scratch_copy(clean)
        probe = subprocess.run(
            [sys.executable, "-c", "import phenotyping; print(phenotyping.__file__)"],
            cwd=clean,
            env={**os.environ, "PYTHONPATH": str(clean)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not probe.startswith(str(clean)):
            print(f"scratch copy not imported (got {probe})", file=sys.stderr)
            return 2
        all_tests = tuple(sorted({t for b in bugs for t in b.tests}))
        rc, secs, tail = run_tests(clean, all_tests)
        if rc != 0:
            print(f"the unmodified copy fails its tests (rc={rc}): {tail}", file=sys.stderr)
            return 2
        print(f"baseline: {' '.join(all_tests)} pass ({secs:.0f} s)\n")
        print(f"| {'bug':48} | {'where':34} | result | first failing test")
        print(f"|{'-' * 50}|{'-' * 36}|--------|-------------------")
        for i, bug in enumerate(bugs):
            root = Path(tmp) / f"bug{i}"
            scratch_copy(root)
            try:
                plant(root, bug)
            except ValueError:  # the code moved: say so (and fail), do not call it killed
                survived += 1
                print(f"| {bug.name:48} | {bug.path:34} | NOT PLANTED | code not found", flush=True)
                shutil.rmtree(root)
                continue
            rc, secs, first = run_tests(root, bug.tests)
            killed = rc == 1
            survived += not killed
            verdict = "KILLED" if killed else f"SURVIVED (rc={rc})"
            print(
                f"| {bug.name:48} | {bug.path:34} | {verdict} | {first} ({secs:.0f} s)", flush=True
            )
            shutil.rmtree(root)
    print(f"\n{len(bugs) - survived} of {len(bugs)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
