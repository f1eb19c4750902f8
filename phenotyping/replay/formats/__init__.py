"""Readers of third-party recording formats, one module per format.

Each module exposes ``NAME``, ``sniff(path) -> bool``, ``units(path) -> list[Path]`` (the
recordings under a path, a file or a folder each) and
``read(unit, *, report, options) -> Iterator[Message]``. ``--format auto`` tries
:data:`BEFORE_JSONL` first (content-sniffed JSON), then the built-in actiwatch, MMASH and
JSONL readers, then :data:`READERS` in order.
"""

from __future__ import annotations

from types import ModuleType

from phenotyping.replay.formats import apple_health, generic_csv

READERS: tuple[ModuleType, ...] = (apple_health, generic_csv)
BY_NAME: dict[str, ModuleType] = {m.NAME: m for m in READERS}
#: Readers whose recording is a folder (an export or a session).
FOLDER_READERS: tuple[ModuleType, ...] = (apple_health,)
#: Readers of single files other than CSV.
FILE_READERS: tuple[ModuleType, ...] = (apple_health,)
#: Readers of JSON files, tried before our own JSONL (they sniff the content).
BEFORE_JSONL: tuple[ModuleType, ...] = ()
