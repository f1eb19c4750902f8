"""Hostile bytes as per-subject state: :meth:`SubjectState.from_bytes` and the envelope
raise ``StateError`` and nothing else, and never inflate more than ``MAX_STATE_BYTES``
(issue 11, row 6). A state is untrusted input: it comes back from a Kafka changelog.
"""

from __future__ import annotations

import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phenotyping.errors import StateError
from phenotyping.features.envelope import MAX_STATE_BYTES, pack, unpack
from phenotyping.pipeline import Pipeline, SubjectState
from phenotyping.simulate import CohortSpec, simulate

BUDGET = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _real_state() -> bytes:
    pipe = Pipeline()
    for msg in simulate(CohortSpec(n_subjects=1, days=5, seed=2, rr=True)):
        pipe.process(msg)
    (state,) = pipe.store.values()
    return state.to_bytes()


STATE = _real_state()
DTYPES = {"x": np.dtype("<f8"), "y": np.dtype("<i8")}


def _decode(blob: bytes) -> None:
    try:
        SubjectState.from_bytes(blob)
    except StateError as exc:
        assert str(exc).startswith("state")


def test_a_real_state_round_trips() -> None:
    assert SubjectState.from_bytes(STATE).to_bytes() == STATE


def test_every_truncation_is_a_state_error() -> None:
    """Row 6: truncated states raised struct.error, KeyError, ... instead."""
    for n in range(0, len(STATE), max(1, len(STATE) // 400)):
        with pytest.raises(StateError):
            SubjectState.from_bytes(STATE[:n])


def _reframe(part: bytes, payload: bytes, codec: str = "zlib") -> bytes:
    """An envelope part (magic + version) around a chosen, uncompressed payload, with
    the codec written today (zstd) or before it (zlib, still read)."""
    if codec == "zstd":
        return part[:6] + zstandard.ZstdCompressor(level=1).compress(payload)
    return part[:6] + zlib.compress(payload)


def test_well_framed_states_with_wrong_contents_are_state_errors() -> None:
    head = struct.pack("<4sHH", b"PHSS", 1, 2)
    days_magic = STATE[12:18]  # first part: 4-byte size, then magic + version
    cases = [
        b'{"arrays": {}}',  # header length missing
        struct.pack("<I", 2) + b"[]",  # header not an object
        struct.pack("<I", 14) + b'{"arrays": []}',
        struct.pack("<I", 23) + b'{"arrays": {"zz": 1}}  ',  # unknown array
        struct.pack("<I", 26) + b'{"arrays": {"counts": -5}}',
        struct.pack("<I", 32) + b'{"arrays": {"counts": 1000000}}',  # beyond the payload
        struct.pack("<I", 99) + b'{"arrays"',  # header length beyond the payload
    ]
    for payload in cases:
        part = _reframe(days_magic, payload)
        blob = head + struct.pack("<I", len(part)) + part + struct.pack("<I", 0)
        with pytest.raises(StateError):
            SubjectState.from_bytes(blob)


def test_a_decompression_bomb_is_refused_without_inflating_it() -> None:
    """Row 6: 291 KB of zlib inflated to 0.9 GB. Now: refused after MAX_STATE_BYTES."""
    bomb = b"TEST" + struct.pack("<H", 1) + zlib.compress(b"\0" * (MAX_STATE_BYTES + 2**20), 9)
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(StateError, match="decompressed"):
        unpack(bomb, b"TEST", 1, DTYPES)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * MAX_STATE_BYTES, peak
    assert time.perf_counter() - t0 < 30  # generous: a bound, not a benchmark


def test_pack_unpack_round_trip() -> None:
    blob = pack(b"TEST", 1, {"n": 1}, {"x": np.arange(3.0), "y": np.arange(2)})
    header, arrays = unpack(blob, b"TEST", 1, DTYPES)
    assert header == {"n": 1}
    assert arrays["x"].tolist() == [0.0, 1.0, 2.0] and arrays["y"].tolist() == [0, 1]


# --------------------------------------------------------------------------- properties
@BUDGET
@given(st.binary(max_size=300))
def test_any_bytes_are_a_state_or_a_state_error(blob: bytes) -> None:
    _decode(blob)
    _decode(b"PHSS\x01\x00\x02\x00" + blob)


@BUDGET
@given(st.data())
def test_a_real_state_with_flipped_bytes_is_a_state_or_a_state_error(data: st.DataObject) -> None:
    blob = bytearray(STATE)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    _decode(bytes(blob))


@BUDGET
@given(st.data())
def test_a_real_part_with_a_replaced_payload_is_a_state_or_a_state_error(
    data: st.DataObject,
) -> None:
    """Garbage that survives the codec (the checksum would catch flipped bytes):
    well-formed compression around a mangled payload."""
    (n1,) = struct.unpack("<I", STATE[8:12])
    part = STATE[12 : 12 + n1]
    payload = bytearray(zstandard.ZstdDecompressor().decompress(part[6:]))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    mangled = bytes(payload[:cut] if data.draw(st.booleans()) else payload)
    new = _reframe(part, mangled, data.draw(st.sampled_from(["zlib", "zstd"])))
    rest = STATE[12 + n1 :]
    _decode(STATE[:8] + struct.pack("<I", len(new)) + new + rest)


# --------------------------------------------------------------------------- codec
def _as_zlib(blob: bytes) -> bytes:
    """``blob`` (a SubjectState) as the zlib-compressed envelope written before zstd:
    ``magic | version | zlib.compress(payload, 1)`` per part, byte for byte."""
    head, n = blob[:8], struct.unpack("<H", blob[6:8])[0]
    out, pos = [head], 8
    for _ in range(n):
        (size,) = struct.unpack("<I", blob[pos : pos + 4])
        part = blob[pos + 4 : pos + 4 + size]
        assert part[6:10] == b"\x28\xb5\x2f\xfd"  # written as zstd
        payload = zstandard.ZstdDecompressor().decompress(part[6:])
        old = part[:6] + zlib.compress(payload, 1)
        out.append(struct.pack("<I", len(old)) + old)
        pos += 4 + size
    return b"".join(out)


def test_a_state_written_with_zlib_still_loads_identically() -> None:
    old = _as_zlib(STATE)
    assert old != STATE
    assert SubjectState.from_bytes(old).to_bytes() == STATE


def test_zstd_frames_without_or_beyond_the_size_bound_are_refused_unread() -> None:
    big = zstandard.ZstdCompressor(level=19).compress(b"\0" * (MAX_STATE_BYTES + 1))
    assert len(big) < 100_000
    with pytest.raises(StateError, match="decompressed"):
        unpack(b"TEST" + struct.pack("<H", 1) + big, b"TEST", 1, DTYPES)
    cobj = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    unsized = cobj.compress(b"x" * 100) + cobj.flush()
    with pytest.raises(StateError, match="content size"):
        unpack(b"TEST" + struct.pack("<H", 1) + unsized, b"TEST", 1, DTYPES)


def test_a_zstd_frame_with_a_flipped_payload_byte_fails_its_checksum() -> None:
    blob = bytearray(pack(b"TEST", 1, {"n": 1}, {"x": np.arange(50.0)}))
    blob[-6] ^= 0x40
    with pytest.raises(StateError):
        unpack(bytes(blob), b"TEST", 1, DTYPES)
