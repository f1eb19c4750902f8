"""The Kafka client side every shell shares: topic names and configurations, client
connection options, and topic administration (``phenotyping topics create``).

Used by the stream workers (:mod:`phenotyping.stream`), the clinician feed
(:mod:`phenotyping.feed`) and the replay publisher (:mod:`phenotyping.replay.publish`), so
that no shell borrows from another.

Every topic has the same number of partitions (``KafkaSettings.partitions``): the device
topic is keyed by subject_id, the state changelog follows it partition by partition, and
each output record is written to the partition its input came from (so a subject's rows,
notices, alerts and dead letters stay together, and under exactly-once each output joins the
transaction of its input partition).

The admin functions import aiokafka when called; the rest is plain data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from phenotyping.config import KafkaSettings
from phenotyping.errors import TopicError

#: Name of the faust table that holds each subject's state (its changelog topic is
#: ``<app_id>-subject_state-changelog``).
STATE_TABLE = "subject_state"


@dataclass(frozen=True)
class TopicNames:
    """Full topic names of one deployment.

    Examples
    --------
    >>> names = TopicNames.from_settings(KafkaSettings(topic_prefix="demo"))
    >>> names.device, names.dead_letter, names.changelog
    ('demo.device', 'demo.dead-letter', 'phenotyping-subject_state-changelog')
    """

    device: str
    features: str
    alerts: str
    notices: str
    dead_letter: str
    changelog: str

    @classmethod
    def from_settings(cls, kafka: KafkaSettings) -> TopicNames:
        p = kafka.topic_prefix
        return cls(
            device=f"{p}.{kafka.device_topic}",
            features=f"{p}.{kafka.features_topic}",
            alerts=f"{p}.{kafka.alerts_topic}",
            notices=f"{p}.{kafka.notices_topic}",
            dead_letter=f"{p}.{kafka.dead_letter_topic}",
            changelog=f"{kafka.app_id}-{STATE_TABLE}-changelog",
        )

    def by_role(self) -> dict[str, str]:
        """``{"alerts": "<prefix>.alerts", ...}`` for the topics a person may ``tail``."""
        return {
            "features": self.features,
            "alerts": self.alerts,
            "notices": self.notices,
            "dead-letter": self.dead_letter,
            "device": self.device,
        }


@dataclass(frozen=True)
class TopicSpec:
    """One topic as ``topics create`` makes it."""

    name: str
    key: str
    value: str
    config: dict[str, str] = field(default_factory=dict)


def dead_letter_max_bytes(kafka: KafkaSettings) -> int:
    """max.message.bytes of the dead-letter topic: a base64 copy of the largest device
    message plus the envelope."""
    return kafka.topic_max_message_bytes * 4 // 3 + 64 * 1024


def specs(kafka: KafkaSettings) -> list[TopicSpec]:
    """Every topic of a deployment with its key, value and configuration.

    Examples
    --------
    >>> [(s.name, s.config["cleanup.policy"]) for s in specs(KafkaSettings())][:3]
    [('phenotyping.device', 'delete'), ('phenotyping.features', 'delete'), \
('phenotyping.alerts', 'compact')]
    """
    n = TopicNames.from_settings(kafka)

    def delete(retention_ms: int, max_bytes: int | None = None) -> dict[str, str]:
        cfg = {"cleanup.policy": "delete", "retention.ms": str(retention_ms)}
        if max_bytes is not None:
            cfg["max.message.bytes"] = str(max_bytes)
        return cfg

    compact = {"cleanup.policy": "compact", "max.message.bytes": str(4 * 1024 * 1024)}
    return [
        TopicSpec(
            n.device,
            "subject_id",
            "device message JSON (activity, heartbeat, sleep, clinical, recording_end)",
            delete(kafka.device_retention_ms, kafka.topic_max_message_bytes),
        ),
        TopicSpec(
            n.features,
            "subject_id",
            "daily feature row JSON with id = subject_id:date",
            delete(kafka.output_retention_ms),
        ),
        TopicSpec(n.alerts, "alert_id", "alert JSON (schemas/alert.v1)", dict(compact)),
        TopicSpec(
            n.notices,
            "subject_id",
            "notice JSON (schemas/notice.v1)",
            delete(kafka.output_retention_ms),
        ),
        TopicSpec(
            n.dead_letter,
            "original key",
            "dead-letter JSON: reason, error, source, payload_b64",
            delete(kafka.dead_letter_retention_ms, dead_letter_max_bytes(kafka)),
        ),
        TopicSpec(
            n.changelog,
            "subject_id",
            "table value: partition, offset, SubjectState.to_bytes() (faust changelog)",
            {"cleanup.policy": "compact", "max.message.bytes": str(kafka.topic_max_message_bytes)},
        ),
    ]


def bootstrap_servers(broker: str) -> str:
    """A faust broker URL (``kafka://h:p;kafka://h2:p``) as aiokafka bootstrap servers.

    Examples
    --------
    >>> bootstrap_servers("kafka://127.0.0.1:9092;kafka://10.0.0.2:9092")
    '127.0.0.1:9092,10.0.0.2:9092'
    >>> bootstrap_servers("127.0.0.1:9092")
    '127.0.0.1:9092'
    """
    servers = []
    for part in broker.replace(",", ";").split(";"):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if part.strip("/"):
            servers.append(part.strip("/"))
    if not servers:
        raise TopicError(f"broker: no address in {broker!r}")
    return ",".join(servers)


def client_options(kafka: KafkaSettings) -> dict[str, object]:
    """Connection keyword arguments for aiokafka clients (security settings included)."""
    opts: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers(kafka.broker),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        import ssl

        opts["ssl_context"] = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = kafka.sasl_mechanism or "PLAIN"
        opts["sasl_plain_username"] = kafka.sasl_username
        opts["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    return opts


async def partition_counts(kafka: KafkaSettings, names: list[str]) -> dict[str, int]:
    """Partition count of each topic in ``names`` that exists."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        found = await admin.describe_topics(names)
    finally:
        await admin.close()
    counts: dict[str, int] = {}
    for topic in found:
        if topic.get("error_code", 0) == 0:
            counts[topic["topic"]] = len(topic["partitions"])
    return counts


async def create_topic(kafka: KafkaSettings, name: str, config: dict[str, str]) -> str:
    """Create topic ``name`` (``kafka.partitions`` partitions, ``config``) unless it exists;
    return ``created`` or ``exists``. Raises :class:`TopicError` when the broker refuses."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        topic = NewTopic(name, kafka.partitions, kafka.replication_factor, topic_configs=config)
        try:
            response = await admin.create_topics([topic])
        except TopicAlreadyExistsError:
            return "exists"
        for _name, code, message in response.topic_errors:
            if code == TopicAlreadyExistsError.errno:
                return "exists"
            if code != 0:
                raise TopicError(f"{name}: broker refused to create it ({message})")
    finally:
        await admin.close()
    return "created"


async def create(kafka: KafkaSettings) -> list[tuple[TopicSpec, str]]:
    """Create the missing topics; return each spec with ``created`` or ``exists``.

    Raises :class:`TopicError` when an existing topic has another partition count.
    """
    wanted = specs(kafka)
    existing = await partition_counts(kafka, [s.name for s in wanted])
    result: list[tuple[TopicSpec, str]] = []
    for spec in wanted:
        if spec.name in existing:
            result.append((spec, "exists"))
        else:
            result.append((spec, await create_topic(kafka, spec.name, spec.config)))
    counts = await _wait_for(kafka, [s.name for s in wanted])
    check_counts(kafka, counts)
    return result


async def _wait_for(
    kafka: KafkaSettings, names: list[str], timeout: float = 30.0
) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        counts = await partition_counts(kafka, names)
        if all(n in counts for n in names) or loop.time() > deadline:
            return counts
        await asyncio.sleep(0.2)


def check_counts(kafka: KafkaSettings, counts: dict[str, int], *, changelog: bool = True) -> None:
    """Raise :class:`TopicError` unless every topic exists with ``kafka.partitions``."""
    problems = []
    for spec in specs(kafka):
        if spec.name.endswith("-changelog") and not changelog:
            continue
        got = counts.get(spec.name)
        if got is None:
            problems.append(f"{spec.name}: missing")
        elif got != kafka.partitions:
            problems.append(f"{spec.name}: {got} partitions, settings say {kafka.partitions}")
    if problems:
        raise TopicError(
            "topics do not match the settings (run `phenotyping topics create`; a partition "
            "count cannot be changed in place): " + "; ".join(problems)
        )


async def verify(kafka: KafkaSettings) -> None:
    """What ``phenotyping worker`` checks before it starts: every topic is there with the
    configured partition count (the changelog may still be missing: faust creates it)."""
    names = [s.name for s in specs(kafka)]
    counts = await partition_counts(kafka, names)
    check_counts(kafka, counts, changelog=False)
    changelog = TopicNames.from_settings(kafka).changelog
    if changelog in counts and counts[changelog] != kafka.partitions:
        check_counts(kafka, counts)
