"""The synthetic Apple Health export writer of the benchmarks
(``benchmarks/make_apple_export.py``), loaded for the Apple reader's tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

PATH = Path(__file__).parents[2] / "benchmarks" / "make_apple_export.py"


def generator() -> Any:
    """The ``make_apple_export`` module (its ``write_export(path, size, seed=...)``)."""
    spec = importlib.util.spec_from_file_location("make_apple_export", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_apple_export"] = module
    spec.loader.exec_module(module)
    return module
