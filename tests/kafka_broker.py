"""A real single-node Kafka broker for tests, started by ``deploy/kafka/kafka.sh``.

Plain helper, no pytest in here: ``conftest.py`` wires it into a fixture and decides what a
:class:`KafkaUnavailable` means (a skip with its reason on a developer machine, a failure in CI).

If ``PHENOTYPING_BROKER`` is set (``kafka://127.0.0.1:9092``, ``127.0.0.1:9092`` or a
comma-separated list of either), that broker is used as it is and never started or stopped.
Otherwise a broker is started on a free loopback port in a fresh temporary directory and
stopped (and the directory removed) on exit.

Usage (not a doctest: it starts a JVM)::

    with KafkaBroker() as bootstrap:  # "127.0.0.1:<port>"
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
BROKER_ENV = "PHENOTYPING_BROKER"
EX_UNAVAILABLE = 69  # kafka.sh's exit code when java, mvn or the jars cannot be had

__all__ = [
    "BROKER_ENV",
    "KafkaBroker",
    "KafkaStartError",
    "KafkaUnavailable",
    "parse_bootstrap",
]


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the broker jars cannot be had on this machine (skip, or fail in CI)."""


class KafkaStartError(RuntimeError):
    """The prerequisites are there but the broker did not start or become ready."""


def parse_bootstrap(value: str) -> str:
    """Turn ``kafka://h:p`` / ``h:p`` (comma-separated) into ``h:p[,h:p...]``.

    Parameters
    ----------
    value : str
        A broker URL as faust writes it, or a plain bootstrap list.

    Returns
    -------
    str
        The bootstrap servers as the Kafka clients take them.

    Examples
    --------
    >>> parse_bootstrap("kafka://127.0.0.1:9092")
    '127.0.0.1:9092'
    >>> parse_bootstrap(" 127.0.0.1:1, kafka://127.0.0.1:2 ")
    '127.0.0.1:1,127.0.0.1:2'
    """
    servers = []
    for part in value.split(";" if ";" in value else ","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        part = part.rstrip("/")
        if part:
            servers.append(part)
    if not servers:
        raise ValueError(f"no broker address in {value!r}")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"broker address {server!r} is not host:port (from {value!r})")
    return ",".join(servers)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class KafkaBroker:
    """A Kafka broker for the duration of a ``with`` block; the block gets the bootstrap string.

    Parameters
    ----------
    port : int, optional
        PLAINTEXT port on 127.0.0.1; default a free port (retried if it is taken meanwhile).
    workdir : str or Path, optional
        State directory (config, data, logs). Default: a new temporary directory, removed on
        exit unless ``keep`` is true or ``PHENOTYPING_KAFKA_KEEP=1``.
    start_timeout : float
        Seconds for ``kafka.sh start`` to fetch the jars (when the cache is cold) and get the
        broker ready.
    auto_create_topics : bool
        Set ``auto.create.topics.enable`` on the started broker (default False).
    use_env : bool
        Honour ``PHENOTYPING_BROKER`` (default True).
    keep : bool
        Keep the temporary directory (logs) after stopping.

    Raises
    ------
    KafkaUnavailable
        From ``start``/``__enter__`` when Java or Maven (or the jars) are missing.
    KafkaStartError
        From ``start``/``__enter__`` when the broker fails to start; the message holds the
        tail of the broker log.
    """

    def __init__(
        self,
        port: int | None = None,
        workdir: str | os.PathLike[str] | None = None,
        *,
        start_timeout: float = 300.0,
        auto_create_topics: bool = False,
        use_env: bool = True,
        keep: bool = False,
    ) -> None:
        self.port = port
        self.workdir: Path | None = Path(workdir) if workdir is not None else None
        self.start_timeout = start_timeout
        self.auto_create_topics = auto_create_topics
        self.keep = keep or os.environ.get("PHENOTYPING_KAFKA_KEEP") == "1"
        env_value = os.environ.get(BROKER_ENV, "").strip() if use_env else ""
        self.external = bool(env_value)
        self._bootstrap: str | None = parse_bootstrap(env_value) if env_value else None
        self._started = False
        self._own_tmp = False

    # ------------------------------------------------------------------ properties
    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` list for the Kafka clients (aiokafka ``bootstrap_servers``)."""
        if self._bootstrap is None:
            raise RuntimeError("broker not started")
        return self._bootstrap

    @property
    def url(self) -> str:
        """The same address as a faust broker URL, ``kafka://host:port``."""
        return ";".join(f"kafka://{s}" for s in self.bootstrap_servers.split(","))

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def check_prerequisites() -> None:
        """Raise :class:`KafkaUnavailable` if the broker cannot be started here at all."""
        if not KAFKA_SH.is_file():
            raise KafkaUnavailable(f"{KAFKA_SH} not found")
        if shutil.which("bash") is None:
            raise KafkaUnavailable("bash not found")
        java_home = os.environ.get("JAVA_HOME")
        if shutil.which("java") is None and not (
            java_home and Path(java_home, "bin", "java").is_file()
        ):
            raise KafkaUnavailable(
                "java not found: install a Java 17+ runtime (Debian: openjdk-17-jre-headless) "
                f"or set {BROKER_ENV}=host:port to use a running broker"
            )

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(KAFKA_SH), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *, fresh: bool = True) -> str:
        """Start the broker (or take ``PHENOTYPING_BROKER``) and return the bootstrap string.

        ``fresh=False`` starts it again on its port with the data of its last run (after
        :meth:`stop` with ``keep_data=True``): a broker restart."""
        if self._bootstrap is not None:
            if not self._started:
                self._check_reachable(self._bootstrap)
            return self._bootstrap
        self.check_prerequisites()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="phenotyping-kafka-"))
            self._own_tmp = True
        fixed_port = self.port is not None
        attempts = 1 if fixed_port else 3
        last = ""
        for _ in range(attempts):
            port = self.port if self.port is not None else _free_port()
            args = ["start", "--port", str(port), "--dir", str(self.workdir)]
            args += ["--fresh"] if fresh else []
            args += ["--timeout", str(max(1, int(self.start_timeout))), "--watch-pid"]
            args.append(str(os.getpid()))
            if self.auto_create_topics:
                args.append("--auto-create-topics")
            try:
                proc = self._run(*args, timeout=self.start_timeout + 60)
            except subprocess.TimeoutExpired as exc:
                self._stop_quietly()
                raise KafkaStartError(f"kafka.sh start timed out after {exc.timeout}s") from exc
            if proc.returncode == 0:
                self.port = port
                self._bootstrap = proc.stdout.strip().splitlines()[-1]
                self._started = True
                return self._bootstrap
            last = _tail(proc.stderr)
            if proc.returncode == EX_UNAVAILABLE:
                self._cleanup_dir()
                raise KafkaUnavailable(last.splitlines()[-1] if last else "kafka.sh: unavailable")
            if "already in use" not in last:
                break
        self._stop_quietly()
        where = f" (logs kept in {self.workdir})" if self.workdir else ""
        raise KafkaStartError(f"Kafka broker did not start{where}:\n{last}")

    @staticmethod
    def _check_reachable(bootstrap: str, timeout: float = 5.0) -> None:
        errors = []
        for server in bootstrap.split(","):
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                    return
            except OSError as exc:
                errors.append(f"{server}: {exc}")
        raise KafkaStartError(f"{BROKER_ENV}={bootstrap} is not reachable ({'; '.join(errors)})")

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop a broker this object started (a no-op for ``PHENOTYPING_BROKER``);
        ``keep_data=True`` keeps its directory for ``start(fresh=False)``."""
        if not self._started:
            return
        self._started = False
        self._bootstrap = None
        proc = self._run("stop", "--dir", str(self.workdir), timeout=90)
        if proc.returncode != 0:
            raise KafkaStartError(f"kafka.sh stop failed:\n{_tail(proc.stderr)}")
        if not keep_data:
            self._cleanup_dir()

    def _stop_quietly(self) -> None:
        if self.workdir is not None and self.workdir.is_dir():
            try:
                self._run("stop", "--dir", str(self.workdir), timeout=90)
            except subprocess.TimeoutExpired:
                pass

    def _cleanup_dir(self) -> None:
        if self._own_tmp and not self.keep and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "external" if self.external else ("running" if self._started else "stopped")
        return f"KafkaBroker({self._bootstrap or '-'}, {state}, dir={self.workdir})"
