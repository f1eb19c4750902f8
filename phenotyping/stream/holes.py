"""Stop at the hole: the per-partition order check of the device agent.

faust's fetch loop and its seek to the committed offsets race each other after a
rebalance: records fetched while the tables were restored can be dropped for good, and a
record beyond them delivered (docs/failure-modes.md). Processing that later record and
releasing its offset would lose the dropped ones silently -- their subjects' stored
offsets then pass them, and faust's own gap bookkeeping lets the commit pass them too.

:class:`OffsetGuard` keeps, per source partition, the next offset the agent expects (set
by every seek: the committed offset, or the partition's start) and decides for each record
whether the agent may process it. A record beyond the expected offset is a hole: neither
it nor any later record of that partition is processed or released; the caller seeks the
partition back to the expected offset and the records come again. A hole that comes back
unchanged ``max_retries`` times (a transaction marker, an aborted or compacted/deleted
record) is accepted. Pure and synchronous: no faust, no clock of its own.

>>> g = OffsetGuard(max_retries=2)
>>> g.reset("p0", 10)
>>> g.check("p0", 10), g.check("p0", 11)
('process', 'process')
>>> g.check("p0", 13)   # 12 is missing: seek back to 12
'seek'
>>> g.check("p0", 14)   # fetched before the seek: dropped, no new seek
'drop'
>>> g.check("p0", 12), g.check("p0", 13)  # the re-read
('process', 'process')
>>> g.check("p0", 9)    # below the expected offset: a redelivery, processed as before
'process'
>>> g.check("p0", 16), g.check("p0", 16), g.check("p0", 16)  # 14, 15 never come back
('seek', 'seek', 'accept')
>>> g.expected("p0")
17
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

Verdict = Literal["process", "seek", "drop", "accept"]
K = TypeVar("K", bound=Hashable)  # a partition


@dataclass
class _Partition:
    expected: int  # the next offset the agent may process
    hole_at: int | None = None  # offset of the record that showed the hole (since a seek)
    retries: int = 0  # times the hole was seen after a seek back (same expected offset)
    sought_at: float = 0.0  # the caller's clock when it last sought back (re-seek timer)


class OffsetGuard(Generic[K]):
    """Per-partition "next expected offset"; see the module docstring.

    Verdicts of :meth:`check`:

    * ``process`` -- the expected record (the expected offset moves on), a redelivery
      below it (processed as before: the stored offsets skip it), or a partition with no
      known expected offset yet (it becomes known from this record);
    * ``seek`` -- a hole: do not process or release the record; seek the partition back
      to :meth:`expected`;
    * ``drop`` -- a later record of a partition with an open hole (already fetched when
      the seek was made): do not process or release it;
    * ``accept`` -- the hole came back unchanged ``max_retries`` times: the missing
      offsets hold no record (transaction marker, aborted or deleted record); process this
      record (the expected offset moves past it).
    """

    def __init__(self, max_retries: int = 3) -> None:
        if max_retries < 1:
            raise ValueError(f"max_retries: must be >= 1, got {max_retries}")
        self.max_retries = max_retries
        self._parts: dict[K, _Partition] = {}

    def reset(self, tp: K, offset: int) -> None:
        """The partition was sought to ``offset`` (assignment, rebalance, rewind)."""
        self._parts[tp] = _Partition(expected=offset)

    def forget(self, tp: K) -> None:
        """The partition was revoked."""
        self._parts.pop(tp, None)

    def expected(self, tp: K) -> int | None:
        part = self._parts.get(tp)
        return None if part is None else part.expected

    def open_holes(self) -> dict[K, int]:
        """Partitions with an open hole -> their expected offset."""
        return {tp: p.expected for tp, p in self._parts.items() if p.hole_at is not None}

    def sought(self, tp: K, now: float) -> None:
        """The caller sought ``tp`` back to its expected offset at ``now``."""
        part = self._parts.get(tp)
        if part is not None:
            part.sought_at = now

    def stale(self, now: float, after: float) -> list[K]:
        """Open holes whose last seek back is older than ``after``: nothing has come since
        (the fetch loop can drop the re-read too, if a batch fetched before the seek was
        still being delivered); the caller seeks them again."""
        return [
            tp
            for tp, p in self._parts.items()
            if p.hole_at is not None and now - p.sought_at >= after
        ]

    def check(self, tp: K, offset: int) -> Verdict:
        part = self._parts.get(tp)
        if part is None:
            self._parts[tp] = _Partition(expected=offset + 1)
            return "process"
        if offset < part.expected:
            return "process"
        if offset == part.expected:
            part.expected = offset + 1
            part.hole_at, part.retries = None, 0
            return "process"
        if part.hole_at is not None and offset > part.hole_at:
            return "drop"  # fetched before the seek back; it comes again after the hole
        # a hole: seen first, or the read after a seek back starts beyond the expected
        # offset again
        part.retries += 1
        if part.retries > self.max_retries:
            part.expected = offset + 1
            part.hole_at, part.retries = None, 0
            return "accept"
        part.hole_at = offset
        return "seek"
