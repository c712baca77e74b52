"""numguard scrub: a CRM export back with a decision for every row."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from numguard.cli import options
from numguard.consumer.scrub import ADDED_COLUMNS, ScrubInputError, ScrubSummary, scrub
from numguard.consumer.store import open_store

PROGRESS_EVERY_SECONDS = 0.5

DESCRIPTION = f"""\
Scrub a CSV export of contacts against the suppression store.

Every row is written back with these columns appended:
  {ADDED_COLUMNS[0]}   allow, hold, block, or invalid (the number cannot be read)
  {ADDED_COLUMNS[1]}     active, no_record, suspended, deactivated, unparseable_number
  {ADDED_COLUMNS[2]}    the subscriber's new number after a number change

A deactivation voids every consent given on or before its UTC date. Name the
column holding the opt-in date with --consent-column; without it (or where a
row's date is empty or unreadable) any deactivation on record blocks the row.

The file is streamed: any size works. On a terminal a progress line shows the
rows done. A summary follows at the end: on stdout with -o, else on stderr."""

EPILOG = f"""\
examples:
  numguard scrub contacts.csv --number-column phone --consent-column opted_in_at -o scrubbed.csv
  numguard scrub contacts.csv --number-column phone > scrubbed.csv

exit status:
  0  every row was written
  2  the store does not exist, or a named column is not in the input

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scrub", help="append a decision to every row of a contacts CSV",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("contacts", metavar="CONTACTS.csv", type=Path)
    parser.add_argument("--number-column", required=True, metavar="C", help="the phone numbers")
    parser.add_argument("--consent-column", metavar="D", help="when each contact opted in")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.csv", help="default: stdout")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    options.add_consent_options(parser)
    options.add_store_option(parser)
    parser.set_defaults(handler=run)


class ProgressLine:
    def __init__(self) -> None:
        self._started = self._last = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def __call__(self, summary: ScrubSummary) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            rate = summary.rows / max(now - self._started, 1e-9)
            print(f"\rscrubbed {summary.rows:,} rows ({rate:,.0f}/s)", end="", file=sys.stderr)

    def finish(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    zone = options.consent_day_zone(args)
    store = open_store(args.store, create=False)
    progress = ProgressLine()
    try:
        with args.contacts.open(newline="", encoding="utf-8-sig") as source:
            if args.output is None:
                summary = scrub(source, sys.stdout, store, args.number_column,
                                args.consent_column, progress, zone)  # fmt: skip
            else:
                with args.output.open("w", newline="", encoding="utf-8") as target:
                    summary = scrub(source, target, store, args.number_column,
                                    args.consent_column, progress, zone)  # fmt: skip
    except ScrubInputError as error:
        raise options.UsageError(str(error)) from error
    finally:
        progress.finish()
        store.close()
    counts = summary.as_json()
    # The summary takes stdout only when the rows do not.
    summary_stream = sys.stdout if args.output is not None else sys.stderr
    if args.json:
        print(json.dumps(counts), file=summary_stream)
    else:
        print("scrubbed: " + "  ".join(f"{k}: {v}" for k, v in counts.items()), file=summary_stream)
    return 0
