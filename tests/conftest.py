"""Shared fixtures: where the real third-party data lives.

Real data is found through ONE setting, ``PHENOTYPING_DATA`` (default ``../shared/data``
relative to the repository root). Tests that need it skip with that reason when it is
absent; ``.ci/run`` turns any such skip into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    return Path(os.environ.get("PHENOTYPING_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found: set PHENOTYPING_DATA (looked in {root})")
    return root
