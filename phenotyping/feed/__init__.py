"""The clinician alert feed: ``phenotyping feed``.

A small aiohttp service that reads the alerts and daily-features topics into a bounded
in-memory store and serves, to authenticated clinicians and only for the subjects on their
roster, a page with live updates (Server-Sent Events), a JSON API with ``since=`` paging,
and an acknowledge action that appends to an acks topic (an audit trail).

Layout (imports point inward; only ``kafka.py`` imports aiokafka, only ``web.py`` and
``commands.py`` import aiohttp)::

    settings.py  load_feed_settings (FeedSettings itself lives in phenotyping.config)
    auth.py      tokens, roster, signed sessions, CSRF (pure)
    models.py    the Ack wire message
    store.py     FeedStore: alerts, episodes, acks, features, change log (pure, bounded)
    render.py    HTML cards and SVG charts (pure)
    assets.py    the page's CSS and JavaScript
    bus.py       FeedBus (the narrow Kafka interface) and MemoryBus
    kafka.py     KafkaBus (aiokafka)
    web.py       routes, access control, live streams
    commands.py  the CLI sub-commands
"""
