"""The port race of the browser and compose tests: a server whose probed-free port was taken
before it could bind is restarted on another port; any other failure is not retried."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from feed_helpers import FeedProcess, free_port, start_on_free_port

# a stand-in server: binds the port it is given (or exits like aiohttp does when it is
# taken) and answers /healthz with {"ready": true}
SERVER = """
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ready": True}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a):
        pass
try:
    srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
except OSError as exc:
    print(f"OSError: {exc}: address already in use", flush=True)
    sys.exit(1)
srv.serve_forever()
"""


def _server(tmp_path: Path, script: str = SERVER):
    path = tmp_path / "server.py"
    path.write_text(script)

    def start(port: int) -> FeedProcess:
        return FeedProcess(
            [sys.executable, str(path), str(port)], {}, tmp_path / f"{port}.log", tmp_path
        )

    return start


def test_taken_port_is_retried_on_a_new_one(tmp_path: Path) -> None:
    with socket.socket() as squatter:  # someone else got "our" free port first
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        other = free_port()
        proc, port = start_on_free_port(_server(tmp_path), ports=iter([taken, other]), timeout=30)
        try:
            assert port == other
            assert "address already in use" in (tmp_path / f"{taken}.log").read_text()
        finally:
            proc.stop()


def test_gives_up_after_the_attempts(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(AssertionError, match="exited"):
            start_on_free_port(_server(tmp_path), ports=iter([taken] * 3), attempts=3, timeout=30)
        assert len(list(tmp_path.glob("*.log"))) == 1  # the same log, three times


def test_other_failures_are_not_retried(tmp_path: Path) -> None:
    start = _server(tmp_path, "import sys\nprint('bad roster', flush=True)\nsys.exit(2)\n")
    calls = iter([free_port(), free_port()])
    with pytest.raises(AssertionError, match="bad roster"):
        start_on_free_port(start, ports=calls, timeout=30)
    assert next(calls, None) is not None  # the second port was never asked for
