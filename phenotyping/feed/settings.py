"""Settings of the clinician feed (``phenotyping feed``).

The ``feed`` section of the one settings object (:class:`phenotyping.config.Settings`):
``PHENOTYPING_FEED__<FIELD>`` environment variables (e.g.
``PHENOTYPING_FEED__ROSTER=/etc/phenotyping/roster.toml``) or ``[feed]`` in the settings file,
then command-line flags. The Kafka connection (broker, topic prefix, SASL/TLS) is the
workers' own :class:`phenotyping.config.KafkaSettings` (``PHENOTYPING_KAFKA__*``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
        description="key that signs session cookies (>= 32 characters); unset: a random key "
        "per process, so sessions end when the feed restarts and replicas cannot share them",
    )
    session_ttl_s: int = Field(12 * 3600, ge=60, description="lifetime of a login session")
    max_sessions: int = Field(
        10_000,
        ge=1,
        description="live sign-in sessions kept server-side (the oldest ends first when full)",
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
    create_acks_topic: bool = Field(
        True, description="create the acks topic at start when it is missing"
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


def load_feed_settings(**overrides: object) -> FeedSettings:
    """The ``feed`` section of :func:`phenotyping.config.load_settings` (defaults < file <
    ``PHENOTYPING_FEED__*``), then ``overrides`` (``None`` overrides are ignored).

    Examples
    --------
    >>> load_feed_settings(port=9000, roster=None).port
    9000
    """
    from phenotyping.config import load_settings

    values = load_settings().feed.model_dump()
    values.update({k: v for k, v in overrides.items() if v is not None})
    return FeedSettings.model_validate(values)


def describe(settings: FeedSettings) -> str:
    """One ``key = value`` line per setting, secrets masked (printed at start).

    Examples
    --------
    >>> print(describe(FeedSettings(session_secret="x" * 32)).splitlines()[3])
    session_secret = '********'
    """
    lines = []
    for key, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = "********"
        lines.append(f"{key} = {value!r}")
    return "\n".join(lines)
