"""The faust app: wiring only.

``phenotyping worker`` builds it from the settings it loaded (``--config``); ``faust -A
phenotyping.stream.app worker`` finds the module attribute ``app``, built on first access
from :func:`phenotyping.config.load_settings` (defaults, ``PHENOTYPING_CONFIG``, then
``PHENOTYPING_KAFKA__*`` variables). Imports faust.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TableT

from phenotyping.config import KafkaSettings, Settings, load_settings
from phenotyping.kafkaio import STATE_TABLE, TopicNames, dead_letter_max_bytes
from phenotyping.stream.agents import PhenotypingApp, StateTable, StreamStats, register


@dataclass
class StreamApp:
    """A built app and the parts a caller may need (tests, benchmark, CLI)."""

    app: faust.App
    settings: Settings
    names: TopicNames
    table: TableT[bytes, bytes]
    stats: StreamStats


def _credentials(kafka: KafkaSettings) -> Any:
    if kafka.security_protocol == "PLAINTEXT":
        return None
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.security_protocol.startswith("SASL"):
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism or "PLAIN",
        )
    return faust.SSLCredentials(context)


def app_options(kafka: KafkaSettings) -> dict[str, Any]:
    """The keyword arguments of ``faust.App`` for these settings: the one place the faust
    app is configured (the worker and the benchmark's bare app both use it)."""
    return {
        "broker": kafka.broker,
        "broker_credentials": _credentials(kafka),
        "store": kafka.store,
        "processing_guarantee": kafka.processing_guarantee,
        "topic_partitions": kafka.partitions,
        "topic_replication_factor": kafka.replication_factor,
        "table_standby_replicas": kafka.standby_replicas,
        "datadir": str(kafka.data_dir),
        "web_enabled": False,
        "autodiscover": False,
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": kafka.commit_interval_s,
        "broker_session_timeout": kafka.session_timeout_s,
        "broker_heartbeat_interval": kafka.session_timeout_s / 20,  # faust's 3 s of 60 s
        "stream_buffer_maxsize": kafka.stream_buffer_maxsize,
        "consumer_max_fetch_size": kafka.fetch_max_bytes_per_partition,
        "producer_max_request_size": dead_letter_max_bytes(kafka) + 1024 * 1024,
        "producer_acks": -1,
        "producer_max_batch_size": kafka.producer_batch_bytes,
    }


def build_app(settings: Settings) -> StreamApp:
    """A faust app with the device agent, the state table and the stats timer."""
    kafka = settings.kafka
    names = TopicNames.from_settings(kafka)
    app = PhenotypingApp(kafka.app_id, **app_options(kafka))
    table = StateTable(
        app,
        name=STATE_TABLE,
        beacon=app.tables.beacon,
        key_type=bytes,
        value_type=bytes,
        partitions=kafka.partitions,
        help="per-subject pipeline state: codec.pack_state(partition, offset, to_bytes())",
        extra_topic_configs={"max.message.bytes": str(kafka.topic_max_message_bytes)},
    )
    app.tables.add(table)
    stats = StreamStats()
    register(app, settings, names, table, stats)
    return StreamApp(app, settings, names, table, stats)


_built: StreamApp | None = None


def __getattr__(name: str) -> Any:
    """``app`` for ``faust -A phenotyping.stream.app``, built on first access."""
    global _built
    if name == "app":
        if _built is None:
            _built = build_app(load_settings())
        return _built.app
    raise AttributeError(name)
