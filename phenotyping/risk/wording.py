"""Alert wording: the contributing features and the sentence a clinician reads."""

from __future__ import annotations

import math
from typing import Any

from phenotyping.risk.monitor import Monitored, change_clause

FEEDBACK_TEXT = {
    "contacted_fine": "clinician contact found the patient well",
    "holiday_travel": "holiday or travel reported",
    "illness": "physical illness reported",
    "device_problem": "device problem reported",
    "contacted_deteriorating": "clinician contact found deterioration",
    "other": "clinician feedback recorded",
}


def explanation(
    found: list[tuple[float, Monitored, float, float, float, int]],
    kind: str,
    *,
    after_response: bool,
    close_after_days: int,
    feedback: str | None = None,
) -> str:
    """The alert's sentence from the strongest three contributions
    ``(strength, spec, mean_since_onset, usual, delta, days)``.

    Examples
    --------
    >>> from phenotyping.risk.monitor import MONITORED
    >>> explanation([(2.0, MONITORED[0], 124.0, 200.0, -76.0, 6)], "opened",
    ...             after_response=True, close_after_days=3)
    'Deterioration after response: daily activity 38% below usual for 6 days'
    """
    clauses = []
    for _, spec, mean, med, delta, days in sorted(found, key=lambda t: -t[0])[:3]:
        if math.isfinite(mean) and math.isfinite(med):
            clauses.append(change_clause(spec, mean, med, delta, days))
        else:
            clauses.append(f"{spec.label} away from usual")
    text = "; ".join(clauses) if clauses else "deviations resolved"
    text = text[0].upper() + text[1:]
    if kind == "resolved":
        text = f"Resolved: back within the usual range for {close_after_days} days"
    elif after_response:
        text = f"Deterioration after response: {text[0].lower()}{text[1:]}"
    if feedback:
        text += f" (note: {FEEDBACK_TEXT.get(feedback, feedback)})"
    return text


def num(v: Any) -> float | None:
    """JSON-safe rounded number (None for missing/NaN)."""
    if v is None:
        return None
    f = float(v)
    return round(f, 4) if math.isfinite(f) else None
