"""One settings object for every window, threshold and connection.

Sources, later ones winning: the defaults below, a TOML file (``--config FILE`` or
``PHENOTYPING_CONFIG=FILE``), then environment variables ``PHENOTYPING_<SECTION>__<FIELD>``
(e.g. ``PHENOTYPING_ENGINE__GRACE_MIN=2880``, ``PHENOTYPING_KAFKA__BROKER=kafka://h:9092``).
This is the only module that reads the environment, and it imports no shell: every
section (engine, risk, kafka, feed) is defined here or imported from the core. Every run
prints the settings it used (:meth:`Settings.describe`); secrets are never printed.

The pure core never sees this object: the shell hands each part its plain parameters
(``settings.engine`` *is* the :class:`~phenotyping.features.day.EngineParams` dataclass).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from phenotyping.features.day import EngineParams
from phenotyping.risk.engine import RiskParams


class KafkaSettings(BaseModel):
    """Connection, topics and delivery of the stream workers."""

    model_config = ConfigDict(extra="forbid")

    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="bootstrap server(s), faust URL form; several separated by ';'",
    )
    app_id: str = Field("phenotyping", description="faust app id = consumer group")
    topic_prefix: str = Field("phenotyping", description="prefix of every topic name")
    partitions: int = Field(4, ge=1, description="partitions of source and output topics")
    replication_factor: int = Field(1, ge=1, description="3 in production, 1 on one broker")
    store: str = Field(
        "memory://",
        description="faust table store; rocksdb:// for large deployments (local state on disk)",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once", description="exactly_once needs broker transactions"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    # ---- topics (names are "<topic_prefix>.<name>"; `phenotyping topics create` makes them)
    device_topic: str = Field(
        "device",
        description="source topic: every device message type (activity, heartbeat, sleep, "
        "clinical, recording_end) in one topic, keyed by subject_id, so one subject's messages "
        "keep their order across types",
    )
    features_topic: str = Field("features", description="daily feature rows, key subject_id")
    alerts_topic: str = Field("alerts", description="relapse-risk alerts, key alert_id (compacted)")
    notices_topic: str = Field("notices", description="data-gap/late-data notices, key subject_id")
    dead_letter_topic: str = Field(
        "dead-letter", description="messages the worker could not use, with source and reason"
    )
    device_retention_ms: int = Field(
        7 * 86_400_000, ge=-1, description="retention of the device topic (-1: forever)"
    )
    output_retention_ms: int = Field(
        -1, ge=-1, description="retention of the features and notices topics (-1: forever)"
    )
    dead_letter_retention_ms: int = Field(
        30 * 86_400_000, ge=-1, description="retention of the dead-letter topic (-1: forever)"
    )
    # ---- limits
    max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="largest device message the worker decodes; larger ones are dead-lettered "
        "as 'oversized' (a 7-day batch of 1-s epochs, the schema's maximum, is ~4 MB of JSON)",
    )
    topic_max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="max.message.bytes of the device topic: the broker refuses larger messages "
        "(the dead-letter topic gets 4/3 of it plus 64 KiB, room for the base64 payload)",
    )
    # ---- worker tuning
    batch_max: int = Field(
        2000, ge=1, description="messages per processing batch (faust stream.take_events)"
    )
    batch_within_ms: int = Field(
        50, ge=1, description="longest wait for a batch to fill: bounds the added latency"
    )
    stream_buffer_maxsize: int = Field(
        8192, ge=1, description="faust per-partition buffer of fetched, unprocessed messages"
    )
    fetch_max_bytes_per_partition: int = Field(
        4 * 1024 * 1024, ge=1024, description="consumer max bytes per partition per fetch"
    )
    producer_batch_bytes: int = Field(
        512 * 1024,
        ge=16 * 1024,
        le=1_000_000,
        description="largest batch of records the worker's producer builds per partition "
        "(faust's default, 16 KiB, holds ~4 daily rows and no day-record state: the agent "
        "waited for a broker round trip every few rows, the client sending one request per "
        "broker at a time); at most the broker's default message.max.bytes (~1 MB), which "
        "the output topics keep",
    )
    commit_interval_s: float = Field(
        2.8, gt=0, description="how often processed offsets are committed"
    )
    session_timeout_s: float = Field(
        60.0,
        ge=6,
        le=90,
        description="how long the group waits for a worker that stopped answering (kill -9, "
        "a lost host) before giving its partitions to the others: a successor starts "
        "consuming at most this long after such a failure, plus the state restore "
        "(6..90: the broker's group.min.session.timeout.ms, faust's request timeout)",
    )
    standby_replicas: int = Field(
        0,
        ge=0,
        description="warm copies of each state partition on other workers (faster "
        "failover, more CPU and network); 0 recovers from the changelog on failover",
    )
    state_flush_s: float = Field(
        1.0,
        ge=0,
        description="how often changed states are written to the table and the offsets "
        "behind them released for commit (0: after every batch; exactly_once always does "
        "that); after a crash at most this much is processed again",
    )
    state_cache_size: int = Field(
        256,
        ge=0,
        description="unchanged decoded states a worker keeps between flushes (~150 KB each; "
        "checked against the table before use)",
    )
    data_dir: Path = Field(
        Path("phenotyping-data"), description="the worker's local directory (RocksDB files)"
    )
    stats_interval_s: float = Field(
        30.0, gt=0, description="how often a worker logs its counters (never payloads)"
    )
    idle_check_s: float = Field(
        60.0,
        gt=0,
        description="how often a worker looks for silent subjects, to close their overdue "
        "days (so a data-gap notice comes live)",
    )
    idle_after_s: float = Field(
        3600.0,
        gt=0,
        description="processing time without a record of a subject after which its event "
        "time is moved on by the silence (a fast replay never waits this long)",
    )
    stop_grace_s: float = Field(
        25.0,
        gt=0,
        description="after SIGTERM a worker that has not stopped in this time exits anyway "
        "(keep below the orchestrator's stop grace period)",
    )


class FeedSettings(BaseModel):
    """Web server, access control, topics and memory bounds of the clinician feed."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port)")
    roster: Path | None = Field(
        None,
        description="roster TOML: clinicians, their token hashes and the subject ids each may "
        "see (required; deploy/roster.example.toml shows the format)",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="key that signs session cookies (>= 32 characters; give every feed "
        "replica the same one); unset: a random key per process, so sessions end when the "
        "feed restarts and replicas cannot share them",
    )
    session_ttl_s: int = Field(12 * 3600, ge=60, description="lifetime of a login session")
    max_sessions: int = Field(
        10_000,
        ge=1,
        description="signed-out sessions remembered individually; beyond it the oldest are "
        "folded into a per-clinician cut-off (which may end that clinician's older sessions "
        "too, never revive one)",
    )
    login_window_s: int = Field(
        300, ge=1, description="window of the sign-in throttles below (seconds)"
    )
    login_failures_per_source: int = Field(
        10,
        ge=1,
        description="failed sign-ins (or unknown bearer tokens) per source address "
        "within login_window_s before it is refused with 429",
    )
    login_failures_overall: int = Field(
        200,
        ge=1,
        description="failed sign-ins from all sources together within "
        "login_window_s before every sign-in with a new token is refused with 429",
    )
    logins_per_account: int = Field(
        30, ge=1, description="sessions one clinician may open within login_window_s"
    )
    cookie_secure: bool = Field(
        False,
        description="mark the session cookie Secure (set it when a TLS proxy is in front; "
        "automatic with tls_cert)",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate: serve HTTPS itself")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    acks_topic: str = Field(
        "acks",
        description="topic of acknowledgements, '<topic_prefix>.<acks_topic>', key alert_id, "
        "kept forever (an audit trail)",
    )
    sessions_topic: str = Field(
        "feed-sessions",
        description="topic of sign-outs, '<topic_prefix>.<sessions_topic>', key the session "
        "nonce: every feed process reads it, so signing out on one ends the session on all",
    )
    create_acks_topic: bool = Field(
        True, description="create the acks and sessions topics at start when they are missing"
    )
    max_alerts: int = Field(
        20_000, ge=10, description="alert messages kept in memory (oldest dropped first)"
    )
    max_subjects: int = Field(
        5_000, ge=1, description="subjects whose daily features are kept (least recent dropped)"
    )
    history_days: int = Field(
        90, ge=7, description="days of daily features kept per subject (and read at start)"
    )
    chart_days: int = Field(56, ge=7, description="days shown in a patient's chart")
    resolved_shown: int = Field(20, ge=0, description="resolved episodes listed on the page")
    heartbeat_s: float = Field(
        15.0, gt=0, description="idle seconds between keep-alive comments on a live stream"
    )


class Settings(BaseSettings):
    """All settings of one run."""

    model_config = SettingsConfigDict(
        env_prefix="PHENOTYPING_",
        env_nested_delimiter="__",
        extra="forbid",
        env_ignore_empty=True,  # a compose file may pass ${VAR:-} through: empty = unset
    )

    engine: EngineParams = Field(default_factory=EngineParams)
    risk: RiskParams = Field(default_factory=RiskParams)
    kafka: KafkaSettings = Field(default_factory=lambda: KafkaSettings())
    feed: FeedSettings = Field(default_factory=lambda: FeedSettings())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file or os.environ.get("PHENOTYPING_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    def describe(self) -> str:
        """The settings as TOML-like lines (secrets masked), for the start of every run."""
        lines: list[str] = []
        sections = (
            ("engine", self.engine),
            ("risk", self.risk),
            ("kafka", self.kafka),
            ("feed", self.feed),
        )
        for section, model in sections:
            lines.append(f"[{section}]")
            lines.extend(setting_lines(model))
        return "\n".join(lines)


def setting_lines(section: object) -> list[str]:
    """One ``key = value`` line per field of a settings section (a pydantic model or a
    dataclass), secrets masked: the one place that decides how settings are printed.

    Examples
    --------
    >>> setting_lines(FeedSettings(session_secret="x" * 32))[3]
    "session_secret = '********'"
    """
    data: dict[str, Any] = (
        section.model_dump() if isinstance(section, BaseModel) else dict(vars(section))
    )
    return [f"{key} = {_masked(value)!r}" for key, value in data.items()]


def _masked(value: object) -> object:
    return "********" if isinstance(value, SecretStr) else value


_config_file: Path | None = None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, ``config`` (TOML; else ``PHENOTYPING_CONFIG``), the
    environment and ``overrides`` (highest first: overrides, environment, file)."""
    global _config_file
    _config_file = config
    try:
        return Settings(**overrides)
    finally:
        _config_file = None
