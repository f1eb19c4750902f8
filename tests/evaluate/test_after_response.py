"""phenotyping.evaluate.remission on hand-built rows: the clinical events reach the engine
through pipeline.step and change what it sees (worked out as in tests/risk/test_policy)."""

from __future__ import annotations

from phenotyping.evaluate.remission import events_for, run_after_response
from phenotyping.evaluate.runner import ONSET
from phenotyping.risk.engine import RiskParams
from tests.risk.test_policy import SMALL, day_no, row, usual_rows


def test_a_relapse_right_after_a_response_is_seen_only_with_the_remission_days() -> None:
    # 420 min until the onset (day 42), 360 after (z = -3 against 420, u = 3). Response on
    # day 40 (lag 2). Prior off: without remission days 10 own days from day 40 are needed,
    # eight of them the relapse -- never alerted. With days 12-39 marked, they are the
    # baseline: C = 2.5 on day 42, 5.0 on day 43 -> detection day 2.
    rows = usual_rows(ONSET) + [row(i, sleep_tst_min=360.0) for i in range(ONSET, 63)]
    params = RiskParams(**SMALL)  # type: ignore[arg-type]
    args = (rows, params, "p-01", day_no(0))
    assert run_after_response(*args, variant="prior", lag=2)[0] is None
    detected, episodes, assessable = run_after_response(*args, variant="remission", lag=2)
    assert (detected, episodes) == (2, 1)
    assert assessable == 63 - (ONSET - 2)  # judged from the response day on
    assert events_for("remission", 2)[0] == (ONSET - 2 - 28, "remission_period", ONSET - 3)
