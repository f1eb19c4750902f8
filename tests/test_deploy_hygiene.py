"""What an operator expects of docker-compose.yml and deploy/Dockerfile (issue 11, item 4):
memory limits, rotated logs, a stop grace longer than the worker's SIGTERM watchdog, and an
image that builds on arm64 (a builder stage that can compile sdists). No engine needed:
docker-compose's own validation runs in tests/feed/test_compose.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from phenotyping.config import KafkaSettings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)(s|m)", text)
    assert m, text
    return float(m.group(1)) * (60 if m.group(2) == "m" else 1)


def _bytes(text: str) -> int:
    m = re.fullmatch(r"\$\{[A-Z_]+:-(\w+)\}|(\w+)", text)
    assert m, text
    value = (m.group(1) or m.group(2)).lower()
    n, unit = int(value[:-1]), value[-1]
    return n * {"k": 2**10, "m": 2**20, "g": 2**30}[unit]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_memory_limit_rotated_logs_and_a_stop_grace(name: str) -> None:
    svc = SERVICES[name]
    assert 64 * 2**20 <= _bytes(str(svc["mem_limit"])) <= 8 * 2**30
    logging = svc["logging"]
    assert logging["driver"] == "json-file"
    assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2
    grace = _seconds(str(svc["stop_grace_period"]))
    if name == "worker":  # compose must not SIGKILL before the worker's own watchdog
        assert grace > KafkaSettings().stop_grace_s + 5


def test_images_are_pinned_by_version_with_the_reason_for_no_digest() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    kafka = SERVICES["kafka"]["image"]
    assert re.fullmatch(r"\$\{KAFKA_IMAGE:-apache/kafka:\d+\.\d+\.\d+\}", kafka), kafka
    assert "digest" in text and "sha256" in text  # the documented reason and how to pin
    docker = (REPO / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.?\d*-slim-\w+$", docker, re.M)
    assert "digest" in docker


def test_the_image_builds_sdists_in_the_builder_stage_only() -> None:
    """faust-streaming has no aarch64 wheel: installing wheels only failed on arm64."""
    docker = (REPO / "deploy" / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", docker, flags=re.M)[1:]
    assert len(stages) == 2
    build, runtime = stages
    assert build.split()[0:3] == ["${PYTHON_IMAGE}", "AS", "build"]
    assert "build-essential" in build
    assert "--only-binary=:all:" not in build
    assert "pip install --prefer-binary -r deploy/requirements.lock" in build
    assert "build-essential" not in runtime and "apt-get" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    # the compiled day-close kernels cache where the unprivileged user can write (the
    # installed package is root's): without it every start compiles them again (~10 s CPU)
    assert "NUMBA_CACHE_DIR=/tmp/numba-cache" in runtime
    assert "--platform linux/amd64,linux/arm64" in docker
