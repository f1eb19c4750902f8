"""A replay's bulky outputs kept in a temporary file, not in memory.

An in-process replay of a population study produces one daily row (~100 values, ~6-12 KB
as a Python dict) per subject-day and needs every subject's whole minute series for the
per-recording summary. Held in memory that is ~1 MB per subject-quarter: 10,000 subjects
would need ~9 GB. Here both go to an anonymous temporary file as they are produced; memory
keeps an index of a few bytes per row or segment.

Rows are stored with :mod:`marshal` (built-in types only: NumPy scalars are converted to
the Python ``float``/``int``/``bool`` they equal, so a row reads back equal to the one
stored, NaN included). The file is private to this process and deleted when closed; it
never holds anything but what this process wrote.

Examples
--------
>>> rows = SpilledRows()
>>> rows.append({"subject_id": "b", "date": "2024-01-02", "x": float("nan")})
>>> rows.append({"subject_id": "a", "date": "2024-01-03", "x": 1.5})
>>> rows.sort(lambda s: s)
>>> [r["subject_id"] for r in rows], len(rows), rows[-1]["x"] != rows[-1]["x"]
(['a', 'b'], 2, True)
"""

from __future__ import annotations

import marshal
import tempfile
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import IO, Any, overload

import numpy as np
from numpy.typing import NDArray

from phenotyping.pipeline import SubjectState

_BUILTIN = (float, int, str, bool, type(None))


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(_plain(x) for x in v)
    return v


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with NumPy scalars as the built-in values they equal (one pass; nested
    containers, rare, recursively). Needed: marshal does not refuse a NumPy scalar, it
    writes its buffer as ``bytes``."""
    return {k: v if type(v) in _BUILTIN else _plain(v) for k, v in row.items()}


class _File:
    """Append-only anonymous temporary file of byte records."""

    def __init__(self) -> None:
        self._fh: IO[bytes] | None = None
        self._end = 0
        self._appending = False  # the file position is at the end (no read since)

    def put(self, data: bytes) -> int:
        if self._fh is None:
            self._fh = tempfile.TemporaryFile(buffering=1 << 20)  # fewer, larger writes
            weakref.finalize(self, self._fh.close)  # closed (and so deleted) with us
        if not self._appending:  # a seek flushes the buffer: only after a read
            self._fh.seek(self._end)
            self._appending = True
        self._fh.write(data)
        at, self._end = self._end, self._end + len(data)
        return at

    def get(self, at: int, size: int) -> bytes:
        assert self._fh is not None
        self._appending = False
        self._fh.seek(at)
        return self._fh.read(size)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a spill file stays in its process (convert to a list first)")


class SpilledRows(Sequence[dict[str, Any]]):
    """Daily rows on disk; ``sort`` orders them by (subject, date) without loading them."""

    def __init__(self) -> None:
        self._file = _File()
        self._at = array("q")
        self._size = array("q")
        self._subject = array("l")
        self._date = array("l")
        self._subjects: dict[str, int] = {}
        self._order: NDArray[np.int64] | None = None

    def append(self, row: dict[str, Any]) -> None:
        data = marshal.dumps(_plain_row(row))
        self._at.append(self._file.put(data))
        self._size.append(len(data))
        subject = str(row.get("subject_id", ""))
        self._subject.append(self._subjects.setdefault(subject, len(self._subjects)))
        self._date.append(int(str(row.get("date", "0")).replace("-", "") or 0))
        self._order = None

    def extend(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    def sort(self, subject_key: Callable[[str], Any]) -> None:
        """Order by ``subject_key(subject_id)``, then date (ISO dates sort as numbers)."""
        names = sorted(self._subjects, key=subject_key)
        rank = np.empty(len(names), np.int64)
        for r, name in enumerate(names):
            rank[self._subjects[name]] = r
        subj = rank[np.frombuffer(self._subject, dtype=np.dtype(self._subject.typecode))]
        dates = np.frombuffer(self._date, dtype=np.dtype(self._date.typecode))
        self._order = np.lexsort((dates, subj)) if len(dates) else np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self._at)

    def _row(self, i: int) -> dict[str, Any]:
        j = int(self._order[i]) if self._order is not None else i
        row: dict[str, Any] = marshal.loads(self._file.get(self._at[j], self._size[j]))
        return row

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._row(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._row(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self._row(i)


class SpilledSeries:
    """Per-subject minute segments ``(start minute, offset, values)`` on disk."""

    def __init__(self) -> None:
        self._file = _File()
        # per subject, 4 numbers a segment (start, offset, at, length) in one flat array:
        # ~32 bytes a segment where a tuple of 4 ints is ~180
        self._index: dict[str, array[int]] = {}

    def add(self, subject: str, start: int, offset: int, values: NDArray[np.float64]) -> None:
        data = np.ascontiguousarray(values, dtype=np.float64).tobytes()
        at = self._file.put(data)
        index = self._index.get(subject)
        if index is None:
            index = self._index[subject] = array("q")
        index.extend((start, offset, at, len(values)))

    def subjects(self) -> list[str]:
        return list(self._index)

    def parts(self, subject: str) -> list[tuple[int, int, NDArray[np.float64]]]:
        out = []
        index = self._index[subject]
        for i in range(0, len(index), 4):
            start, off, at, n = index[i : i + 4]
            values = np.frombuffer(self._file.get(at, 8 * n), dtype=np.float64)
            out.append((start, off, values))
        return out


class ParkedStates(MutableMapping[str, SubjectState]):
    """Subject states for :class:`phenotyping.pipeline.Pipeline`: the ``live`` most
    recently used as objects, the others parked as their compressed ``to_bytes()``
    (exact round trip, ~20-40 KiB instead of ~150 KiB of live arrays).

    A state handed out is only mutated by the pipeline step that asked for it, before it
    asks for another subject; parking it then stores everything that step did.
    """

    def __init__(self, live: int = 64) -> None:
        self._live: OrderedDict[str, SubjectState] = OrderedDict()
        self._parked: dict[str, bytes] = {}
        self._capacity = max(1, live)

    def _make_room(self) -> None:
        while len(self._live) > self._capacity:
            subject, state = self._live.popitem(last=False)
            self._parked[subject] = state.to_bytes()

    def __getitem__(self, subject: str) -> SubjectState:
        state = self._live.get(subject)
        if state is not None:
            self._live.move_to_end(subject)
            return state
        blob = self._parked.pop(subject)  # KeyError when unknown, as a dict
        state = self._live[subject] = SubjectState.from_bytes(blob)
        self._make_room()
        return state

    def __setitem__(self, subject: str, state: SubjectState) -> None:
        self._parked.pop(subject, None)
        self._live[subject] = state
        self._live.move_to_end(subject)
        self._make_room()

    def __delitem__(self, subject: str) -> None:
        if self._live.pop(subject, None) is None:
            del self._parked[subject]

    def __iter__(self) -> Iterator[str]:
        yield from list(self._live)
        yield from list(self._parked)

    def __len__(self) -> int:
        return len(self._live) + len(self._parked)

    def peek(self, sizes: bool = True) -> Iterator[tuple[str, SubjectState, int]]:
        """Every subject, its state and the bytes of that state (0 for a live state
        unless ``sizes``), without making parked states live (a parked state is read from
        its bytes, and nothing else is parked)."""
        for subject, state in list(self._live.items()):
            yield subject, state, len(state.to_bytes()) if sizes else 0
        for subject, blob in list(self._parked.items()):
            yield subject, SubjectState.from_bytes(blob), len(blob)

    def parked_bytes(self) -> int:
        """Bytes held by the parked states."""
        return sum(len(b) for b in self._parked.values())
