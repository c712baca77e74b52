"""numguard's throughput, stage by stage, beside what the same machine does without it.

    python -m bench            # every stage, 1,000,000 events, median of 3 (about 30 min)
    python -m bench --quick    # every stage on small inputs, once, nothing written
    make bench                 # the same as the first, after installing what it needs

Each stage runs as a user runs it, the numguard command in a child process, against a
real Kafka broker (a local one, or KAFKA_BOOTSTRAP_SERVERS) and a real PostgreSQL (a
local durable server in a temp dir, or --postgres). Beside it, in the same run, its
reference: the tool made for the job doing the same work with nothing of numguard's
in the way (librdkafka and Kafka's own performance tools, a plain consumer, fastavro,
SQLite's executemany, PostgreSQL's COPY, csv, the HTTP stack answering a constant,
httpx posting to the same receiver). Every figure is a rate, a median of --repeat runs;
a ratio to its reference says how far numguard is from the machine's limit.

Writes bench/results.json and bench/results.md, and the table into README.md (unless
--no-readme). The load generator for the API is bombardier (go install
github.com/codesenberg/bombardier@v1.2.6; `make bench` does it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import report, stages
from bench.report import Results, write
from numguard.devtools.localkafka.broker import LocalKafka
from numguard.devtools.localpostgres import local_postgres

STAGES = ("ingest", "consume", "replay", "scrub", "crm", "serve")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="events (and rows, contacts) for ingest, consume, replay and "
        "scrub (default 1,000,000)",
    )
    parser.add_argument(
        "--crm-events", type=int, default=20_000, help="events for consume crm (default 20,000)"
    )
    parser.add_argument(
        "--api-numbers",
        type=int,
        default=1_000_000,
        help="numbers in the API's store (default 1,000,000)",
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="serve --workers (default: one a core)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs a figure (default 3)")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"the stages to run, comma-separated (default {','.join(STAGES)})",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server to create databases on (default: a local one)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small inputs, one run: a check that every stage runs"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument(
        "--render", action="store_true",
        help="run nothing: write results.md and README's table again from results.json",
    )  # fmt: skip
    args = parser.parse_args()
    if args.render:
        print(write(report.read(), files=True, readme=not args.no_readme))
        return
    if args.quick:
        args.events, args.crm_events, args.api_numbers, args.repeat = 20_000, 1_000, 20_000, 1
    chosen = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    if unknown := set(chosen) - set(STAGES):
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(STAGES)}")
    if "scrub" in chosen and "consume" not in chosen:
        parser.error("scrub reads the store consume writes: run both")
    stages.kafka_tools_ready()

    results = Results(settings={"events": args.events, "repeat": args.repeat,
                                "api workers": args.api_workers})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="numguard-bench-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        bootstrap = stack.enter_context(kafka(folder))
        postgres = args.postgres or stack.enter_context(local_postgres(durable=True))
        bench = stages.Bench(folder, bootstrap, postgres, args.events, args.crm_events,
                             args.api_numbers, args.repeat, results)  # fmt: skip
        if "ingest" in chosen:
            say("ingest")
            stages.ingest(bench)
        if {"consume", "replay"} & set(chosen):
            say("publishing the events consume and replay read")
            topic = stages.events_topic(bench, args.events)
            if "consume" in chosen:
                say("consume store")
                store = stages.consume_store(bench, topic, "sqlite")
                stages.consume_store(bench, topic, "postgresql")
                if "scrub" in chosen:
                    say("scrub")
                    stages.scrub(bench, store)
            if "replay" in chosen:
                say("replay")
                stages.replay(bench, topic)
        if "crm" in chosen:
            say("consume crm")
            stages.consume_crm(bench)
        if "serve" in chosen:
            say("serve")
            stages.serve(bench, args.api_workers)
    print(write(results, files=not args.quick, readme=not (args.no_readme or args.quick)))


@contextmanager
def kafka(folder: Path) -> Iterator[str]:
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
        return
    with LocalKafka(folder / "kafka") as broker:
        yield broker.bootstrap_servers


def say(what: str, started: float = time.monotonic()) -> None:
    """Progress on stderr: the whole run takes half an hour."""
    print(f"bench [{time.monotonic() - started:5.0f} s]: {what}...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
