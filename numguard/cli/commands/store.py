"""numguard store: look inside a suppression store (digest, history)."""

from __future__ import annotations

import argparse
import json

from numguard.cli import options
from numguard.consumer.store import open_store
from numguard.core.phone import InvalidNumber, normalize

DESCRIPTION = """\
Look inside a suppression store without changing it.

  digest   a stable hash of every number's decision-relevant state and of the
           audit trail's event ids: two stores with the same digest give the
           same answer for every number. Compare a replayed store with the live
           one to prove the replay.
  history  every event applied to one number, oldest first: why it is blocked."""

EPILOG = f"""\
examples:
  numguard store digest --store sqlite:///numguard.sqlite3
  numguard store digest --json --store postgresql://numguard@db/numguard
  numguard store history +12223334444

exit status:
  0  printed
  2  the store does not exist, or the number cannot be read

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "store", help="look inside a suppression store (digest, history)",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    which = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    digest = which.add_parser("digest", help="print a stable hash of the store's state")
    digest.add_argument(
        "--json", action="store_true", help="print {digest, numbers, events} as JSON"
    )
    options.add_store_option(digest)
    digest.set_defaults(handler=run_digest)
    history = which.add_parser("history", help="print the events applied to one number")
    history.add_argument("number", metavar="NUMBER")
    options.add_store_option(history)
    history.set_defaults(handler=run_history)
    fresh = which.add_parser(
        "freshness", help="per source: the latest change held, when one was last applied",
        description="Print, per source, the latest change the store holds and when it last "
        "applied one, as JSON; exit 1 when a source is stale.",
    )  # fmt: skip
    options.add_freshness_option(fresh)
    options.add_store_option(fresh)
    fresh.set_defaults(handler=run_freshness)


def run_digest(args: argparse.Namespace) -> int:
    store = open_store(args.store, create=False)
    try:
        digest = store.digest()
        if args.json:
            print(json.dumps({"digest": digest, **store.counts()}))
        else:
            print(digest)
    finally:
        store.close()
    return 0


def run_history(args: argparse.Namespace) -> int:
    try:
        mdn = normalize(args.number)
    except InvalidNumber as error:
        raise options.UsageError(str(error)) from error
    store = open_store(args.store, create=False)
    try:
        print(json.dumps({"mdn": mdn, "events": store.history(mdn)}))
    finally:
        store.close()
    return 0


def run_freshness(args: argparse.Namespace) -> int:
    store = open_store(args.store, create=False)
    try:
        report = options.warn_if_stale(store, args)
    finally:
        store.close()
    print(json.dumps({"sources": report}))
    return 1 if any(source["stale"] for source in report) else 0
