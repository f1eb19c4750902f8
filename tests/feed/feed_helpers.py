"""Helpers of the feed tests: hand-made alerts, rosters, records as the workers publish them,
and the feed as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from subprocess_helpers import CliProcess

from phenotyping.feed.auth import hash_token
from phenotyping.feed.store import Incoming
from phenotyping.stream.codec import encode_record

REPO = Path(__file__).resolve().parent.parent.parent


def make_alert(
    subject: str = "s-1",
    kind: str = "opened",
    date: str = "2024-03-04",
    episode_start: str = "2024-02-28",
    level: str = "elevated",
    *,
    alert_id: str | None = None,
    explanation: str = "Daily activity 40% below usual for 5 days",
    contributing: list[dict[str, Any]] | None = None,
    days_since_last_session: int | None = 12,
) -> dict[str, Any]:
    """A schema-valid alert record (phenotyping.events.Alert) with the given fields."""
    return {
        "type": "alert",
        "version": 1,
        "alert_id": alert_id or f"{subject}-{episode_start}-{kind}-{date}",
        "subject_id": subject,
        "kind": kind,
        "date": date,
        "level": level,
        "score": 0.6,
        "episode_start": episode_start,
        "domains": ["activity"],
        "contributing": contributing
        if contributing is not None
        else [
            {
                "feature": "activity_mean_worn",
                "label": "daily activity",
                "domain": "activity",
                "direction": "down",
                "value": 80.0,
                "mean_since_onset": 90.0,
                "baseline_median": 150.0,
                "baseline_scale": 20.0,
                "z": -3.5,
                "signal_strength": 1.5,
                "days_in_deviation": 5,
            }
        ],
        "coverage": {"day_coverage": 0.9, "night_coverage": 0.95, "valid_days_last_7": 6},
        "days_since_last_session": days_since_last_session,
        "last_session_modality": "ketamine" if days_since_last_session is not None else None,
        "after_response": False,
        "days_since_response": None,
        "self_report": None,
        "baseline": "personal",
        "config_version": "test",
        "explanation": explanation,
    }


def alert_record(alert: Mapping[str, Any]) -> Incoming:
    return Incoming("alert", encode_record(alert))


def feature_record(row: Mapping[str, Any]) -> Incoming:
    """A daily row as the worker publishes it on the features topic (``id`` added)."""
    return Incoming("features", encode_record({"id": f"{row['subject_id']}:{row['date']}", **row}))


def demo_records(
    daily: Iterable[Mapping[str, Any]], alerts: Iterable[Mapping[str, Any]]
) -> list[Incoming]:
    return [feature_record(r) for r in daily] + [alert_record(a) for a in alerts]


def roster_doc(clinicians: Mapping[str, tuple[str, list[str]]]) -> dict[str, Any]:
    """``{id: (token, subjects)}`` -> a parsed roster document (names: 'Dr <id>')."""
    return {
        "clinician": [
            {"id": cid, "name": f"Dr {cid}", "tokens": [hash_token(tok)], "subjects": subjects}
            for cid, (tok, subjects) in clinicians.items()
        ]
    }


def write_roster(path: Path, clinicians: Mapping[str, tuple[str, list[str]]]) -> Path:
    lines = []
    for entry in roster_doc(clinicians)["clinician"]:
        lines += [
            "[[clinician]]",
            f'id = "{entry["id"]}"',
            f'name = "{entry["name"]}"',
            f"tokens = {json.dumps(entry['tokens'])}",
            f"subjects = {json.dumps(entry['subjects'])}",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: How a server says the port it was given is taken (aiohttp/asyncio: errno 98, EADDRINUSE).
PORT_TAKEN = ("address already in use", "[Errno 98]", "EADDRINUSE")


def start_on_free_port(
    start: Callable[[int], FeedProcess],
    *,
    attempts: int = 5,
    timeout: float = 120.0,
    ports: Iterator[int] | None = None,
) -> tuple[FeedProcess, int]:
    """Start a server on a free port and wait until ``/healthz`` says ready.

    :func:`free_port` only finds a port that WAS free: another process (another engineer's
    tests, a parallel worker) can bind it before our server does. When the server exits
    because the port is taken, start it again on a new port (up to ``attempts`` times); any
    other failure is raised at once. ``ports`` replaces :func:`free_port` (tests of this).
    """
    for attempt in range(1, attempts + 1):
        port = next(ports) if ports is not None else free_port()
        proc = start(port)
        try:
            proc.wait_ready(f"http://127.0.0.1:{port}", timeout)
            return proc, port
        except AssertionError:
            exited = proc.proc.poll() is not None
            proc.stop()
            if exited and attempt < attempts and any(m in proc.text() for m in PORT_TAKEN):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def get_json(url: str, token: str | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class FeedProcess(CliProcess):
    """``phenotyping feed`` (or any command) under test, which can wait until it serves."""

    @classmethod
    def feed(cls, env: Mapping[str, str], log: Path) -> FeedProcess:
        return cls([sys.executable, "-m", "phenotyping.cli", "feed"], env, log, log.parent)

    def wait_ready(self, base_url: str, timeout: float = 120.0) -> None:
        """Poll ``/healthz`` (bounded) until the feed has read the topics."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                status, body = get_json(base_url + "/healthz", timeout=2)
                if status == 200 and body.get("ready"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"feed not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.3)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PHENOTYPING_KAFKA__/FEED__ setting, plus
    ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PHENOTYPING_KAFKA__", "PHENOTYPING_FEED__"))
        and k != "PHENOTYPING_CONFIG"
    }
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cut_cohort(src: Path, dst: Path, before: Any) -> Path:
    """The wire messages of ``src`` (JSONL) whose last sample is before ``before`` (an aware
    datetime), in their order: a recording that stops on that day."""
    from phenotyping.events import decode

    kept = [
        line
        for line in src.read_text().splitlines()
        if line.strip() and decode(line).span()[1] < before
    ]
    dst.write_text("\n".join(kept) + "\n")
    return dst


def open_episodes(alerts: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """``(subject, episode_start) -> latest non-resolved alert`` of the episodes not resolved."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    resolved: set[tuple[str, str]] = set()
    for a in alerts:
        key = (a["subject_id"], a["episode_start"])
        if a["kind"] == "resolved":
            resolved.add(key)
        else:
            latest[key] = a
    return {k: v for k, v in latest.items() if k not in resolved}
