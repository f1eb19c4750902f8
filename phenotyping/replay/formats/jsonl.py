"""``jsonl``: our own wire messages, one JSON object per line (optionally gzipped)."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from phenotyping.errors import FormatError, InputError
from phenotyping.events import AnyMessage, decode
from phenotyping.replay.formats.base import ReadOptions, ReadReport, files_under

NAME = "jsonl"
#: The file names this reader takes.
SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")


def sniff(path: Path) -> bool:
    """A file named ``*.jsonl``, ``*.jsonl.gz`` or ``*.ndjson``."""
    return path.is_file() and path.name.lower().endswith(SUFFIXES)


def units(path: Path) -> list[Path]:
    """The JSONL files under ``path``."""
    if path.is_file():
        return [path] if sniff(path) else []
    return files_under(path, *SUFFIXES)


def read(
    unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
) -> Iterator[AnyMessage]:
    """The reader contract's ``read`` (``options`` are not used: messages carry all)."""
    return read_jsonl(unit, report=report)


def read_jsonl(path: Path, *, report: ReadReport | None = None) -> Iterator[AnyMessage]:
    """Our own wire messages, one per line; a bad line is counted with its reason."""
    report = report if report is not None else ReadReport()
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        fh = opener(path, "rb")
    except OSError as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None
    with fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            report.rows += 1
            try:  # the "not in the future" rule against this machine's clock (the shell's)
                msg = decode(line, now=dt.datetime.now(dt.UTC))
            except InputError as exc:
                report.reject(f"jsonl: {str(exc).split(':')[0]}: {_rule(exc)}")
                continue
            report.messages += 1
            yield msg


def _rule(exc: InputError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1][:80] if ": " in text else text[:80]
