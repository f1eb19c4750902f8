"""Every command in the documents runs: the shell blocks marked ``<!-- runnable -->`` in
README.md and docs/*.md are run in order, as a reader would, in a scratch folder laid out
like a checkout (``.venv`` and ``deploy`` linked, ``../shared/data`` -> PHENOTYPING_DATA);
every other ``phenotyping <command>`` a document shows (those need a broker, Docker or a
clinician's token) must at least exist (``--help`` exits 0). The install and test commands of
the README are run as written by ``.ci/run``."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = re.compile(r"<!-- runnable -->\s*\n```bash\n(.*?)```", re.S)
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def runnable_blocks() -> list[tuple[str, str]]:
    return [(doc.name, m.group(1)) for doc in DOCS for m in RUNNABLE.finditer(doc.read_text())]


def test_the_documents_link_only_to_files_that_exist_or_are_promised() -> None:
    promised = {
        "docs/importers.md",
        "docs/evaluation.md",
        "docs/failure-modes.md",
        "benchmarks/README.md",
    }  # fmt: skip  (written by the other engineers)
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)\)", doc.read_text()):
            path = (doc.parent / target).resolve().relative_to(REPO).as_posix()
            assert (REPO / path).exists() or path in promised, f"{doc.name}: {target}"


def test_there_are_runnable_blocks_in_the_readme_and_the_docs() -> None:
    names = {name for name, _ in runnable_blocks()}
    assert {"README.md", "researchers.md", "operators.md"} <= names


def test_runnable_blocks_run(tmp_path: Path) -> None:
    data = os.environ.get("PHENOTYPING_DATA", str(REPO.parent / "shared" / "data"))
    checkout = tmp_path / "work" / "phenotyping"
    checkout.mkdir(parents=True)
    (tmp_path / "work" / "shared").mkdir()
    (tmp_path / "work" / "shared" / "data").symlink_to(data)
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    (checkout / "deploy").symlink_to(REPO / "deploy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHENOTYPING_KAFKA__")}
    for name, block in runnable_blocks():
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{name}:\n{block}\n{result.stdout}\n{result.stderr}"
    assert (checkout / "demo" / "plots" / "sim-004.png").exists()
    assert (checkout / "demo" / "sim-004-all-panels.png").exists()


def _commands() -> set[tuple[str, ...]]:
    """``phenotyping <command> [<sub-command>]`` of every bash block of every document."""
    out: set[tuple[str, ...]] = set()
    for doc in DOCS:
        for block in BLOCK.findall(doc.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                code = line.split("#", 1)[0]
                for m in re.finditer(r"(?:\.venv/bin/)?\bphenotyping\s+([a-z][a-z-]*)(.*)", code):
                    words = shlex.split(m.group(2)) if m.group(2).strip() else []
                    sub = words[0] if words and re.fullmatch(r"[a-z][a-z-]+", words[0]) else ""
                    out.add((m.group(1), sub) if m.group(1) == "feed" and sub else (m.group(1),))
    return out


def test_every_phenotyping_command_in_the_documents_exists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from phenotyping.cli import build_parser

    commands = _commands()
    assert ("demo",) in commands and ("worker",) in commands
    parser = build_parser()
    for cmd in sorted(commands):
        with pytest.raises(SystemExit) as done:  # argparse exits 0 after printing the help
            parser.parse_args([*cmd, "--help"])
        assert done.value.code == 0, f"phenotyping {' '.join(cmd)}"
    with pytest.raises(SystemExit) as done:  # and the check can fail
        parser.parse_args(["no-such-command", "--help"])
    assert done.value.code != 0
    capsys.readouterr()


@pytest.mark.parametrize("doc", ["README.md"])
def test_the_readme_stays_short_and_names_the_test_command(doc: str) -> None:
    text = (REPO / doc).read_text()
    assert len(text.splitlines()) <= 120
    assert "\n.venv/bin/pytest\n" in text
    assert ".venv/bin/pytest\n" in (REPO / ".ci" / "run").read_text()
