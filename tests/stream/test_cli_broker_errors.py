"""Every command that needs a broker says so in one line when it cannot reach it (issue 11:
"every broker command without a reachable broker prints a 30-line aiokafka traceback")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "cohort.jsonl"
    path.write_text(
        '{"type":"clinical","event_id":"c:1","subject_id":"s1","source":"t",'
        '"tz_offset_min":0,"at":"2025-01-01T10:00:00Z","kind":"response"}\n'
    )
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "list"],
        ["topics", "create"],
        ["tail", "alerts", "--idle-exit", "1"],
        ["worker"],
        ["replay", "RECORDING", "--broker", "BROKER", "-q"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_unreachable_broker_is_one_line_and_exit_1(args: list[str], recording: Path) -> None:
    broker = f"kafka://127.0.0.1:{_closed_port()}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PHENOTYPING_KAFKA__") and k != "PHENOTYPING_CONFIG"
    }
    env["PHENOTYPING_KAFKA__BROKER"] = broker
    env["PYTHONPATH"] = str(REPO)
    argv = [a.replace("RECORDING", str(recording)).replace("BROKER", broker) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "phenotyping.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=recording.parent,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if args[0] == "worker":  # the worker prints its settings first, to stderr
        lines = lines[-1:]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"cannot reach the Kafka broker at {broker}: "), lines[0]
    assert "Traceback" not in proc.stderr
