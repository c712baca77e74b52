"""numguard check: may I text this number?"""

from __future__ import annotations

import argparse
import json

from numguard.cli import options
from numguard.consumer.store import open_store
from numguard.consumer.store.rules import Consent, decide
from numguard.core.phone import InvalidNumber, normalize
from numguard.core.times import parse_date_or_time

DESCRIPTION = """\
Answer "may I text this number?" from the suppression store, as one JSON object:

  mdn              the number, normalized to E.164
  decision         allow, hold or block
  reason           active, no_record (nothing was ever reported), no_data
                   (nothing reported, but the feeds did not cover every day
                   since the consent), suspended, deactivated,
                   undeliverable (a message to it failed permanently with a
                   code meaning the number is gone: `numguard receive`), or
                   unreadable_event (an event of the number could not be
                   read: held until it is redriven and applied)
  deactivated_on   the UTC date of the latest deactivation, when there is one
  undeliverable_on the date of the permanent delivery failure in force
  new_mdn          the subscriber's new number, after a number change
  suspended_since  when the current suspension began
  uncovered_days   with no_data: the days since the consent that no feed
                   covered, each a date or a range (2024-03-01/2024-03-05)

A deactivation voids every consent given on or before its date: give when the
subscriber opted in with --consented-at. A date (2024-03-07) counts when it is
after the deactivation date. A moment (2024-03-07T20:00-05:00) counts only from
the start of the next day in the --consent-day-zone, UTC-11 by default, so an
opt-in made in the evening of the deactivation date anywhere in the US (already
the next day in UTC) is still void. Without --consented-at, a number with any
deactivation on record is blocked.

"Nothing was ever reported" holds only for the days the feeds covered. The
store knows the first day each feed reported and the days a feed missed (the
producer records a daily report past due and absent). A number with no record
whose consent is before the first covered day, or before a missed day, is
answered no_data with those days listed: allow by default, hold with
--no-data hold. The warnings on stderr say which sources are stale."""

EPILOG = f"""\
exit status:
  0  answered (whatever the decision)
  2  the number or the date cannot be read

examples:
  numguard check +12223334444 --consented-at 2024-01-01
  numguard check +12223334444 --consented-at 2024-01-01T18:30:00-05:00
  numguard check "(202) 555-0100"

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="may I text this number? (JSON)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("number", metavar="NUMBER", help="+1 (202) 555-0100, 2025550100, ...")
    parser.add_argument(
        "--consented-at", metavar="ISO-8601",
        help="when the subscriber opted in: a date, or a moment (UTC if no offset)",
    )  # fmt: skip
    options.add_consent_options(parser)
    options.add_freshness_option(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


def consent_time(text: str | None) -> Consent | None:
    if text is None:
        return None
    try:
        return parse_date_or_time(text)
    except ValueError as error:
        raise options.UsageError(
            f"--consented-at {text!r} is not an ISO 8601 date or time"
        ) from error


def run(args: argparse.Namespace) -> int:
    try:
        mdn = normalize(args.number)
    except InvalidNumber as error:
        raise options.UsageError(str(error)) from error
    consented_at = consent_time(args.consented_at)
    zone = options.consent_day_zone(args)
    options.no_data_verdict(args)  # a bad choice stops here, before any warning
    store = open_store(args.store, create=False)
    try:
        options.warn_if_stale(store, args)
        no_data = options.no_data(args, store)
        print(json.dumps(decide(mdn, store.state(mdn), consented_at, zone, no_data).as_json()))
    finally:
        store.close()
    return 0
