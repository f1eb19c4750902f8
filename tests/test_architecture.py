"""The import contract of the package (issue 8): imports point one way.

``cli`` -> ``evaluate`` -> the shells (``stream``, ``feed``, ``replay``, ``report``, and
``simulate`` beside them) -> ``kafkaio`` (the Kafka client all shells share) -> ``config``
-> ``pipeline`` -> ``risk`` -> ``features`` -> ``events`` -> ``errors``. No shell imports
another shell, and the core never imports faust, aiokafka, aiohttp or matplotlib; numba only
in ``features`` (its compiled per-day kernels; ``risk/kernels.py`` compiles the risk
engine's per-day core through ``features/_jit.py``, so it imports no numba itself).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from import_contract import Contract, violations

import phenotyping

ROOT = Path(phenotyping.__file__).resolve().parent
P = "phenotyping"

CONTRACT = Contract(
    package=P,
    layers=(
        (f"{P}.cli",),
        # research tools built on the shells (the risk evaluation reads and simulates)
        (f"{P}.evaluate",),
        # the shells, independent of each other
        (f"{P}.stream", f"{P}.feed", f"{P}.replay", f"{P}.report", f"{P}.simulate"),
        (f"{P}.kafkaio",),
        (f"{P}.config",),
        # the pure core
        (f"{P}.pipeline",),
        (f"{P}.risk",),
        (f"{P}.features",),
        (f"{P}.events",),
        (f"{P}.errors",),
    ),
    external={
        "faust": (f"{P}.stream",),
        "aiokafka": (f"{P}.kafkaio", f"{P}.stream", f"{P}.feed.kafka", f"{P}.replay.publish"),
        "aiohttp": (f"{P}.feed",),
        "matplotlib": (f"{P}.report",),
        # compiled per-day kernels (features/kernels.py, and risk/kernels.py since issue 12,
        # both through features/_jit.py) only
        "numba": (f"{P}.features",),
    },
)


def test_the_package_keeps_its_import_contract() -> None:
    assert violations(ROOT, CONTRACT) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


TOY = Contract(
    package="pkg",
    layers=(("pkg.cli",), ("pkg.shell_a", "pkg.shell_b"), ("pkg.core",)),
    external={"faust": ("pkg.shell_a",)},
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # the core reaches up into a shell
        ({"core/x.py": "from pkg.shell_a import thing\n"}, "pkg.core.x imports pkg.shell_a"),
        # a shell borrows from another shell, in a function (lazy imports count)
        (
            {"shell_b/y.py": "def f():\n    from ..shell_a import z\n"},
            "independent rooms",
        ),
        # the core imports faust
        ({"core/x.py": "import faust\n"}, "only pkg.shell_a may import faust"),
        # a module nobody placed
        ({"extra.py": ""}, "pkg.extra is in no room"),
    ],
)
def test_the_checker_finds_each_kind_of_violation(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    base = {
        "__init__.py": "",
        "cli.py": "from pkg import shell_a, shell_b\nimport pkg.core\n",
        "shell_a/__init__.py": "import faust\nfrom pkg.core import x\n",
        "shell_b/__init__.py": "from . import y\n",
        "shell_b/y.py": "from pkg.core.x import thing\n",
        "core/__init__.py": "",
        "core/x.py": "thing = 1\n",
    }
    root = _package(tmp_path, base)
    assert violations(root, TOY) == []  # the toy package keeps its contract...
    root = _package(tmp_path, files)
    found = violations(root, TOY)  # ...until one file breaks it
    assert len(found) == 1 and expected in found[0], found
