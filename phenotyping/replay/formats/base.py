"""What every reader shares: the :class:`ReadReport`, deterministic :func:`event_id`\\ s,
the :class:`ReadOptions` and small helpers.

A reader module (one per format, listed in :data:`phenotyping.replay.formats.READERS`)
exposes:

``NAME: str``
    the format's name (``--format NAME``).
``sniff(path) -> bool``
    whether ``path`` (a file, or a folder that is one recording) is a recording of this
    format; may raise :class:`~phenotyping.errors.FormatError` when the file is unreadable.
``units(path) -> list[Path]``
    the recordings of this format under ``path`` (a file or a folder each).
``read(unit, *, report, options) -> Iterator[AnyMessage]``
    the wire messages of one recording, in event-time order per subject; unusable rows
    are counted in ``report`` with their reason, nothing is silently dropped.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from phenotyping.errors import FormatError
from phenotyping.events import AnyMessage

M = TypeVar("M", bound=BaseModel)


@dataclass
class ReadReport:
    """What a reader used and what it could not, with reasons.

    Examples
    --------
    >>> report = ReadReport()
    >>> report.reject("actiwatch: unparseable timestamp", 2)
    >>> report.reject("nothing", 0)
    >>> dict(report.unusable)
    {'actiwatch: unparseable timestamp': 2}
    """

    files: int = 0
    rows: int = 0
    messages: int = 0
    unusable: Counter[str] = field(default_factory=Counter)
    #: files under a replayed folder that belong to no recording (no reader recognises
    #: them): named, not passed over in silence
    not_read: list[str] = field(default_factory=list)

    def reject(self, reason: str, n: int = 1) -> None:
        if n:
            self.unusable[reason] += n


@dataclass(frozen=True)
class ReadOptions:
    """How to read a recording where the file itself does not say.

    ``tz``: IANA zone of a recording in local wall-clock time (None: the format's
    default); ``columns``: our column name -> the file's, for formats with configurable
    columns; ``epoch_s``: the epoch length when the file does not carry it; ``subject``:
    the pseudonymous id to use instead of the one a reader takes from a file or folder
    name.

    Examples
    --------
    >>> ReadOptions(tz="Europe/Oslo").tz
    'Europe/Oslo'
    >>> ReadOptions().column("activity")
    'activity'
    """

    tz: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    epoch_s: int | None = None
    subject: str | None = None

    def column(self, name: str) -> str:
        """The file's name for our column ``name``."""
        return self.columns.get(name, name)


class Reader(Protocol):
    """The shape of a reader module (see the module docstring)."""

    NAME: str

    def sniff(self, path: Path) -> bool: ...

    def units(self, path: Path) -> list[Path]: ...

    def read(
        self, unit: Path, *, report: ReadReport | None = None, options: ReadOptions | None = None
    ) -> Iterator[AnyMessage]: ...


def event_id(subject: str, kind: str, start: dt.datetime, source: str) -> str:
    """Deterministic id: the same recorded data always gets the same id.

    Examples
    --------
    >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    >>> event_id("s1", "activity", t, "x") == event_id("s1", "activity", t, "x")
    True
    >>> event_id("s1", "activity", t, "x").startswith("activity:")
    True
    """
    digest = hashlib.blake2b(
        f"{subject}|{kind}|{source}|{start.isoformat()}".encode(), digest_size=10
    ).hexdigest()
    return f"{kind}:{digest}"


def first_line(path: Path) -> str:
    """The first line of a (possibly gzipped) text file, stripped."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            return str(fh.readline()).strip()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: unreadable ({exc})") from None


def files_under(path: Path, *suffixes: str) -> list[Path]:
    """Files under the folder ``path`` whose lower-case name ends with one of ``suffixes``."""
    return [p for p in sorted(path.rglob("*")) if p.is_file() and p.name.lower().endswith(suffixes)]


def validated(model: type[M], data: dict[str, Any], report: ReadReport, rows: int) -> M | None:
    """``model.model_validate(data)``, or None with the rows counted under the rule broken."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = ".".join(str(p) for p in first["loc"]) or "message"
        report.reject(f"{model.__name__}: {name}: {first['msg']}", rows)
        return None


def nullable(values: np.ndarray, cast: type = float) -> list[Any]:
    """NumPy values -> a JSON-able list with None for NaN.

    Examples
    --------
    >>> nullable(np.array([1.0, np.nan]))
    [1.0, None]
    """
    return [None if v != v else cast(v) for v in values.tolist()]
