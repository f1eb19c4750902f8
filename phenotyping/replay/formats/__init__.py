"""Readers for recorded streams, one module per format, and the registry that picks one.

Each reader turns a recording into the wire messages a device would have sent, in
event-time order per subject, counting unusable rows with their reason in a
:class:`~phenotyping.replay.formats.base.ReadReport` (nothing is silently dropped).
:mod:`phenotyping.replay.formats.base` describes the contract a reader module fulfils; to
add a format, write ``formats/<name>.py`` in that shape and list it in :data:`READERS`.

Formats: ``actiwatch`` (Depresjon / Psykose minute CSV), ``mmash`` (MMASH user folders),
``jsonl`` (our own wire messages), ``fitbit`` (Fitbit account export folders, PMData).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage, natural_key
from phenotyping.replay.formats import actiwatch, fitbit, jsonl, mmash
from phenotyping.replay.formats.base import (
    Reader,
    ReadOptions,
    ReadReport,
    event_id,
)

__all__ = [
    "FORMATS",
    "READERS",
    "ReadOptions",
    "ReadReport",
    "Reader",
    "detect",
    "event_id",
    "files_in",
    "read",
    "reader",
]

#: Every reader, in the order :func:`detect` asks them.
READERS: tuple[Reader, ...] = (actiwatch, mmash, jsonl, fitbit)
#: What ``--format`` accepts.
FORMATS: tuple[str, ...] = ("auto", *(r.NAME for r in READERS))


def reader(name: str) -> Reader:
    """The reader module called ``name``.

    Examples
    --------
    >>> reader("mmash").NAME
    'mmash'
    >>> reader("garmin")
    Traceback (most recent call last):
    ...
    phenotyping.errors.FormatError: format: 'garmin' is not one of ('auto', ...)
    """
    for r in READERS:
        if r.NAME == name:
            return r
    raise FormatError(f"format: {name!r} is not one of {FORMATS}")


def detect(path: Path) -> str:
    """Name the format of ``path`` (a file or a folder)."""
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    for r in READERS:
        if r.sniff(path):
            return r.NAME
    if path.is_file():
        raise FormatError(f"{path}: cannot tell the format (use --format)")
    kinds = {detect(p) for p in files_in(path)}
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise FormatError(f"{path}: no recordings found")
    raise FormatError(f"{path}: mixed formats {sorted(kinds)}; replay them separately")


def files_in(path: Path) -> list[Path]:
    """Recordings (files, or folders such as MMASH users) under ``path``, in a stable
    (natural) order; a file is its own recording."""
    if path.is_file() or any(r.sniff(path) for r in READERS):
        return [path]
    found = {u for r in READERS for u in r.units(path)}
    return sorted(sorted(found), key=natural_key)


def read(
    path: Path,
    fmt: str = "auto",
    report: ReadReport | None = None,
    options: ReadOptions | None = None,
) -> Iterator[AnyMessage]:
    """Messages from every recording under ``path``."""
    report = report if report is not None else ReadReport()
    fmt = detect(path) if fmt == "auto" else fmt
    r = reader(fmt)
    for f in files_in(path):
        report.files += 1
        yield from r.read(f, report=report, options=options)
