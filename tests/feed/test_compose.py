"""docker-compose.yml, deploy/Dockerfile and friends, proven without a Docker engine.

1. ``docker-compose config`` (Debian's docker-compose, a compose implementation) validates
   the file against its schema and resolves it; our own reading of the file
   (compose_helpers) must agree with it service by service.
2. Static rules: Kafka image version = the tests' broker version, scalable workers, named
   volume, healthchecks, profiles, every variable documented with its default, a non-root
   image with pinned dependencies and a whitelist build context.
3. Compose parity: every service's *command* is started locally with that service's
   environment (its host variables set the way a user would set them, container paths
   mapped to local folders), against the test broker: topic-init, two workers, the feed and
   the replayer (demo cohort); the alerts of the replayed records appear in the feed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_helpers import interpolate, load, mounts, service_env, variables
from feed_helpers import REPO, FeedProcess, get_json, start_on_free_port, write_roster

from phenotyping.feed.auth import new_token

COMPOSE = REPO / "docker-compose.yml"
APP_SERVICES = ("topic-init", "worker", "feed", "replayer")


def _kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(REPO / "deploy" / "kafka" / "pom.xml").getroot()
    node = root.find("m:properties/m:kafka.version", ns)
    if node is None:  # a pom without the namespace
        node = root.find("properties/kafka.version")
    assert node is not None and node.text
    return node.text.strip()


def _example_env() -> dict[str, str | None]:
    """deploy/compose.env.example: ``NAME=default`` lines, ``# NAME=...`` meaning unset."""
    out: dict[str, str | None] = {}
    for line in (REPO / "deploy" / "compose.env.example").read_text().splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(2)] = None if m.group(1) else m.group(3)
    return out


# --------------------------------------------------------------------------- static rules
def test_kafka_is_the_official_image_at_the_version_the_tests_run() -> None:
    compose = load(COMPOSE, {})
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{_kafka_version()}"


def test_services_are_shaped_for_compose_up_scale_and_profiles() -> None:
    compose = load(COMPOSE, {})
    services = compose["services"]
    assert set(services) == {"kafka", *APP_SERVICES}
    kafka = services["kafka"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "healthcheck" in kafka
    assert "kafka-data:/var/lib/kafka/data" in kafka["volumes"]
    assert "kafka-data" in compose["volumes"]
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    # --scale worker=3: nothing on a worker may be unique per container
    worker = services["worker"]
    assert not {"container_name", "ports", "hostname"} & set(worker)
    assert services["replayer"]["profiles"] == ["replay"]
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["image"] == services["worker"]["image"]
        assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        if name != "topic-init":
            assert svc["depends_on"] == {
                "topic-init": {"condition": "service_completed_successfully"}
            }
    assert services["topic-init"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert "healthcheck" in services["feed"]
    # host ports are bound to loopback by default
    for name in ("kafka", "feed"):
        for port in services[name]["ports"]:
            assert port.startswith("127.0.0.1:"), port


def test_every_variable_is_documented_with_the_same_default() -> None:
    used = variables(COMPOSE)
    documented = _example_env()
    assert set(used) == set(documented)
    for name, default in used.items():
        if default is None:  # pass-through: unset unless the operator sets it
            assert documented[name] is None, name
        else:
            assert documented[name] == default, name


def test_security_settings_are_wired_through_and_off_by_default() -> None:
    env = service_env(load(COMPOSE, {})["services"]["feed"], host={})
    assert env["PHENOTYPING_KAFKA__SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert "PHENOTYPING_KAFKA__SASL_PASSWORD" not in env  # not set -> not passed
    assert "PHENOTYPING_FEED__SESSION_SECRET" not in env
    host = {
        "PHENOTYPING_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "PHENOTYPING_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "PHENOTYPING_KAFKA__SASL_USERNAME": "feed",
        "PHENOTYPING_KAFKA__SASL_PASSWORD": "pw",
        "PHENOTYPING_KAFKA__SSL_CAFILE": "/run/phenotyping/certs/ca.pem",
        "PHENOTYPING_FEED__SESSION_SECRET": "s" * 40,
    }
    services = load(COMPOSE, host)["services"]
    for name in APP_SERVICES:
        env = service_env(services[name], host)
        for key in (k for k in host if k.startswith("PHENOTYPING_KAFKA__")):
            assert env[key] == host[key], (name, key)
    assert service_env(services["feed"], host)["PHENOTYPING_FEED__SESSION_SECRET"] == "s" * 40


def test_compose_implementation_validates_and_resolves_the_file_as_we_do(
    tmp_path: Path,
) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed: apt-get install docker-compose (.ci/run does)")
    host = {"PATH": os.environ.get("PATH", ""), "PHENOTYPING_FEED__SESSION_SECRET": "z" * 40}
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    proc = subprocess.run(
        [
            binary,
            "-f",
            str(COMPOSE),
            "--env-file",
            str(empty_env_file),
            "--profile",
            "replay",
            "config",
        ],
        cwd=REPO,
        env=host,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = yaml.safe_load(proc.stdout)["services"]
    ours = load(COMPOSE, host)["services"]
    assert set(theirs) == set(ours)
    for name in APP_SERVICES:
        assert theirs[name]["command"] == ours[name]["command"], name
        mine = service_env(ours[name], host)
        # docker-compose prints pass-through keys that are unset as null
        resolved = {k: v for k, v in theirs[name]["environment"].items() if v is not None}
        assert {k: str(v) for k, v in resolved.items()} == mine, name
        theirs_mounts = {
            v.split(":")[1]: v.split(":")[0] for v in theirs[name].get("volumes") or []
        }
        assert {k: str((REPO / v).resolve()) for k, v in mounts(ours[name]).items()} == (
            theirs_mounts
        ), name
    kafka_env = {k: str(v) for k, v in theirs["kafka"]["environment"].items()}
    assert kafka_env == {k: str(v) for k, v in ours["kafka"]["environment"].items()}


def test_image_is_slim_non_root_and_pinned() -> None:
    from packaging.requirements import Requirement

    docker = (REPO / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", docker, re.M)
    users = re.findall(r"^USER (\S+)", docker, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "pip install --prefer-binary -r deploy/requirements.lock" in docker
    assert "pip install --no-deps ." in docker

    pins: dict[str, str] = {}
    for line in (REPO / "deploy" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        req = Requirement(dep)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not in deploy/requirements.lock (run deploy/lock.sh)"
        assert req.specifier.contains(pins[name]), (
            f"{req.name}=={pins[name]} in the lock does not satisfy {dep} (run deploy/lock.sh)"
        )


def test_build_context_is_a_whitelist_that_admits_what_the_dockerfile_copies() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything is excluded unless admitted
    admitted = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    docker = (REPO / "deploy" / "Dockerfile").read_text()
    copied = []
    for line in re.findall(r"^COPY (.+)$", docker, re.M):
        words = [w for w in line.split() if not w.startswith("--")]
        if "--from=" not in line:
            copied += words[:-1]  # every source; the last word is the destination
    assert {"pyproject.toml", "README.md", "phenotyping"} <= set(copied)
    for source in copied:
        assert source.rstrip("/") in admitted, source
    for secret_like in ("deploy/roster.example.toml", ".env", "deploy/recordings", "tests"):
        assert secret_like not in admitted


def test_replayer_replays_a_mounted_folder_or_else_the_demo_cohort(tmp_path: Path) -> None:
    """deploy/replay.sh with a stand-in ``phenotyping`` that records how it was called."""
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "bin" / "phenotyping"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "PHENOTYPING_KAFKA__BROKER": "kafka://b:9092",
        "TMPDIR": str(tmp_path),
    }
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "README.md").write_text("not a recording")

    def run(**extra: str) -> list[str]:
        calls.write_text("")
        subprocess.run(
            ["sh", "deploy/replay.sh"],
            cwd=REPO,
            env={**env, **extra},
            check=True,
            capture_output=True,
            timeout=60,
        )
        return calls.read_text().splitlines()

    demo = run(PHENOTYPING_REPLAY_DIR=str(recordings))
    assert len(demo) == 2
    assert demo[0].startswith("demo --out ") and demo[0].endswith(" --no-plots -q")
    work = demo[0].split()[2]
    assert demo[1] == f"replay {work}/cohort.jsonl --format jsonl --broker kafka://b:9092 -q"
    (recordings / "sub").mkdir()
    (recordings / "sub" / "condition_1.csv").write_text("timestamp,date,activity\n")
    assert run(PHENOTYPING_REPLAY_DIR=str(recordings), PHENOTYPING_REPLAY_SPEED="60") == [
        f"replay {recordings} --broker kafka://b:9092 -q --speed 60"
    ]


# --------------------------------------------------------------------------- parity
def _translate(
    name: str, service: dict[str, Any], host: dict[str, str], app_dir: Path, port: int
) -> tuple[dict[str, str], list[str]]:
    """The service's environment for a local run, and every change made to it (each one a
    container-only address or path). ``app_dir`` stands for the container's own /app."""
    env = service_env(service, host)
    changes = []
    container_paths = {dst: str((REPO / src).resolve()) for dst, src in mounts(service).items()}
    container_paths["/app"] = str(app_dir)  # the image's WORKDIR, one per container
    for key, value in list(env.items()):
        new = value
        for dst, src in container_paths.items():
            if value == dst or value.startswith(dst + "/"):
                new = src + value[len(dst) :]
        if key == "PHENOTYPING_FEED__HOST":
            new = "127.0.0.1"
        if key == "PHENOTYPING_FEED__PORT":
            new = str(port)
        if new != value:
            env[key] = new
            changes.append(f"{name}: {key}={value} -> {new}")
    return env, changes


def _base_env() -> dict[str, str]:
    """What a container starts with besides its service environment: a PATH (with the
    project's console script first, as the image's venv) and a HOME; nothing inherited."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }


@pytest.mark.kafka
def test_compose_parity_each_service_command_end_to_end(
    broker: str, demo: Any, tmp_path: Path
) -> None:
    from stream_helpers import next_tag, wait_for_group

    from phenotyping.config import KafkaSettings

    tag = next_tag()
    token = new_token()
    subjects = sorted({a["subject_id"] for a in demo.alerts})
    recordings = tmp_path / "recordings"  # empty: the replayer replays the demo cohort
    recordings.mkdir()
    # the host variables an operator would set (docker-compose.yml's own knobs)
    host = {
        "PHENOTYPING_KAFKA__BROKER": f"kafka://{broker}",
        "PHENOTYPING_KAFKA__TOPIC_PREFIX": tag,
        "PHENOTYPING_KAFKA__APP_ID": f"{tag}-app",
        "PHENOTYPING_FEED_ROSTER_FILE": str(
            write_roster(tmp_path / "roster.toml", {"dr-compose": (token, subjects)})
        ),
        "PHENOTYPING_FEED__SESSION_SECRET": "parity-" + "s" * 32,
        "PHENOTYPING_RECORDINGS": str(recordings),
    }
    services = load(COMPOSE, host)["services"]
    port = 0  # the feed's, chosen when it starts (start_on_free_port)
    changes: list[str] = []
    procs: list[FeedProcess] = []

    def start(name: str, n: int = 0) -> FeedProcess:
        app_dir = tmp_path / f"{name}-{n}"  # the container's /app
        app_dir.mkdir()
        env, changed = _translate(name, services[name], host, app_dir, port)
        changes.extend(changed)
        log = app_dir / "output.log"
        p = FeedProcess(list(services[name]["command"]), {**_base_env(), **env}, log, REPO)
        procs.append(p)
        return p

    def finish(p: FeedProcess, timeout: float) -> None:
        try:
            code = p.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{p.log.parent.name} still running:\n{p.tail()}") from None
        assert code == 0, f"{p.log.parent.name} exited {code}:\n{p.tail()}"

    try:
        finish(start("topic-init"), 120)
        workers = [start("worker", i) for i in range(2)]  # --scale worker=2

        def start_feed(p: int) -> FeedProcess:
            nonlocal port
            port = p
            return start("feed", p)

        feed, port = start_on_free_port(start_feed)
        base = f"http://127.0.0.1:{port}"
        kafka = KafkaSettings(broker=f"kafka://{broker}", topic_prefix=tag, app_id=f"{tag}-app")
        wait_for_group(kafka, members=2, timeout=120)
        finish(start("replayer"), 300)

        expected = {a["alert_id"] for a in demo.alerts}
        deadline = time.monotonic() + 300
        seen: set[str] = set()
        while not expected <= seen:
            for p in [*workers, feed]:
                assert p.proc.poll() is None, f"{p.log.parent.name} exited:\n{p.tail()}"
            status, body = get_json(f"{base}/api/alerts?limit=500", token)
            assert status == 200, body
            seen = {i["alert"]["alert_id"] for i in body["items"]}
            if time.monotonic() > deadline:
                raise AssertionError(f"alerts missing from the feed: {sorted(expected - seen)}")
            time.sleep(1)
        assert seen == expected
        # the feed service's healthcheck command, pointed at the local port
        check = [interpolate(x, {}) for x in services["feed"]["healthcheck"]["test"][1:]]
        check = [x.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for x in check]
        subprocess.run(check, check=True, timeout=30, env=_base_env())
    finally:
        for p in procs:
            p.stop()
    print("\n".join(["container-only values replaced for the local run:", *changes]))
    # only container addresses and paths were changed, nothing else
    for change in changes:
        key = change.split(": ", 1)[1].split("=", 1)[0]
        assert key in {
            "PHENOTYPING_FEED__HOST",
            "PHENOTYPING_FEED__PORT",
            "PHENOTYPING_FEED__ROSTER",
            "PHENOTYPING_REPLAY_DIR",
            "PHENOTYPING_KAFKA__DATA_DIR",
        }, change
