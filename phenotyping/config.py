"""One settings object for every window, threshold and connection.

Sources, later ones winning: the defaults below, a TOML file (``--config FILE`` or
``PHENOTYPING_CONFIG=FILE``), then environment variables ``PHENOTYPING_<SECTION>__<FIELD>``
(e.g. ``PHENOTYPING_ENGINE__GRACE_MIN=2880``, ``PHENOTYPING_KAFKA__BROKER=kafka://h:9092``).
This is the only module that reads the environment. Every run prints the settings it used
(:meth:`Settings.describe`); secrets are never printed.

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


class Settings(BaseSettings):
    """All settings of one run."""

    model_config = SettingsConfigDict(
        env_prefix="PHENOTYPING_", env_nested_delimiter="__", extra="forbid"
    )

    engine: EngineParams = Field(default_factory=EngineParams)
    risk: RiskParams = Field(default_factory=RiskParams)
    kafka: KafkaSettings = Field(default_factory=lambda: KafkaSettings())

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
        sections = (("engine", self.engine), ("risk", self.risk), ("kafka", self.kafka))
        for section, model in sections:
            lines.append(f"[{section}]")
            data: dict[str, Any] = (
                model.model_dump() if isinstance(model, BaseModel) else vars(model)
            )
            for key, value in data.items():
                if isinstance(value, SecretStr):
                    value = "********"
                lines.append(f"{key} = {value!r}")
        return "\n".join(lines)


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
