"""A small, versioned, pickle-free envelope for per-subject state.

``pack(magic, version, header, arrays)`` writes ``magic | version | zlib(len(header) |
header JSON | raw array bytes)``. The reader supplies the dtype of every array, so a
state can never make us construct arbitrary objects (unlike pickle).

Examples
--------
>>> import numpy as np
>>> blob = pack(b"TEST", 1, {"n": 3}, {"x": np.arange(3.0)})
>>> header, arrays = unpack(blob, b"TEST", 1, {"x": np.dtype("<f8")})
>>> header["n"], arrays["x"].tolist()
(3, [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from phenotyping.errors import StateError


def pack(
    magic: bytes, version: int, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]
) -> bytes:
    """Serialise a JSON-able ``header`` and 1-D ``arrays``."""
    head = dict(header)
    head["arrays"] = {k: int(v.shape[0]) for k, v in arrays.items()}
    text = json.dumps(head, separators=(",", ":")).encode()
    body = b"".join(np.ascontiguousarray(v).tobytes() for v in arrays.values())
    payload = struct.pack("<I", len(text)) + text + body
    return magic + struct.pack("<H", version) + zlib.compress(payload, 1)


def unpack(
    data: bytes, magic: bytes, version: int, dtypes: Mapping[str, np.dtype[Any]]
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Inverse of :func:`pack`; refuses a wrong magic, version or array name."""
    if data[: len(magic)] != magic:
        raise StateError(f"state: not a {magic.decode(errors='replace')} state (bad magic)")
    (got,) = struct.unpack("<H", data[len(magic) : len(magic) + 2])
    if got != version:
        raise StateError(f"state: unknown version {got} of {magic.decode(errors='replace')}")
    try:
        payload = zlib.decompress(data[len(magic) + 2 :])
        (hlen,) = struct.unpack("<I", payload[:4])
        header = json.loads(payload[4 : 4 + hlen])
        pos = 4 + hlen
        arrays: dict[str, NDArray[Any]] = {}
        for name, n in header.pop("arrays").items():
            dt = dtypes[name]
            arrays[name] = np.frombuffer(payload, dt, n, pos).copy()
            pos += dt.itemsize * n
    except (zlib.error, struct.error, ValueError, KeyError) as exc:
        raise StateError(f"state: corrupt ({exc.__class__.__name__})") from None
    return header, arrays
