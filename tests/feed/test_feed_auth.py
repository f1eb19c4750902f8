"""Access tokens, the roster file and signed sessions (phenotyping.feed.auth)."""

from __future__ import annotations

import base64
import hashlib
import tomllib
from pathlib import Path

import orjson
import pytest
from feed_helpers import REPO, roster_doc, write_roster

from phenotyping.errors import RosterError
from phenotyping.feed.auth import (
    Roster,
    check_csrf,
    csrf_token,
    hash_token,
    make_session,
    new_token,
    read_session,
)

SECRET = b"k" * 32


def test_hash_is_sha256_of_the_token_and_lookup_finds_only_the_holder() -> None:
    a, b = new_token(), new_token()
    assert hash_token(a) == "sha256:" + hashlib.sha256(a.encode()).hexdigest()
    roster = Roster.parse(roster_doc({"dr-a": (a, ["s1"]), "dr-b": (b, ["s2"])}))
    found_a, found_b = roster.by_token(a), roster.by_token(b)
    assert found_a is not None and found_a[0].id == "dr-a"
    assert found_b is not None and found_b[0].id == "dr-b"
    assert roster.by_token(a + "x") is None
    assert roster.by_token(hash_token(a)) is None  # the stored hash is not a credential


def test_a_clinician_may_hold_several_tokens_for_rotation() -> None:
    old, new = new_token(), new_token()
    doc = roster_doc({"dr-a": (old, ["s1"])})
    doc["clinician"][0]["tokens"].append(hash_token(new))
    roster = Roster.parse(doc)
    assert {roster.by_token(t)[0].id for t in (old, new)} == {"dr-a"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["clinician"][0].update(tokens=["REPLACE-ME"]), "hash-token"),
        (lambda d: d["clinician"][0].update(subjects=["Jane Doe"]), "not a pseudonymous"),
        (lambda d: d["clinician"][0].update(id="dr a"), ".id"),
        (lambda d: d["clinician"][0].update(extra=1), "unknown key"),
        (lambda d: d["clinician"].append(dict(d["clinician"][0])), "listed twice"),
        (lambda d: d.update(clinician=[]), r"no \[\[clinician"),
        (lambda d: d["clinician"][0].update(tokens=[]), "tokens"),
    ],
)
def test_roster_errors_name_the_entry_and_the_rule(change, message) -> None:  # type: ignore[no-untyped-def]
    doc = roster_doc({"dr-a": (new_token(), ["s1"])})
    change(doc)
    with pytest.raises(RosterError, match=message):
        Roster.parse(doc)


def test_the_same_token_hash_twice_is_refused() -> None:
    tok = new_token()
    doc = roster_doc({"dr-a": (tok, ["s1"]), "dr-b": (tok, ["s2"])})
    with pytest.raises(RosterError, match="used twice"):
        Roster.parse(doc)


def test_example_roster_is_valid_toml_with_placeholders_the_feed_refuses() -> None:
    path = REPO / "deploy" / "roster.example.toml"
    doc = tomllib.loads(path.read_text())
    assert [c["id"] for c in doc["clinician"]] == ["dr-example", "nurse-example"]
    with pytest.raises(RosterError, match="phenotyping feed hash-token"):
        Roster.load(path)


def test_roster_file_round_trip(tmp_path: Path) -> None:
    tok = new_token()
    path = write_roster(tmp_path / "roster.toml", {"dr-a": (tok, ["sim-001", "sim-004"])})
    roster = Roster.load(path)
    assert roster.clinicians["dr-a"].subjects == {"sim-001", "sim-004"}
    assert roster.by_token(tok) is not None


def _roster(tok: str) -> Roster:
    return Roster.parse(roster_doc({"dr-a": (tok, ["s1"]), "dr-b": (new_token(), ["s2"])}))


def test_session_cookie_is_bound_to_secret_expiry_clinician_and_token() -> None:
    tok = new_token()
    roster = _roster(tok)
    clinician, token_hash = roster.by_token(tok)  # type: ignore[misc]
    cookie = make_session(SECRET, clinician, token_hash, now_s=1_000, ttl_s=600)
    assert read_session(SECRET, cookie, roster, now_s=1_599) == clinician
    assert read_session(SECRET, cookie, roster, now_s=1_600) is None  # expired
    assert read_session(b"x" * 32, cookie, roster, now_s=1_000) is None  # other key

    # a forged payload naming another clinician fails the signature
    head, payload, sig = cookie.split(".")
    data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["c"] = "dr-b"
    forged = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    assert read_session(SECRET, f"{head}.{forged}.{sig}", roster, now_s=1_000) is None

    # revoking the token (its hash leaves the roster) ends the session
    rotated = Roster.parse(roster_doc({"dr-a": (new_token(), ["s1"])}))
    assert read_session(SECRET, cookie, rotated, now_s=1_000) is None
    # so does leaving the roster
    gone = Roster.parse(roster_doc({"dr-b": (new_token(), ["s2"])}))
    assert read_session(SECRET, cookie, gone, now_s=1_000) is None
    for junk in ("", "v1.x", "v2.a.b", "v1.!!!.???", "a" * 2000):
        assert read_session(SECRET, junk, roster, now_s=1_000) is None


def test_csrf_token_belongs_to_one_session() -> None:
    tok = new_token()
    roster = _roster(tok)
    clinician, token_hash = roster.by_token(tok)  # type: ignore[misc]
    one = make_session(SECRET, clinician, token_hash, now_s=0, ttl_s=60)
    two = make_session(SECRET, clinician, token_hash, now_s=0, ttl_s=60)
    assert one != two  # a nonce per session
    assert check_csrf(SECRET, one, csrf_token(SECRET, one))
    assert not check_csrf(SECRET, two, csrf_token(SECRET, one))
    assert not check_csrf(SECRET, one, None)
    assert not check_csrf(SECRET, one, "")


def test_short_tokens_are_refused() -> None:
    with pytest.raises(RosterError, match="at least 32"):
        hash_token("password123")
