"""The command line: `python3 -m rowsched worker [--dsn DSN] [--queue NAME]... [--concurrency N] [--path DIR]...`."""

import argparse
import logging
import os
import sys

from rowsched.worker import Worker


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; allowed: 1 or more")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: 1 or more")
    return value


def _seconds(minimum_exclusive):
    """An argparse type: a number of seconds, at least 0 or (minimum_exclusive) more than 0."""
    allowed = "a number of seconds, more than 0" if minimum_exclusive else "a number of seconds, 0 or more"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; allowed: {allowed}")
        if value < 0 or (minimum_exclusive and value == 0):
            raise argparse.ArgumentTypeError(f"{value:g} is out of range; allowed: {allowed}")
        return value
    return parse


def parser():
    p = argparse.ArgumentParser(prog="python3 -m rowsched", description="rowsched's Python worker (docs/workers.md)")
    commands = p.add_subparsers(dest="command", required=True)
    w = commands.add_parser("worker", help="run the functions of worker jobs (func = 'module:callable')")
    w.add_argument("--dsn", default=os.environ.get("DATABASE_URL", ""),
                   help="PostgreSQL connection string (default: $DATABASE_URL, then libpq's PG* variables)")
    w.add_argument("--schema", default="public", help="rowsched's schema (default: public)")
    w.add_argument("--queue", action="append", dest="queues", metavar="NAME",
                   help="a queue to take runs from; repeat for several (default: default)")
    w.add_argument("--concurrency", type=_positive_int, default=1, help="runs at once, one thread each (default: 1)")
    w.add_argument("--path", action="append", dest="paths", default=[], metavar="DIR",
                   help="a directory to import modules from (put first on sys.path); repeat for several")
    w.add_argument("--name", default=None, help="the worker's name in rowsched_worker (default: HOST-PID)")
    w.add_argument("--shutdown-timeout", type=_seconds(False), default=30.0,
                   help="seconds runs in progress get to finish after SIGTERM/SIGINT (default: 30)")
    w.add_argument("--heartbeat-interval", type=_seconds(True), default=2.0,
                   help="seconds between heartbeats; keep well below rowsched's --lost-after (default: 2)")
    w.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        worker = Worker(args.dsn, queues=args.queues or ["default"], concurrency=args.concurrency, paths=args.paths,
                        name=args.name, shutdown_timeout=args.shutdown_timeout, schema=args.schema,
                        heartbeat_interval=args.heartbeat_interval)
    except ValueError as e:
        parser().error(str(e))
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
