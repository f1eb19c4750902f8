"""The README's Python examples are doctests: they run, and they show the public API."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(markdown: str) -> str:
    """The contents of the ```python fenced blocks, one after the other."""
    return "\n".join(re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M))


def test_readme_examples_run_and_use_the_public_api() -> None:
    code = python_blocks(README.read_text(encoding="utf-8"))
    test = doctest.DocTestParser().get_doctest(code, {}, "README.md", str(README), 0)
    # the section exists and imports from the package root, not from its modules
    assert "from phenotyping import" in code, "README.md lost its Python API example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    result = runner.run(test)
    assert result.attempted >= 10, "README.md's Python examples have fewer checks than before"
    assert result.failed == 0, f"{result.failed} README example(s) failed (output above)"


def test_a_failing_readme_example_is_caught() -> None:
    code = python_blocks("text\n```python\n>>> 1 + 1\n3\n```\n")
    test = doctest.DocTestParser().get_doctest(code, {}, "fake", "fake", 0)
    runner = doctest.DocTestRunner()
    assert runner.run(test, out=lambda _text: None).failed == 1


def test_the_package_root_exports_every_name_in_all() -> None:
    import phenotyping

    for name in phenotyping.__all__:
        assert getattr(phenotyping, name) is not None, name
    assert callable(phenotyping.replay) and callable(phenotyping.step)


def _fresh(code: str) -> str:
    """What ``code`` prints in a new interpreter (imports are per process)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    heavy = "('numpy', 'pandas', 'pydantic')"
    code = f"import sys, phenotyping; print([m for m in {heavy} if m in sys.modules])"
    assert _fresh(code) == "[]"


@pytest.mark.parametrize(
    "first",
    ["", "import phenotyping.replay.run", "from phenotyping.replay.formats import read"],
)
def test_phenotyping_replay_is_the_function_whatever_is_imported_first(first: str) -> None:
    code = f"{first}\nimport phenotyping\nfrom phenotyping import replay\n"
    code += "print(replay is phenotyping.replay, replay.__module__)"
    assert _fresh(code) == "True phenotyping.replay.run"
