"""Readers for recorded streams, one module per format, and the registry that picks one.

Each reader turns a recording into the wire messages a device would have sent, in
event-time order per subject, counting unusable rows with their reason in a
:class:`~phenotyping.replay.formats.base.ReadReport` (nothing is silently dropped).
:mod:`phenotyping.replay.formats.base` describes the contract a reader module fulfils; to
add a format, write ``formats/<name>.py`` in that shape and list it in :data:`READERS`.

Formats: ``actiwatch`` (Depresjon / Psykose minute CSV), ``mmash`` (MMASH user folders),
``fitbit`` (Fitbit account exports), ``apple_health`` (Apple Health ``export.xml``),
``empatica`` (Empatica E4 session folders: ``IBI.csv``, ``ACC.csv``),
``omh`` (Open mHealth data points, JSON or JSONL; before ``jsonl``, which would claim
any ``.jsonl``), ``jsonl`` (our own wire messages), ``generic_csv`` (ActiLife / GGIR /
any epoch CSV; last, as it accepts any CSV with a time and a count column).
``docs/importers.md`` says what each gives. A recording folder (an MMASH user, a Fitbit
or Apple export, an Empatica session) owns the files inside it: they are not also read as
recordings of another format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage, natural_key
from phenotyping.replay.formats import (
    actiwatch,
    apple_health,
    empatica,
    fitbit,
    generic_csv,
    jsonl,
    mmash,
    omh,
)
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
    "may_hold_many",
    "not_recordings",
    "read",
    "reader",
]

#: Every reader, in the order :func:`detect` asks them.
READERS: tuple[Reader, ...] = (
    actiwatch,
    mmash,
    fitbit,
    apple_health,
    empatica,
    omh,
    jsonl,
    generic_csv,
)
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


def _sniff(r: Reader, path: Path, options: ReadOptions | None) -> bool:
    if r.NAME == generic_csv.NAME:  # column names given on the command line count for detection
        return generic_csv.sniff(path, options)
    return r.sniff(path)


def detect(path: Path, options: ReadOptions | None = None) -> str:
    """Name the format of ``path`` (a file or a folder)."""
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    for r in READERS:
        if _sniff(r, path, options):
            return r.NAME
    if path.is_file():
        raise FormatError(f"{path}: cannot tell the format (use --format)")
    kinds = set()
    for p in files_in(path, options):
        try:
            kinds.add(detect(p, options))
        except FormatError:  # unreadable: reading it will say why
            continue
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise FormatError(f"{path}: no recordings found")
    raise FormatError(f"{path}: mixed formats {sorted(kinds)}; replay them separately")


def files_in(path: Path, options: ReadOptions | None = None) -> list[Path]:
    """Recordings (files, or folders such as MMASH users) under ``path``, in a stable
    (natural) order; a file is its own recording, and a recording folder owns its files."""
    if path.is_file() or any(r.sniff(path) for r in READERS):
        return [path]
    # the CSV sniff is the one that reads the options; it is asked with them and, if the
    # options name columns of its own (which can also narrow what it accepts), without
    # them as well (without such columns the two asks are the same: asked once)
    found = {u for r in READERS if r is not generic_csv for u in r.units(path)}
    found |= set(generic_csv.units(path, options))
    if generic_csv.names_columns(options):
        found |= set(generic_csv.units(path))
    folders = {u for u in found if u.is_dir()}
    found = {u for u in found if not any(f in u.parents for f in folders)}
    return sorted(sorted(found), key=natural_key)


def may_hold_many(path: Path) -> bool:
    """Whether ``path`` may be a file of several subjects' data: one :func:`detect` could
    call JSONL or Open mHealth (by its name; whether it is one takes reading it). Any
    other recording -- a file or folder of another format, or none -- holds one subject."""
    return path.is_file() and path.name.lower().endswith(omh.SUFFIXES + jsonl.SUFFIXES)


def not_recordings(path: Path, recordings: Sequence[Path]) -> list[Path]:
    """The files under the folder ``path`` in none of ``recordings`` (what :func:`files_in`
    found there), in natural order: no reader recognises them -- a side file such as a
    licence or a score table, or a recording exported in a shape we cannot tell (a JSON
    file named ``.csv``, a header that is no known device's). A replay names them, so that
    a folder never loses a recording in silence. Hidden files and folders are left out.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> head = "timestamp,date,activity" + chr(10)
    >>> _ = (d / "s1.csv").write_text(head + "2003-05-07 12:00:00,2003-05-07,5" + chr(10))
    >>> _ = (d / "s2.csv").write_text('{"not": "a recording"}')
    >>> _ = (d / ".DS_Store").write_bytes(b"")
    >>> [f.name for f in not_recordings(d, files_in(d))]
    ['s2.csv']
    """
    if not path.is_dir():
        return []
    held = set(recordings)
    left = [
        f
        for f in path.rglob("*")
        if not any(part.startswith(".") for part in f.relative_to(path).parts)
        and f not in held
        and not any(p in held for p in f.parents)
        and f.is_file()
    ]
    return sorted(left, key=natural_key)


def read(
    path: Path,
    fmt: str = "auto",
    report: ReadReport | None = None,
    options: ReadOptions | None = None,
    *,
    tz: str | None = None,
) -> Iterator[AnyMessage]:
    """Messages from every recording under ``path`` (``tz`` overrides ``options.tz``)."""
    report = report if report is not None else ReadReport()
    if tz is not None:
        options = dataclasses.replace(options or ReadOptions(), tz=tz)
    fmt = detect(path, options) if fmt == "auto" else fmt
    r = reader(fmt)
    for f in files_in(path, options):
        report.files += 1
        yield from r.read(f, report=report, options=options)
