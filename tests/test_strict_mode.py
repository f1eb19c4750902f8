"""Strict mode (root ``conftest.py``) has no holes: every kind of skip fails a strict run.

Each case is a tiny temporary project -- the repository's own root ``conftest.py``, copied
byte for byte, one passing test and ONE kind of skip -- run by pytest in a subprocess twice:
without ``PHENOTYPING_STRICT`` it must pass (exit 0, the skip reported as a skip), with
``PHENOTYPING_STRICT=1`` it must fail (exit 1) and name the skipped node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PASSING = "def test_ok():\n    assert 1 + 1 == 2\n"

#: kind -> (files of the mini project, text the strict summary must contain)
CASES: dict[str, tuple[dict[str, str], str]] = {
    "skip_in_test_body": (
        {"tests/test_a.py": "import pytest\n\ndef test_s():\n    pytest.skip('no data')\n"},
        "test_a.py::test_s",
    ),
    "skipif_marker": (
        {
            "tests/test_a.py": "import pytest\n\n"
            "@pytest.mark.skipif(True, reason='no broker')\ndef test_s():\n    pass\n"
        },
        "test_a.py::test_s",
    ),
    "skipping_fixture": (
        {
            "tests/test_a.py": "import pytest\n\n@pytest.fixture\ndef data():\n"
            "    pytest.skip('PHENOTYPING_DATA not set')\n\n"
            "def test_s(data):\n    pass\n"
        },
        "test_a.py::test_s",
    ),
    "skipped_doctest_in_package": (
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": textwrap.dedent(
                '''\
                def f():
                    """
                    >>> f()  # doctest: +SKIP
                    3
                    """
                    return 2
                '''
            ),
        },
        "pkg/mod.py::pkg.mod.f",
    ),
    "module_level_skip": (
        {
            "tests/test_a.py": "import pytest\n\n"
            "pytest.skip('whole module', allow_module_level=True)\n\n"
            "def test_never():\n    assert False\n"
        },
        "tests/test_a.py",
    ),
    "importorskip": (
        {
            "tests/test_a.py": "import pytest\n\n"
            "pytest.importorskip('a_module_that_does_not_exist_42')\n\n"
            "def test_never():\n    assert False\n"
        },
        "tests/test_a.py",
    ),
    "skip_in_sub_conftest_at_collection": (
        {
            "tests/sub/__init__.py": "",
            "tests/sub/conftest.py": "import pytest\n\n"
            "pytest.skip('no chromium', allow_module_level=True)\n",
            "tests/sub/test_b.py": "def test_never():\n    assert False\n",
        },
        "tests/sub",
    ),
    "xfail": (
        {
            "tests/test_a.py": "import pytest\n\n"
            "@pytest.mark.xfail(reason='known bug')\ndef test_x():\n    assert False\n"
        },
        "test_a.py::test_x",
    ),
}


def _project(root: Path, files: dict[str, str]) -> None:
    shutil.copyfile(REPO / "conftest.py", root / "conftest.py")
    (root / "pytest.ini").write_text(
        "[pytest]\naddopts = --doctest-modules -p no:cacheprovider\ntestpaths = tests pkg\n"
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_ok.py").write_text(PASSING)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _run(root: Path, strict: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHENOTYPING_", "PYTEST_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # fast, and only the hook under test
    if strict:
        env["PHENOTYPING_STRICT"] = "1"
    args = ["tests"] + (["pkg"] if (root / "pkg").is_dir() else [])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One project holding every kind of skip (each in its own file), run normal and strict."""
    root = tmp_path_factory.mktemp("every_kind")
    files: dict[str, str] = {}
    for kind, (case, _) in CASES.items():
        for rel, text in case.items():
            if rel.startswith("tests/"):  # one file per kind: tests/<kind>/...
                rel = rel.replace("tests/", f"tests/{kind}/", 1)
                files.setdefault(f"tests/{kind}/__init__.py", "")
            files[rel] = text
    _project(root, files)
    normal = _run(root, strict=False)
    assert normal.returncode == 0, normal.stdout + normal.stderr
    assert "SKIPPED (not allowed)" not in normal.stdout
    strict = _run(root, strict=True)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    return normal.stdout, strict.stdout


@pytest.mark.parametrize("kind", sorted(CASES))
def test_strict_mode_fails_on_every_kind_of_skip(kind: str, every_kind: tuple[str, str]) -> None:
    normal, strict = every_kind
    node = CASES[kind][1]
    if node.startswith("tests/"):
        node = node.replace("tests/", f"tests/{kind}/", 1)
    elif not node.startswith("pkg/"):
        node = f"tests/{kind}/{node}"
    offending = [ln for ln in strict.splitlines() if ln.startswith("SKIPPED (not allowed)")]
    assert any(node in ln for ln in offending), strict
    # the normal run reported the same node as skipped (or xfailed), and passed
    assert kind == "xfail" or node.split("::")[0].rstrip("/").split("/")[-1] in normal, normal


@pytest.mark.parametrize("kind", ["importorskip", "skipped_doctest_in_package"])
def test_strict_mode_alone_per_kind(kind: str, tmp_path: Path) -> None:
    """Two kinds once more, each ALONE in a project: the failure is theirs, not a neighbour's."""
    _project(tmp_path, CASES[kind][0])
    assert _run(tmp_path, strict=False).returncode == 0
    strict = _run(tmp_path, strict=True)
    assert strict.returncode == 1, strict.stdout
    assert "SKIPPED (not allowed)" in strict.stdout


def test_strict_mode_passes_a_suite_without_skips(tmp_path: Path) -> None:
    """The hook does not fail a clean run (it would otherwise be a check that cannot pass)."""
    _project(tmp_path, {})
    strict = _run(tmp_path, strict=True)
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "1 passed" in strict.stdout


def test_strict_mode_keeps_a_real_failure_a_failure(tmp_path: Path) -> None:
    _project(tmp_path, {"tests/test_f.py": "def test_f():\n    assert 1 == 2\n"})
    strict = _run(tmp_path, strict=True)
    assert strict.returncode == 1
    assert "1 failed" in strict.stdout
