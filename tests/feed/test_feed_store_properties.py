"""Property-based tests of the feed store (issue 11, item 6): whatever sequence of records
arrives on the feed's topics -- valid alerts, acks, notices and feature rows, schema-breaking
dicts, arbitrary JSON, arbitrary bytes, tombstones -- ``FeedStore.ingest`` never raises, the
store stays within its documented bounds, and its views keep their invariants (episode and
triage order, paging by ``seq``, no subject outside the caller's roster).

Fixed budget (``max_examples``, ``deadline=None``, derandomized): CI runs the same examples
every time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from feed_helpers import make_alert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.feed.store import FeedStore, Incoming
from phenotyping.feed.triage import triage_key, triage_order, triage_token
from phenotyping.risk.monitor import MONITORED

BUDGET = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: small bounds so that every eviction path runs within a few records
BOUNDS = {"max_alerts": 6, "max_subjects": 3, "history_days": 5, "max_changes": 12}
SUBJECTS = ["s-1", "s-2", "s-3", "s-4", "s-5"]
ROSTER = {"s-1", "s-3"}  # one clinician's patients
DAY0 = dt.date(2024, 3, 1)

days = st.integers(0, 20).map(lambda n: (DAY0 + dt.timedelta(days=n)).isoformat())
subjects = st.sampled_from(SUBJECTS)
junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def alert_docs(draw: st.DrawFn) -> dict[str, Any]:
    subject, start = draw(subjects), draw(days)
    kind = draw(st.sampled_from(["opened", "escalated", "resolved"]))
    date = draw(days)
    a = make_alert(
        subject,
        kind,
        date,
        start,
        draw(st.sampled_from(["watch", "elevated", "high"])),
        alert_id=f"{subject}-{start}-{kind}-{date}",
    )
    # near-equal scores too: the triage token keeps four decimals
    a["score"] = draw(st.sampled_from([0.5, 0.50001, 0.500049, 0.49996]) | st.floats(0, 1))
    return a


@st.composite
def ack_docs(draw: st.DrawFn) -> dict[str, Any]:
    a = draw(alert_docs())
    return {
        "type": "ack",
        "version": 1,
        "ack_id": uuid.UUID(int=draw(st.integers(0, 2**20))).hex,
        "alert_id": a["alert_id"],
        "subject_id": a["subject_id"],
        "alert_kind": a["kind"],
        "alert_date": a["date"],
        "clinician_id": "dr-a",
        "at": "2024-03-05T10:00:00+00:00",
        "via": draw(st.sampled_from(["web", "api"])),
        "reason": draw(st.sampled_from([None, "contacted_fine", "illness", "other"])),
        "note": draw(st.none() | st.text(max_size=30)),
    }


@st.composite
def notice_docs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "notice",
        "kind": draw(st.sampled_from(["data_gap", "late_data", "response_detected"])),
        "subject_id": draw(subjects),
        "date": draw(days),
        "gap_start": draw(st.none() | days),
        "days_without_data": draw(st.none() | st.integers(0, 30)),
    }


value = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**63), 2**63 - 1)
    | junk
)


@st.composite
def feature_docs(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"subject_id": draw(subjects), "date": draw(days)}
    for spec in draw(st.lists(st.sampled_from(MONITORED), max_size=3, unique=True)):
        row[spec.column] = draw(value)
        if spec.valid_flag:
            row[spec.valid_flag] = draw(st.booleans() | junk)
        row[f"base_{spec.column}"] = draw(value)
    row["valid"] = draw(st.booleans() | junk)
    row["coverage"] = draw(value)
    row["ctx_last_session"] = draw(st.none() | days | junk)
    row["ctx_self_report_score"] = draw(value)
    return row


def broken(doc: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The document with one field replaced by junk, or removed."""
    keys = sorted(doc)
    return st.tuples(st.sampled_from(keys), st.booleans(), junk).map(
        lambda t: {k: v for k, v in doc.items() if k != t[0]} if t[1] else {**doc, t[0]: t[2]}
    )


KINDS = ("alert", "ack", "notice", "features")
GOOD = {
    "alert": alert_docs(),
    "ack": ack_docs(),
    "notice": notice_docs(),
    "features": feature_docs(),
}


@st.composite
def records(draw: st.DrawFn) -> Incoming:
    kind = draw(st.sampled_from(KINDS))
    shape = draw(st.sampled_from(["valid", "valid", "valid", "broken", "json", "bytes", "none"]))
    if shape == "none":
        return Incoming(kind, None)
    if shape == "bytes":
        return Incoming(kind, draw(st.binary(max_size=64)))
    if shape == "json":
        return Incoming(kind, orjson.dumps(draw(junk), option=orjson.OPT_NON_STR_KEYS))
    doc = draw(GOOD[kind])
    if shape == "broken":
        doc = draw(broken(doc))
    return Incoming(kind, orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS))


def check_invariants(store: FeedStore) -> None:
    # documented bounds
    assert len(store._alerts) <= BOUNDS["max_alerts"]
    assert len(store._orphans) <= BOUNDS["max_alerts"]
    assert len(store._days) <= BOUNDS["max_subjects"]
    assert len(store._gaps) <= BOUNDS["max_subjects"]
    assert len(store._changes) <= BOUNDS["max_changes"]
    for have in store._days.values():
        assert not have or max(have) - min(have) < BOUNDS["history_days"]
    assert set(store._context) <= set(store._days)
    # every episode index entry points at a kept alert of that subject and start
    kept = {i for ids in store._episodes.values() for i in ids}
    assert kept == set(store._alerts)
    for (subject, start), ids in store._episodes.items():
        assert ids
        for i in ids:
            assert (store._alerts[i].alert.subject_id, store._alerts[i].alert.episode_start) == (
                subject,
                start,
            )
    # acknowledgement ids: exactly those of the kept acks (so they are bounded with them)
    held = [a.ack_id for e in store._alerts.values() for a in e.acks]
    held += [a.ack_id for acks in store._orphans.values() for a in acks]
    assert len(held) == len(set(held)) and set(held) == store._ack_ids
    # seq: the change log is ascending and ends at the store's seq; entries are in seq order
    seqs = [s for s, _ in store._changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert not seqs or seqs[-1] == store.seq
    entry_seqs = [e.seq for e in store._alerts.values()]
    assert entry_seqs == sorted(entry_seqs) and all(0 < s <= store.seq for s in entry_seqs)


def check_views(store: FeedStore) -> None:
    def visible(s: str) -> bool:
        return s in ROSTER

    eps = store.episodes(visible)
    # no leakage: every view of one roster holds only its subjects
    assert {e.subject_id for e in eps} <= ROSTER
    page, _more = store.entries_since(0, visible, limit=1000)
    assert {e.alert.subject_id for e in page} <= ROSTER
    assert [e.seq for e in page] == sorted(e.seq for e in page)
    assert page == [e for e in store._alerts.values() if visible(e.alert.subject_id)]
    for since in (0, max(0, store.seq - 3), store.seq):
        changed = store.changed_since(since, visible)
        assert changed is None or changed <= ROSTER
    # episodes: newest first; entries of one episode by date, then opened/escalated/resolved
    keys = [e.sort_key() for e in eps]
    assert keys == sorted(keys, reverse=True)
    order = {"opened": 0, "escalated": 1, "resolved": 2}
    for ep in eps:
        ek = [(x.alert.date, order[x.alert.kind], x.seq) for x in ep.entries]
        assert ek == sorted(ek)
        assert {(x.alert.subject_id, x.alert.episode_start) for x in ep.entries} == {
            (ep.subject_id, ep.start)
        }
        if any(x.alert.kind != "resolved" for x in ep.entries):
            assert ep.current.alert.kind != "resolved"
    # triage: one total order, and its string token sorts the same way (what browsers use)
    ranked = triage_order(eps)
    assert {e.key for e in ranked} == {e.key for e in eps if e.resolved is None}  # open ones
    assert [triage_key(e) for e in ranked] == sorted((triage_key(e) for e in ranked), reverse=True)
    tokens = [triage_token(e) for e in ranked]
    assert tokens == sorted(tokens, reverse=True)


@BUDGET
@given(st.lists(st.lists(records(), min_size=1, max_size=8), min_size=1, max_size=6))
def test_any_record_sequence_keeps_the_store_bounded_and_consistent(
    batches: list[list[Incoming]],
) -> None:
    store = FeedStore(**BOUNDS)
    for batch in batches:
        before = store.seq
        changed = store.ingest(batch)  # never raises: a bad record is counted
        assert changed <= set(SUBJECTS)
        assert store.seq - before >= len(changed)
        check_invariants(store)
    check_views(store)
    stats = store.stats()
    assert all(isinstance(v, int) for v in stats.values())  # numbers only: safe to log


@BUDGET
@given(st.lists(records(), min_size=1, max_size=30))
def test_a_bad_record_changes_nothing_and_is_counted(items: list[Incoming]) -> None:
    """Replaying the same records with every unusable one dropped gives the same store:
    whatever a bad record holds, it is only counted."""
    full = FeedStore(**BOUNDS)
    full.ingest(items)
    usable = []
    for item in items:
        probe = FeedStore(**BOUNDS)
        probe.ingest([item])
        if not any(k.startswith(("invalid_", "tombstone_")) for k in probe.counts):
            usable.append(item)
    clean = FeedStore(**BOUNDS)
    clean.ingest(usable)
    assert full.seq == clean.seq
    assert [(e.seq, e.alert, e.acks) for e in full._alerts.values()] == [
        (e.seq, e.alert, e.acks) for e in clean._alerts.values()
    ]
    bad = len(items) - len(usable)
    counted = sum(n for k, n in full.counts.items() if k.startswith(("invalid_", "tombstone_")))
    assert counted == bad


@BUDGET
@given(
    st.lists(
        st.tuples(subjects, days, st.sampled_from([0.5, 0.50001, 0.500049, 0.49996])),
        min_size=2,
        max_size=5,
    )
)
def test_the_triage_token_sorts_like_the_triage_key(alerts: list[tuple[str, str, float]]) -> None:
    """Browsers insert live cards by the token; the page and API order by the key: with
    scores equal to four decimals the two must still agree."""
    store = FeedStore()
    for subject, date, score in alerts:
        a = make_alert(subject, "opened", date, "2024-02-20")
        a["score"] = score
        store.ingest([Incoming("alert", orjson.dumps(a))])
    eps = store.episodes(lambda s: True)
    by_key = sorted(eps, key=triage_key, reverse=True)
    assert [e.key for e in triage_order(eps)] == [e.key for e in by_key]


#: sign-outs as nonce numbers (repeats: redeliveries); a nonce's clinician and expiry are
#: its own, as in a real session cookie
_ENDS = st.lists(st.integers(0, 40), max_size=40)


def _session(n: int) -> tuple[str, str, int]:
    return f"{n:016x}", ("dr-a", "dr-b")[n % 2], 100 + (n * 37) % 100


@BUDGET
@given(ends=_ENDS, bound=st.integers(1, 8))
def test_sign_outs_are_never_forgotten_whatever_the_bound(ends: list[int], bound: int) -> None:
    """A signed-out session stays ended after any further sign-outs (the bound folds old
    ones into a per-clinician cut-off, which may end more sessions but never revive one),
    and a session of a clinician who never signed out is never ended."""
    from phenotyping.feed.models import SessionEnd

    store = FeedStore(max_session_ends=bound)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ended: list[tuple[str, str, int]] = []
    for n in ends:
        nonce, who, exp = _session(n)
        store.end_session(SessionEnd(session=nonce, clinician_id=who, exp=exp, at=at))
        ended.append((nonce, who, exp))
        assert all(store.session_ended(*x) for x in ended)
    assert not store.session_ended("f" * 16, "dr-c", 150)
    assert len(store._ended) <= bound
