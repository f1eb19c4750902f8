"""Settings of the clinician feed (``phenotyping feed``).

The ``feed`` section of the one settings object (:class:`phenotyping.config.Settings`):
``PHENOTYPING_FEED__<FIELD>`` environment variables (e.g.
``PHENOTYPING_FEED__ROSTER=/etc/phenotyping/roster.toml``) or ``[feed]`` in the settings file,
then command-line flags. The Kafka connection (broker, topic prefix, SASL/TLS) is the
workers' own :class:`phenotyping.config.KafkaSettings` (``PHENOTYPING_KAFKA__*``).
"""

from __future__ import annotations

from phenotyping.config import FeedSettings, load_settings

__all__ = ["FeedSettings", "load_feed_settings"]


def load_feed_settings(**overrides: object) -> FeedSettings:
    """The ``feed`` section of :func:`phenotyping.config.load_settings` (defaults < file <
    ``PHENOTYPING_FEED__*``), then ``overrides`` (``None`` overrides are ignored).

    Examples
    --------
    >>> load_feed_settings(port=9000, roster=None).port
    9000
    """
    values = load_settings().feed.model_dump()
    values.update({k: v for k, v in overrides.items() if v is not None})
    return FeedSettings.model_validate(values)
