"""numguard ingest: publish local report files once each."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

from numguard.cli import options
from numguard.core.kafka.clients import base_config, transactional_producer_config
from numguard.core.kafka.topics import ensure_topics
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.delivery.codes import PermanentFailures
from numguard.producer.ingest import FORMATS, ingest_files
from numguard.producer.publish import DEFAULT_ROWS_PER_TRANSACTION, ReportPublisher

DESCRIPTION = """\
Publish the rows of local carrier report files as events, in the order given.

Each valid row becomes one Avro event on the events topic, keyed by the number.
Each bad row goes to <topic>.dlq with the reason, and is counted. A file that
cannot be read at all (wrong header, not CSV) is rejected whole and not marked
done. The events of a file and its checkpoint on <topic>.checkpoints are
committed in one Kafka transaction, so a file is published exactly once: a
file published before with the same content is skipped unless --force is
given; one re-issued under the same name with other content is published again
from its first row (re-publishing is harmless downstream, as event ids are
derived from the rows)."""

EPILOG = f"""\
formats (chosen by --format, else by the file name):
  convey   daily deactivation files mcdn_deact_YYYYMMDD.csv (*.csv) with the columns
           MDN, REASON_CODE, MODIFICATION_DATE, NEW_MDN, CARRIER_NAME
  infobip  a report's records saved from Infobip's records API (*.json):
           {{"results": [{{"date", "destination", "type", "newDestination"}}, ...]}},
           a bare list of records, or a report object holding them under "records";
           the report's networkName (top level or under "report") becomes the carrier.
           Read whole: save a large report page by page, one file a page
  twilio   a day's list of deactivated numbers saved from Twilio's signed URL (*.txt),
           one number per line (+1XXXXXXXXXX, 1XXXXXXXXXX or 10 digits); the name must
           hold the day: twilio_deactivations_YYYY-MM-DD.txt
  delivery-failures
           the sender's own delivery failures (*delivery-failures*.csv): the columns
           number, provider (twilio, infobip, openmarket), code, and optionally
           failed_at (ISO 8601) and message_id. A code that means the number is gone
           (`numguard receive --help`; --codes replaces a provider's list) becomes an
           UNDELIVERABLE event; another code is ignored (counted, not published)

exit status:
  0  every file was published (or had been before), every row as an event
  1  a file was unreadable, or Kafka failed
  2  wrong usage
  3  every file was published, but some rows were rejected or published with a
     warning: each is a dead letter on <topic>.dlq, with its position and reason

examples:
  numguard ingest mcdn_deact_20240305.csv mcdn_deact_20240306.csv
  numguard ingest --json --bootstrap-servers 127.0.0.1:9092 reports/*.csv

{options.ENVIRONMENT_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="publish local report files (Convey CSV, Infobip JSON, Twilio lists, "
        "delivery failures)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", metavar="PATH", nargs="+", type=Path, help="report files")
    parser.add_argument("--format", choices=FORMATS, help="file format (default: from the name)")
    parser.add_argument("--force", action="store_true", help="publish files published before")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument(
        "--rows-per-transaction",
        type=int,
        default=DEFAULT_ROWS_PER_TRANSACTION,
        metavar="N",
        help="split larger files into transactions of N rows "
        f"(default {DEFAULT_ROWS_PER_TRANSACTION})",
    )
    parser.add_argument(
        "--transactional-id",
        metavar="ID",
        help="Kafka transactional.id; a second ingest with the same id fences the first "
        "(default numguard-ingest-<topic>-<host>)",
    )
    options.add_codes_option(parser)
    options.add_kafka_options(parser, publishes=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    codes = PermanentFailures.with_overrides(options.code_overrides(args))
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    ensure_topics(base_config(bootstrap), names)
    transactional_id = (
        args.transactional_id or f"numguard-ingest-{names.events}-{socket.gethostname()}"
    )
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, transactional_id),
        names,
        options.event_writer(args, names),
        rows_per_transaction=args.rows_per_transaction,
    )
    try:
        done = read_checkpoints(base_config(bootstrap), names.checkpoints)
        summary = ingest_files(
            args.paths, publisher, done, file_format=args.format, force=args.force, codes=codes
        )
    finally:
        publisher.close()
    if args.json:
        print(json.dumps(summary.as_json()))
    else:
        print(
            f"files published: {summary.files}  rows: {summary.rows}  "
            f"accepted: {summary.accepted}  rejected: {summary.rejected} (see {names.dead_letter})"
            + (f"  ignored: {summary.ignored}" if summary.ignored else "")
        )
        if summary.already_done:
            print(f"published before, skipped: {', '.join(summary.already_done)} (use --force)")
        if summary.reissued:
            print(f"re-issued with other content, published again: {', '.join(summary.reissued)}")
        if summary.unreadable:
            print(f"unreadable, rejected whole: {', '.join(summary.unreadable)}")
    if summary.unreadable:
        return 1
    return 3 if summary.rejected or summary.flagged else 0
