"""A command-line process under test: ``phenotyping worker``, ``phenotyping feed`` or any
command, as a subprocess in its own session with its output in a log file.

The stream tests (workers), the feed tests (the feed, compose services) all use this one
wrapper; what they wait for differs (a log line, a health check), how a process is started,
read and stopped does not.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class CliProcess:
    """``cmd`` as a subprocess; stdout and stderr go to ``log``."""

    def __init__(
        self, cmd: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(
            list(cmd),
            env=dict(env),
            cwd=cwd if cwd is not None else log.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @classmethod
    def phenotyping(
        cls, args: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> CliProcess:
        """``python -m phenotyping.cli ARGS`` with this interpreter."""
        return cls([sys.executable, "-m", "phenotyping.cli", *args], env, log, cwd)

    @property
    def name(self) -> str:
        return self.log.stem

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-n:])

    def check_alive(self) -> None:
        """Raise with the log's tail when the process has exited."""
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")

    def wait_for_log(self, needle: str, timeout: float = 90.0) -> None:
        """Wait (bounded) until ``needle`` appears in the log."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the log of {self.name}:\n{self.tail()}")
            time.sleep(0.2)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after 30 s); close the log; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._fh.close()
        return self.proc.returncode
