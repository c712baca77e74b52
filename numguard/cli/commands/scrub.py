"""numguard scrub: a CRM export back with a decision for every row."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from numguard.cli import options
from numguard.consumer.scrub import ADDED_COLUMNS, ScrubInputError, ScrubSummary, scrub
from numguard.consumer.store import open_store

PROGRESS_EVERY_SECONDS = 0.5
DEFAULT_MAX_UNPARSEABLE = 0.01


def _share(text: str) -> float:
    """`1%` or `0.01`: a share of the rows."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share such as 1% or 0.01") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a share between 0% and 100%")
    return value


DESCRIPTION = f"""\
Scrub a CSV export of contacts against the suppression store.

Every row is written back with these columns appended:
  {ADDED_COLUMNS[0]}   allow, hold, block, or invalid (the number cannot be read)
  {ADDED_COLUMNS[1]}     active, no_record, no_data, suspended, deactivated,
                      undeliverable, unreadable_event, unparseable_number
  {ADDED_COLUMNS[2]}    the subscriber's new number after a number change
  {ADDED_COLUMNS[3]} the date of the deactivation behind a block (the audit trail)
  {ADDED_COLUMNS[4]} with no_data: the days since the consent no feed
                      covered, space-separated dates or ranges (2024-03-01/2024-03-05)

A deactivation voids every consent given on or before its date. Name the
column holding the opt-in date with --consent-column; without it (or where a
row's date is empty or unreadable) any deactivation on record blocks the row.
Consent dates are read as ISO 8601 (2024-03-07, 2024-03-07T20:00-05:00), as US
dates (11/30/2026, 11/30/2026 8:15 PM; a time without a zone is read as UTC,
which never lets a consent count too soon) or with --consent-format. A date
counts when it is after the deactivation date; a time from the start of the next
day in --consent-day-zone (UTC-11 by default). Numbers a spreadsheet turned into
floats (16195550788.0, 1.6195550788E10) are read when no digit was lost.

A number with no record is answered no_data, not no_record, when a day since its
consent was not covered by the feeds (before the first day any feed reported, or
a day a feed missed): allow by default, hold with --no-data hold.

The file is streamed: any size works. A large file is decided by --jobs worker
processes (one a CPU by default), each with its own connection to the store; the
rows come out in the input's order either way. On a terminal a progress line
shows the rows done. A summary follows at the end: on stdout with -o, else on
stderr."""

EPILOG = f"""\
examples:
  numguard scrub contacts.csv --number-column phone --consent-column opted_in_at -o scrubbed.csv
  numguard scrub contacts.csv --number-column phone > scrubbed.csv

exit status:
  0  every row was written
  2  the store does not exist, or a named column is not in the input
  3  every row was written, but more than --max-unparseable of them had a number
     or a consent date that could not be read: check the input's formats

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
    parser.add_argument(
        "--consent-format",
        metavar="STRPTIME",
        help="the consent column's format when it is neither ISO 8601 nor MM/DD/YYYY, "
        "e.g. %%d.%%m.%%Y (Python strptime codes)",
    )
    parser.add_argument(
        "--max-unparseable", type=_share, default=DEFAULT_MAX_UNPARSEABLE, metavar="SHARE",
        help="exit 3 when more than this share of rows could not be read: 1%%, 0.01 "
        "(default 1%%)",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=options.processes, default=len(os.sched_getaffinity(0)), metavar="N",
        help="worker processes deciding a large file's rows; 1: all in this process "
        "(default: one a CPU, %(default)s here)",
    )  # fmt: skip
    options.add_consent_options(parser)
    options.add_freshness_option(parser)
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
    options.no_data_verdict(args)  # a bad choice stops here, before any warning
    store = open_store(args.store, create=False)
    freshness = options.warn_if_stale(store, args)
    no_data = options.no_data(args, store)
    progress = ProgressLine()
    try:
        with args.contacts.open(newline="", encoding="utf-8-sig") as source:
            if args.output is None:
                summary = scrub(source, sys.stdout, store, args.number_column,
                                args.consent_column, progress, zone, args.consent_format,
                                no_data, store_url=args.store, jobs=args.jobs)  # fmt: skip
            else:
                with args.output.open("w", newline="", encoding="utf-8") as target:
                    summary = scrub(source, target, store, args.number_column,
                                    args.consent_column, progress, zone, args.consent_format,
                                    no_data, store_url=args.store, jobs=args.jobs)  # fmt: skip
    except ScrubInputError as error:
        raise options.UsageError(str(error)) from error
    finally:
        progress.finish()
        store.close()
    counts = {**summary.as_json(), "stale_sources": [f["source"] for f in freshness if f["stale"]]}
    # The summary takes stdout only when the rows do not.
    summary_stream = sys.stdout if args.output is not None else sys.stderr
    if args.json:
        print(json.dumps(counts), file=summary_stream)
    else:
        print("scrubbed: " + "  ".join(f"{k}: {v}" for k, v in counts.items()), file=summary_stream)
    if summary.unreadable_share > args.max_unparseable:
        print(
            f"numguard: error: {summary.unreadable_rows} of {summary.rows} rows "
            f"({summary.unreadable_share:.1%}) had a number or consent date that could not be "
            f"read, more than --max-unparseable {args.max_unparseable:.1%}: check the input's "
            "formats (--consent-format)", file=sys.stderr,
        )  # fmt: skip
        return 3
    return 0
