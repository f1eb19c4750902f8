"""Shared fixtures: where the real third-party data lives.

Real data is found through ONE setting, ``PHENOTYPING_DATA`` (default ``../shared/data``
relative to the repository root). Tests that need it skip with that reason when it is
absent; ``.ci/run`` sets ``PHENOTYPING_STRICT=1``, and the root ``conftest.py`` then
turns any skip into a failure.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # kafka_broker
sys.path.insert(0, str(Path(__file__).resolve().parent / "stream"))  # stream_helpers


def data_root() -> Path:
    return Path(os.environ.get("PHENOTYPING_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found: set PHENOTYPING_DATA (looked in {root})")
    return root


#: The 55 Depresjon recordings of the pyActigraphy reference outputs.
DEPRESJON = [f"condition_{i}" for i in range(1, 24)] + [f"control_{i}" for i in range(1, 33)]


@pytest.fixture(scope="session")
def pyactigraphy_reference(data_dir: Path) -> pd.DataFrame:
    """pyActigraphy 1.2.2 outputs on Depresjon, one row per recording id."""
    path = data_dir / "reference-outputs" / "pyactigraphy-1.2.2" / "depresjon_metrics.csv"
    return pd.read_csv(path).set_index("id")


@pytest.fixture(scope="session")
def depresjon_series(data_dir: Path) -> Callable[[str], tuple[np.ndarray, int]]:
    """Loader of a recording in pyActigraphy's sample-index time: the activity column in
    file order, and the minute of day of the first timestamp."""

    @functools.cache
    def load(rec: str) -> tuple[np.ndarray, int]:
        group = rec.split("_")[0]
        df = pd.read_csv(data_dir / "depresjon" / group / f"{rec}.csv.gz")
        first = pd.Timestamp(df["timestamp"].iloc[0])
        assert first.second == 0
        return df["activity"].to_numpy(dtype=np.float64), first.hour * 60 + first.minute

    return load


# --------------------------------------------------------------------------- Kafka
@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap servers (``127.0.0.1:port``) of ONE real Kafka broker for the whole session
    (``tests/kafka_broker.py``: Apache Kafka from Maven jars, no Docker; or
    ``PHENOTYPING_BROKER=host:port``). Without Java/Maven: skipped with the reason, which CI
    (``PHENOTYPING_STRICT=1``) counts as a failure."""
    from kafka_broker import KafkaBroker, KafkaStartError, KafkaUnavailable

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
def deployment(broker: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory of isolated deployments on the session broker: each gets its own topic prefix
    and consumer group (topics created), so tests never see each other's data."""
    from stream_helpers import Deployment

    made: list[Deployment] = []

    def make(**kafka: Any) -> Deployment:
        d = Deployment.create(broker, tmp_path, **kafka)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
