"""A replay's bulky outputs kept in a temporary file, not in memory.

An in-process replay of a population study produces one daily row (~100 values, ~6-12 KB
as a Python dict) per subject-day and needs every subject's whole minute series for the
per-recording summary. Held in memory that is ~1 MB per subject-quarter: 10,000 subjects
would need ~9 GB. Here both go to an anonymous temporary file as they are produced; memory
keeps an index of a few bytes per row or segment.

Rows are stored with :mod:`marshal` (built-in types only: NumPy scalars are converted to
the Python ``float``/``int``/``bool`` they equal, so a row reads back equal to the one
stored, NaN included). Alerts, notices and recording rows go the same way
(:class:`SpilledItems`), and subject states parked beyond the live ones go to a file of
reusable slots (:class:`ParkedStates`). Each file is private to this process and deleted
when closed; it never holds anything but what this process wrote. A file that cannot be
created, written or read back raises :class:`SpillError`, naming which file and why.

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
import os
import tempfile
import time
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
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


class SpillError(OSError):
    """A spill file could not be created, written or read back (names the file's role and
    the operating system's reason)."""


def _spill_file(role: str) -> IO[bytes]:
    try:
        return tempfile.TemporaryFile(buffering=1 << 20)  # fewer, larger writes
    except OSError as exc:
        raise SpillError(
            f"{role}: cannot create a temporary file in {tempfile.gettempdir()!r} "
            f"({exc.strerror or exc}); set TMPDIR to a writable folder with free space"
        ) from exc


class _File:
    """Append-only anonymous temporary file of byte records."""

    def __init__(self, role: str = "spill file") -> None:
        self._fh: IO[bytes] | None = None
        self._end = 0
        self._appending = False  # the file position is at the end (no read since)
        self._role = role

    @property
    def end(self) -> int:
        """Bytes written so far (where the next record starts)."""
        return self._end

    def put(self, data: bytes) -> int:
        try:
            if self._fh is None:
                self._fh = _spill_file(self._role)
                weakref.finalize(self, self._fh.close)  # closed (and so deleted) with us
            if not self._appending:  # a seek flushes the buffer: only after a read
                self._fh.seek(self._end)
                self._appending = True
            self._fh.write(data)
        except SpillError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: the file was closed
            raise SpillError(f"{self._role}: cannot write the temporary file ({exc})") from exc
        at, self._end = self._end, self._end + len(data)
        return at

    def get(self, at: int, size: int) -> bytes:
        if self._fh is None or at < 0 or at + size > self._end:
            raise SpillError(f"{self._role}: record at {at} (+{size}) is not in the file")
        self._appending = False
        try:
            self._fh.seek(at)
            data = self._fh.read(size)
        except (OSError, ValueError) as exc:
            raise SpillError(f"{self._role}: cannot read the temporary file ({exc})") from exc
        if len(data) != size:  # truncated under us
            raise SpillError(f"{self._role}: record at {at} is short ({len(data)} of {size} bytes)")
        return data

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a spill file stays in its process (convert to a list first)")


def _load(data: bytes, role: str) -> Any:
    try:
        return marshal.loads(data)
    except (EOFError, ValueError, TypeError) as exc:
        raise SpillError(f"{role}: a record does not read back ({exc})") from exc


class _Records(Sequence[dict[str, Any]]):
    """Dicts appended to a temporary file; memory keeps 8 bytes a record (where it ends).

    Equal to any sequence of equal dicts (a list included), in order."""

    _role = "spilled records"

    def __init__(self) -> None:
        self._file = _File(self._role)
        self._ends = array("q")  # record i is the file's bytes [ends[i - 1], ends[i])
        self._order: NDArray[np.int32] | NDArray[np.int64] | None = None  # i -> record

    def append(self, item: dict[str, Any]) -> None:
        try:
            data = marshal.dumps(_plain(item))
        except ValueError as exc:  # a type marshal cannot store: say which record
            raise SpillError(f"{self._role}: record {len(self)} cannot be stored ({exc})") from exc
        self._file.put(data)
        self._ends.append(self._file.end)
        self._order = None

    def extend(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            self.append(item)

    def reorder(self, order: NDArray[np.integer[Any]]) -> None:
        """Read the records in ``order`` (a permutation of their append order) from now on,
        until the next append."""
        if order.shape != (len(self),) or (
            len(order) and not np.array_equal(np.sort(order), np.arange(len(order)))
        ):
            raise ValueError(f"{self._role}: the order is not a permutation of {len(self)}")
        self._order = order.astype(np.int32) if len(order) < 1 << 31 else order.astype(np.int64)

    def __len__(self) -> int:
        return len(self._ends)

    def _get(self, j: int) -> dict[str, Any]:
        at = self._ends[j - 1] if j else 0
        item: dict[str, Any] = _load(self._file.get(at, self._ends[j] - at), self._role)
        return item

    def _row(self, i: int) -> dict[str, Any]:
        return self._get(int(self._order[i]) if self._order is not None else i)

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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} on disk>"


class SpilledItems(_Records):
    """Alerts, notices or recording rows (nested dicts and lists of built-in values) on
    disk, in the order appended.

    >>> items = SpilledItems("alerts")
    >>> items.append({"kind": "opened", "domains": ["sleep"], "z": np.float64(2.5)})
    >>> items == [{"kind": "opened", "domains": ["sleep"], "z": 2.5}], len(items)
    (True, 1)
    """

    def __init__(self, role: str = "spilled items") -> None:
        self._role = role
        super().__init__()


class SpilledRows(_Records):
    """Daily rows on disk; ``sort`` orders them by (subject, date) without loading them.

    Memory: 16 bytes a row (where it ends, its subject's number, its date), and 4 more
    once sorted."""

    _role = "spilled daily rows"

    def __init__(self) -> None:
        super().__init__()
        self._subject = array("i")
        self._date = array("i")  # yyyymmdd
        self._subjects: dict[str, int] = {}

    def append(self, row: dict[str, Any]) -> None:
        try:
            data = marshal.dumps(_plain_row(row))
        except ValueError as exc:
            raise SpillError(f"{self._role}: row {len(self)} cannot be stored ({exc})") from exc
        self._file.put(data)
        self._ends.append(self._file.end)
        subject = str(row.get("subject_id", ""))
        self._subject.append(self._subjects.setdefault(subject, len(self._subjects)))
        self._date.append(int(str(row.get("date", "0")).replace("-", "") or 0))
        self._order = None

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    def sort(self, subject_key: Callable[[str], Any]) -> None:
        """Order by ``subject_key(subject_id)``, then date (ISO dates sort as numbers);
        subjects whose keys are equal by their ids."""
        names = sorted(self._subjects, key=lambda s: (subject_key(s), s))
        rank = np.empty(len(names), np.int32)
        for r, name in enumerate(names):
            rank[self._subjects[name]] = r
        subj = rank[np.frombuffer(self._subject, dtype=np.int32)]
        dates = np.frombuffer(self._date, dtype=np.int32)
        order = np.lexsort((dates, subj)) if len(dates) else np.empty(0, np.int64)
        self._order = order.astype(np.int32) if len(order) < 1 << 31 else order


class SpilledSeries:
    """Per-subject minute segments ``(start minute, offset, values)`` on disk.

    A segment that continues the subject's previous one -- next minute, same UTC offset,
    next in the file (a recording read in order) -- extends it: memory keeps ~32 bytes per
    run of contiguous segments, not per message."""

    def __init__(self) -> None:
        self._file = _File("spilled minute series")
        # per subject, 4 numbers a run (start, offset, at, length) in one flat array
        self._index: dict[str, array[int]] = {}

    def add(self, subject: str, start: int, offset: int, values: NDArray[np.float64]) -> None:
        data = np.ascontiguousarray(values, dtype=np.float64).tobytes()
        at = self._file.put(data)
        index = self._index.get(subject)
        if index is None:
            index = self._index[subject] = array("q")
        elif (
            index[-4] + index[-1] == start
            and index[-3] == offset
            and index[-2] + 8 * index[-1] == at
        ):
            index[-1] += len(values)
            return
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


class _SlotFile:
    """Byte records in a temporary file, each in a slot of a power-of-two size (>= 4 KiB);
    a freed slot is reused by the next record of its size class, so the file holds at
    most about twice the bytes of the records it holds at the peak, per class."""

    def __init__(self, role: str) -> None:
        self._role = role
        self._fh: IO[bytes] | None = None
        self._end = 0
        self._free: dict[int, list[int]] = {}  # size class -> free slots' offsets

    @staticmethod
    def _class(size: int) -> int:
        return max(12, (size - 1).bit_length())

    def put(self, data: bytes) -> int:
        if self._fh is None:
            self._fh = _spill_file(self._role)
            weakref.finalize(self, self._fh.close)
        cls = self._class(len(data))
        free = self._free.get(cls)
        if free:
            at = free.pop()
        else:
            at, self._end = self._end, self._end + (1 << cls)
        try:
            written = os.pwrite(self._fh.fileno(), data, at)
        except (OSError, ValueError) as exc:
            raise SpillError(f"{self._role}: cannot write the temporary file ({exc})") from exc
        if written != len(data):
            raise SpillError(f"{self._role}: short write ({written} of {len(data)} bytes)")
        return at

    def take(self, at: int, size: int) -> bytes:
        """The record at ``at`` (``size`` bytes); its slot is free afterwards."""
        if self._fh is None or at < 0 or at + size > self._end:
            raise SpillError(f"{self._role}: record at {at} (+{size}) is not in the file")
        try:
            data = os.pread(self._fh.fileno(), size, at)
        except (OSError, ValueError) as exc:
            raise SpillError(f"{self._role}: cannot read the temporary file ({exc})") from exc
        if len(data) != size:
            raise SpillError(f"{self._role}: record at {at} is short ({len(data)} of {size} bytes)")
        self._free.setdefault(self._class(size), []).append(at)
        return data

    def read(self, at: int, size: int) -> bytes:
        """The record at ``at`` (``size`` bytes), left in its slot."""
        assert self._fh is not None
        return os.pread(self._fh.fileno(), size, at)

    @property
    def size(self) -> int:
        return self._end

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a spill file stays in its process")


class ParkedStates(MutableMapping[str, SubjectState]):
    """Subject states for :class:`phenotyping.pipeline.Pipeline`: the ``live`` most
    recently used as objects, the others parked as their compressed ``to_bytes()``
    (exact round trip, ~10-40 KiB instead of ~150-250 KiB of live arrays) -- in a
    temporary file (``on_disk``, the default: memory keeps ~100 bytes a parked subject) or
    in memory.

    A state handed out is only mutated by the pipeline step that asked for it, before it
    asks for another subject; parking it then stores everything that step did.
    """

    def __init__(self, live: int = 64, *, on_disk: bool = True) -> None:
        self._live: OrderedDict[str, SubjectState] = OrderedDict()
        # parked: the bytes themselves, or where they are in the file (offset << 32 | size)
        self._parked: dict[str, bytes | int] = {}
        self._slots = _SlotFile("parked subject states") if on_disk else None
        self._capacity = max(1, live)
        self._bytes = 0  # of the parked states

    def _park(self, subject: str, state: SubjectState) -> None:
        blob = state.to_bytes()
        if len(blob) >= 1 << 32:  # the packed size would overflow (a 4 GiB state)
            raise SpillError(f"parked subject states: a state of {len(blob):,} bytes")
        self._parked[subject] = (
            blob if self._slots is None else self._slots.put(blob) << 32 | len(blob)
        )
        self._bytes += len(blob)

    def _unpark(self, subject: str) -> bytes:
        held = self._parked.pop(subject)  # KeyError when unknown, as a dict
        if isinstance(held, bytes):
            self._bytes -= len(held)
            return held
        assert self._slots is not None
        self._bytes -= held & 0xFFFFFFFF
        return self._slots.take(held >> 32, held & 0xFFFFFFFF)

    def _blob(self, held: bytes | int) -> bytes:
        if isinstance(held, bytes):
            return held
        assert self._slots is not None
        return self._slots.read(held >> 32, held & 0xFFFFFFFF)

    def _make_room(self) -> None:
        while len(self._live) > self._capacity:
            subject, state = self._live.popitem(last=False)
            self._park(subject, state)

    def __getitem__(self, subject: str) -> SubjectState:
        state = self._live.get(subject)
        if state is not None:
            self._live.move_to_end(subject)
            return state
        state = self._live[subject] = SubjectState.from_bytes(self._unpark(subject))
        self._make_room()
        return state

    def __setitem__(self, subject: str, state: SubjectState) -> None:
        if subject in self._parked:
            self._unpark(subject)
        self._live[subject] = state
        self._live.move_to_end(subject)
        self._make_room()

    def __delitem__(self, subject: str) -> None:
        if self._live.pop(subject, None) is None:
            self._unpark(subject)

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
        for subject, held in list(self._parked.items()):
            blob = self._blob(held)
            yield subject, SubjectState.from_bytes(blob), len(blob)

    def parked_bytes(self) -> int:
        """Bytes of the parked states (on disk or in memory)."""
        return self._bytes

    def parked(self) -> int:
        """How many states are parked."""
        return len(self._parked)

    def file_bytes(self) -> int:
        """Size of the parked states' file (0 when they are kept in memory)."""
        return 0 if self._slots is None else self._slots.size


class MemoryReturn:
    """Hands the memory the C allocator keeps after it was freed back to the system
    (glibc's ``malloc_trim(0)``), at most once per ``every_s`` seconds of this process's
    CPU time, so that it costs ~0.2 % at most (one call takes ~2 ms on a ~400 MB heap).

    A replay frees far more than it keeps: parse buffers, day-close arrays, states that
    went live and were parked again. glibc keeps most freed pages (the dynamic mmap
    threshold moves large NumPy arrays onto the heap), so RSS climbs with what was freed.
    Measured (``benchmarks/replay_memory.py``): 1,485 subjects x ~90 days end at 391 MB
    RSS, 323 MB after one ``malloc_trim(0)``. Where there is no glibc this does nothing.
    """

    def __init__(self, every_s: float = 1.0) -> None:
        self._every = every_s
        self._next = time.process_time() + every_s  # the first after a CPU-second too
        self._trim: Callable[[int], int] | None = None
        try:
            import ctypes

            self._trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (macOS, musl without it, Windows)
            self._trim = None

    def __call__(self) -> None:
        if self._trim is None:
            return
        now = time.process_time()
        if now >= self._next:
            self._trim(0)
            self._next = time.process_time() + self._every
