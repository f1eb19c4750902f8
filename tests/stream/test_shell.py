"""The stream shell's pure parts: error classes, topic specs, tail lines, lazy CLI imports."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from phenotyping.config import KafkaSettings
from phenotyping.errors import InputError
from phenotyping.events import decode
from phenotyping.kafkaio import TopicNames, dead_letter_max_bytes, specs
from phenotyping.stream.codec import REASONS, Source, classify, dead_letter, decode_record
from phenotyping.stream.commands import ROLES
from phenotyping.stream.tail import FORMATS, format_record

GOOD = (
    b'{"type":"activity","version":1,"event_id":"e1","subject_id":"s1","source":"d",'
    b'"tz_offset_min":0,"start":"2024-01-01T00:00:00Z","epoch_s":60,"counts":[1.0]}'
)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "undecodable"),
        (b"", "undecodable"),
        (b"[1]", "undecodable"),
        (GOOD.replace(b'"version":1', b'"version":2'), "unknown_version"),
        (GOOD.replace(b'"type":"activity"', b'"type":"weight"'), "unknown_type"),
        (GOOD.replace(b"[1.0]", b"[-1.0]"), "schema"),
        (GOOD.replace(b'"epoch_s":60', b'"epoch_s":7'), "schema"),
    ],
)
def test_decoder_errors_are_classified(payload: bytes, reason: str) -> None:
    """The classification is pinned against the decoder's real error texts."""
    decode(GOOD)
    with pytest.raises(InputError) as info:
        decode(payload)
    assert classify(info.value) == reason
    assert reason in REASONS


def test_a_dead_letter_keeps_the_original_bytes_and_headers() -> None:
    payload = bytes(range(256))
    rec = decode_record(
        dead_letter("schema", "x: rule", Source("t", 1, 9, 5), None, payload, [("h", b"\x00")])
    )
    assert base64.b64decode(rec["payload_b64"]) == payload
    assert rec["payload_bytes"] == 256 and rec["key_b64"] is None
    assert rec["headers"] == [["h", base64.b64encode(b"\x00").decode()]]
    assert rec["source"] == {"topic": "t", "partition": 1, "offset": 9, "timestamp_ms": 5}


def test_topic_specs_cover_every_name_and_fit_a_base64_dead_letter() -> None:
    kafka = KafkaSettings(topic_prefix="p", app_id="a")
    names = TopicNames.from_settings(kafka)
    got = {s.name: s for s in specs(kafka)}
    assert set(got) == {
        names.device,
        names.features,
        names.alerts,
        names.notices,
        names.dead_letter,
        names.changelog,
    }
    assert got[names.alerts].config["cleanup.policy"] == "compact"
    assert got[names.changelog].config["cleanup.policy"] == "compact"
    device_max = int(got[names.device].config["max.message.bytes"])
    envelope = len(dead_letter("oversized", "e" * 200, Source("t" * 200, 0, 0), b"k" * 64, b"", []))
    assert dead_letter_max_bytes(kafka) >= (device_max + 2) // 3 * 4 + envelope


def test_tail_has_a_line_format_for_every_topic_it_offers() -> None:
    assert set(FORMATS) == set(ROLES)
    for role in ROLES:
        assert format_record(role, b"{}")  # a record without the usual fields still prints
        assert format_record(role, None) == "(tombstone)"


def test_the_cli_imports_neither_faust_nor_aiokafka() -> None:
    code = (
        "import sys; from phenotyping.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('faust', 'aiokafka') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_ROOT_LEVEL = """
import asyncio, logging, pathlib, sys
import faust
from phenotyping.stream.commands import _worker_class
asyncio.set_event_loop(asyncio.new_event_loop())
base = faust.Worker if sys.argv[1] == "faust" else _worker_class(faust.Worker, 1.0)
app = faust.App("t", broker="kafka://127.0.0.1:1", web_enabled=False, autodiscover=False)
worker = base(app, loglevel=sys.argv[2])
worker._setup_logging()
pathlib.Path(sys.argv[3]).write_text(str(logging.getLogger().getEffectiveLevel()))
"""


@pytest.mark.parametrize("loglevel", ["warning", "error"])
def test_the_worker_keeps_the_root_logger_at_its_level(loglevel: str, tmp_path: Path) -> None:
    """faust's own worker sets the root logger to DEBUG at warning and above (for its
    terminal spinner): every debug call of faust, aiokafka and numba then builds a record.
    The phenotyping worker stays at the level it was given."""

    def root_level(kind: str) -> int:
        out = tmp_path / kind
        cmd = [sys.executable, "-c", _ROOT_LEVEL, kind, loglevel, str(out)]
        subprocess.run(cmd, capture_output=True, check=True, timeout=120)
        return int(out.read_text())

    assert root_level("faust") == logging.DEBUG  # the behaviour worked around
    assert root_level("ours") == getattr(logging, loglevel.upper())
