"""The stream sub-commands of ``phenotyping``: ``worker``, ``topics`` and ``tail``.

Importing this module imports neither faust nor aiokafka: each handler imports what it
needs when it runs, so ``phenotyping --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

#: Topics ``tail`` can print (``tail.FORMATS`` has a line format for each).
ROLES = ("alerts", "features", "notices", "dead-letter", "device")
#: Log levels a worker may run at. faust's DEBUG level logs message values (health data),
#: so it is deliberately not offered.
LOG_LEVELS = ("info", "warning", "error")


def _load(args: argparse.Namespace) -> Any:
    from phenotyping.config import load_settings

    return load_settings(getattr(args, "config", None))


def _worker(args: argparse.Namespace) -> int:
    """Start a faust worker; returns when it is stopped (Ctrl-C or SIGTERM)."""
    import faust

    from phenotyping.kafkaio import verify
    from phenotyping.stream.app import build_app

    settings = _load(args)
    print(settings.describe(), file=sys.stderr)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if not args.no_check:
        import logging

        quiet = logging.getLogger("aiokafka")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # an unreachable broker is reported in one line
        try:
            loop.run_until_complete(verify(settings.kafka))
        finally:
            quiet.setLevel(level)
    # Load (or compile, on a fresh install: ~10 s of CPU) the day close's kernels before
    # joining the group: compiling inside the agent would block the event loop, and with
    # it the consumer's heartbeats, on the first day a subject closes.
    from phenotyping.features.day import warm_up
    from phenotyping.risk.engine import warm_up as warm_up_risk

    print(f"day-close kernels ready ({warm_up() + warm_up_risk():.1f} s CPU)", file=sys.stderr)
    built = build_app(settings)
    worker = _worker_class(faust.Worker, settings.kafka.stop_grace_s)(
        built.app, loglevel=args.loglevel, loop=loop
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _worker_class(base: Any, grace_s: float) -> Any:
    """``base`` (faust.Worker) whose SIGTERM also arms a watchdog: a worker that has not
    stopped ``grace_s`` later exits anyway (exit code 143), so a stop never hangs (e.g. on
    an agent waiting for a broker that is gone). Committed offsets make the exit safe.

    Without faust's terminal spinner: at ``--loglevel warning`` or ``error`` faust sets the
    root logger to DEBUG to feed it, so every ``log.debug`` of faust, aiokafka and numba
    built a record that the handlers then dropped (aiokafka and faust log one per record
    sent; cProfile counted 21,000 records in a 1,500-record day run). Tested in
    ``tests/stream/test_shell.py``."""
    import os
    import threading

    class Worker(base):  # type: ignore[misc]
        def on_setup_root_logger(self, logger: Any, level: int) -> None:
            self.spinner = None  # a service's log, not a terminal: no spinner
            super().on_setup_root_logger(logger, level)

        def _on_sigterm(self) -> None:
            timer = threading.Timer(grace_s, os._exit, (143,))
            timer.daemon = True
            timer.start()
            super()._on_sigterm()

    return Worker


def _topics_create(args: argparse.Namespace) -> int:
    from phenotyping.kafkaio import create

    settings = _load(args)
    kafka = settings.kafka
    done = asyncio.run(create(kafka))
    width = max(len(spec.name) for spec, _ in done)
    print(f"{'topic':{width}}  {'status':7}  partitions  policy   key")
    for spec, status in done:
        policy = spec.config.get("cleanup.policy", "")
        print(f"{spec.name:{width}}  {status:7}  {kafka.partitions:10}  {policy:7}  {spec.key}")
    return 0


def _topics_list(args: argparse.Namespace) -> int:
    from phenotyping.kafkaio import partition_counts, specs

    kafka = _load(args).kafka
    wanted = specs(kafka)
    counts = asyncio.run(partition_counts(kafka, [s.name for s in wanted]))
    for spec in wanted:
        state = f"{counts[spec.name]} partitions" if spec.name in counts else "missing"
        print(f"{spec.name}  ({state})  key: {spec.key}; value: {spec.value}")
    return 0


def _tail(args: argparse.Namespace) -> int:
    from phenotyping.stream.tail import tail

    kafka = _load(args).kafka
    try:
        asyncio.run(
            tail(
                kafka,
                args.topic,
                sys.stdout,
                from_beginning=args.from_beginning,
                max_records=args.max,
                idle_exit_s=args.idle_exit,
                as_json=args.json,
            )
        )
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `phenotyping tail ... | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def add_commands(sub: Any) -> None:
    """Add ``worker``, ``topics`` and ``tail`` to the ``phenotyping`` sub-parsers."""
    p = sub.add_parser("worker", help="run a Kafka stream worker (faust)")
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    p.add_argument("--loglevel", choices=LOG_LEVELS, default="info")
    p.add_argument(
        "--no-check", action="store_true", help="do not check the topics before starting"
    )
    p.set_defaults(func=_worker)

    p = sub.add_parser("topics", help="create or list the Kafka topics")
    p.add_argument("action", choices=["create", "list"])
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    p.set_defaults(func=lambda a: _topics_create(a) if a.action == "create" else _topics_list(a))

    p = sub.add_parser("tail", help="print a topic (alerts, features, ...) as it grows")
    p.add_argument("topic", choices=ROLES)
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    p.add_argument("-n", "--max", type=int, default=None, help="stop after N records")
    p.add_argument(
        "--idle-exit", type=float, default=None, help="stop after S seconds without a record"
    )
    p.add_argument("--json", action="store_true", help="print each record's JSON as it is")
    p.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    p.set_defaults(func=_tail)
