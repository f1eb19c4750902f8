"""``phenotyping feed`` sub-commands that need no broker."""

from __future__ import annotations

import io
import re

import pytest
from feed_helpers import REPO

from phenotyping.cli import main
from phenotyping.feed.auth import Roster


def test_hash_token_prints_a_token_and_the_roster_line_that_admits_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["feed", "hash-token"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"^  (\S{43})$", out, re.M)
    line = re.search(r'^  tokens = \["(sha256:[0-9a-f]{64})"\]$', out, re.M)
    assert token is not None and line is not None
    roster = Roster.parse(
        {"clinician": [{"id": "dr-a", "tokens": [line.group(1)], "subjects": ["s1"]}]}
    )
    found = roster.by_token(token.group(1))
    assert found is not None and found[0].id == "dr-a"


def test_hash_token_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * 40 + "\n"))
    assert main(["feed", "hash-token", "--stdin"]) == 0
    line = re.fullmatch(r'tokens = \["(sha256:[0-9a-f]{64})"\]', capsys.readouterr().out.strip())
    assert line is not None
    roster = Roster.parse(
        {"clinician": [{"id": "dr-a", "tokens": [line.group(1)], "subjects": []}]}
    )
    assert roster.by_token("x" * 40) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["feed", "hash-token", "--stdin"]) == 1
    assert "at least 32" in capsys.readouterr().err


def test_feed_will_not_start_without_a_usable_roster(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHENOTYPING_FEED__ROSTER", raising=False)
    assert main(["feed"]) == 1
    assert "PHENOTYPING_FEED__ROSTER" in capsys.readouterr().err
    example = REPO / "deploy" / "roster.example.toml"
    assert main(["feed", "--roster", str(example)]) == 1
    assert "phenotyping feed hash-token" in capsys.readouterr().err
