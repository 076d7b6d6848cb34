"""Manage the evaluation store by hand:

    python -m service.store upgrade [REVISION]   migrate AIQA_DATABASE_URL (or the default SQLite file) to head
    python -m service.store current              print the database's revision and the code's head
    python -m service.store prune [--days N] [--per-suite N]   apply a retention now

The service migrates at start too; this is for a database upgraded before a rollout, or by an operator.
"""
import argparse
import os
import sys

from ..config import DEFAULTS, from_environ
from .database import current_revision, database_url, head_revision, make_engine, upgrade


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.store", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("upgrade").add_argument("revision", nargs="?", default="head")
    commands.add_parser("current")
    prune = commands.add_parser("prune")
    prune.add_argument("--days", type=int, default=0)
    prune.add_argument("--per-suite", type=int, default=0)
    args = parser.parse_args(argv)
    config = {**DEFAULTS, **from_environ()}
    config["CACHE_DIR"] = os.path.expanduser(config["CACHE_DIR"])
    engine = make_engine(database_url(config))
    if args.command == "upgrade":
        upgrade(engine, args.revision)
    if args.command in ("upgrade", "current"):
        print(f"database at {current_revision(engine)}; code head {head_revision()}")
        engine.dispose()
        return 0
    engine.dispose()
    from . import Store
    store = Store()
    store.url = database_url(config)
    store.open()
    print(f"deleted {store.prune(days=args.days, per_suite=args.per_suite)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
