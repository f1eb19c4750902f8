"""Fixtures of the stream tests: one real Kafka broker per session, workers as subprocesses.

The broker is started by ``tests/kafka_broker.py`` (``deploy/kafka/kafka.sh``: Apache Kafka
from Maven jars, no Docker), or ``PHENOTYPING_BROKER=host:port`` names a running one. Without
Java or Maven the broker tests are skipped with that reason -- and CI
(``PHENOTYPING_STRICT=1``) counts the skip as a failure.

Every test gets its own topic prefix and consumer group (``deployment``), so tests share the
broker without seeing each other's data.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kafka_broker import KafkaBroker, KafkaStartError, KafkaUnavailable  # noqa: E402
from stream_helpers import REPO, Deployment, next_tag  # noqa: E402

from phenotyping.config import load_settings  # noqa: E402
from phenotyping.stream.topics import create  # noqa: E402


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap servers (``127.0.0.1:port``) of a real Kafka broker."""
    b = KafkaBroker()
    try:
        bootstrap = b.start()
    except KafkaUnavailable as exc:
        pytest.skip(f"no Kafka broker: {exc}")
    except KafkaStartError as exc:
        pytest.fail(f"Kafka broker did not start: {exc}")
    try:
        yield bootstrap
    finally:
        b.stop()


@pytest.fixture
def deployment(broker: str, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Factory of isolated deployments (topics created) on the session broker."""
    made: list[Deployment] = []

    def make(**kafka: Any) -> Deployment:
        tag = next_tag()
        values = {
            "broker": f"kafka://{broker}",
            "topic_prefix": tag,
            "app_id": f"{tag}-app",
            "stats_interval_s": 1.0,
            **kafka,
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PHENOTYPING_KAFKA__") and k != "PHENOTYPING_CONFIG"
        }
        env.update({f"PHENOTYPING_KAFKA__{k.upper()}": str(v) for k, v in values.items()})
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        settings = load_settings(kafka=values)
        asyncio.run(create(settings.kafka))
        workdir = tmp_path / tag
        workdir.mkdir()
        d = Deployment(settings.kafka, env, workdir)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
