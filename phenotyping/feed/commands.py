"""``phenotyping feed`` (serve the clinician feed), ``phenotyping feed hash-token`` and
``phenotyping feed create-topic``.

Importing this module imports neither aiohttp nor aiokafka: each handler imports what it
needs when it runs, so ``phenotyping --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from pathlib import Path
from typing import Any


def _hash_token(args: argparse.Namespace) -> int:
    from phenotyping.feed.auth import hash_token, new_token

    if args.stdin:
        token = sys.stdin.readline().strip()
        print(f'tokens = ["{hash_token(token)}"]')
        return 0
    token = new_token()
    print("access token (hand it to the clinician once, over a safe channel; it is not stored):")
    print(f"  {token}")
    print("roster entry (paste into that clinician's [[clinician]] table):")
    print(f'  tokens = ["{hash_token(token)}"]')
    return 0


def _create_topic(args: argparse.Namespace) -> int:
    from phenotyping.config import load_settings
    from phenotyping.feed.kafka import acks_topic, create_acks_topic, sessions_topic
    from phenotyping.feed.settings import load_feed_settings

    kafka = load_settings(args.config).kafka
    feed = load_feed_settings()
    status = asyncio.run(create_acks_topic(kafka, feed))
    print(f"{acks_topic(kafka, feed)}  {status}  (key alert_id, kept forever)")
    print(f"{sessions_topic(kafka, feed)}  (sign-outs, key the session nonce)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from phenotyping.config import load_settings, setting_lines
    from phenotyping.errors import PhenotypingError
    from phenotyping.feed.settings import load_feed_settings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    feed = load_feed_settings(host=args.host, port=args.port, roster=args.roster)
    kafka = load_settings(args.config).kafka
    if feed.roster is None:
        raise PhenotypingError(
            "feed: no roster: set PHENOTYPING_FEED__ROSTER or --roster (see "
            "deploy/roster.example.toml and `phenotyping feed hash-token`)"
        )
    print("feed settings:\n  " + "\n  ".join(setting_lines(feed)), file=sys.stderr)
    return asyncio.run(_run(feed, kafka))


async def _run(feed: Any, kafka: Any) -> int:
    from aiohttp import web

    from phenotyping.feed.kafka import KafkaBus
    from phenotyping.feed.store import FeedStore
    from phenotyping.feed.web import AccessLogger, FeedService, RosterFile, build_app

    log = logging.getLogger("phenotyping.feed")
    roster = RosterFile(feed.roster)
    log.info("roster: %d clinician(s)", len(roster().clinicians))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = FeedStore(
        max_alerts=feed.max_alerts,
        max_subjects=feed.max_subjects,
        history_days=feed.history_days,
        max_session_ends=feed.max_sessions,
    )
    service = FeedService(
        store, KafkaBus(kafka, feed), roster, feed, on_failure=lambda _exc: stop.set()
    )
    context = None
    if feed.tls_cert is not None:
        if feed.tls_key is None:
            raise ValueError("feed: tls_cert needs tls_key")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(feed.tls_cert), str(feed.tls_key))
    runner = web.AppRunner(build_app(service), access_log_class=AccessLogger, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, feed.host, feed.port, ssl_context=context, shutdown_timeout=5.0)
        await site.start()
        scheme = "https" if context else "http"
        for addr in runner.addresses:
            log.info("clinician feed on %s://%s:%s/", scheme, addr[0], addr[1])
        await stop.wait()
    finally:
        await runner.cleanup()
    if service.failed is not None:
        print(f"error: the feed stopped: {service.failed!r}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub: Any) -> None:
    """Add ``feed`` (with ``hash-token`` and ``create-topic``) to the sub-parsers."""
    p = sub.add_parser(
        "feed",
        help="serve the clinician alert feed (web page, JSON, live stream)",
        description="Serve the clinician alert feed. Settings: PHENOTYPING_FEED__* and "
        "PHENOTYPING_KAFKA__* environment variables (README, 'Deploy').",
    )
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default 8080)")
    p.add_argument("--roster", type=Path, default=None, help="roster TOML file")
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML, [kafka])")
    p.set_defaults(func=_serve)
    fsub = p.add_subparsers(dest="feed_command", metavar="{hash-token,create-topic}")
    h = fsub.add_parser(
        "hash-token", help="make a clinician access token and the hash to put in the roster"
    )
    h.add_argument(
        "--stdin", action="store_true", help="hash a token read from stdin instead of making one"
    )
    h.set_defaults(func=_hash_token)
    c = fsub.add_parser(
        "create-topic", help="create the acknowledgements and sign-outs topics if missing"
    )
    c.add_argument("--config", type=Path, default=None, help="settings file (TOML, [kafka])")
    c.set_defaults(func=_create_topic)
