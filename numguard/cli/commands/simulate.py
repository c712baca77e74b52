"""numguard simulate: serve carrier deactivation feeds over HTTP for tests, demos, benchmarks."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from numguard.cli.options import UsageError
from numguard.core.metrics import add_metrics_options, serve_metrics
from numguard.core.signals import stop_on_signals

if TYPE_CHECKING:
    from numguard.devtools.simulator.faults import FaultRule
    from numguard.devtools.simulator.feeds import CarrierData
    from numguard.devtools.simulator.server import CarrierSimulator, Credentials

DEFAULT_SEED = 0
DEFAULT_NUMBERS = 1000
DEFAULT_DAYS = 7
INFOBIP_KEY_ENV = "NUMGUARD_SIM_INFOBIP_API_KEY"
TWILIO_SID_ENV = "NUMGUARD_SIM_TWILIO_ACCOUNT_SID"
TWILIO_TOKEN_ENV = "NUMGUARD_SIM_TWILIO_AUTH_TOKEN"
LOOPBACK = "127.0.0.1"  # the simulator serves tests and demos: never beyond this host
SIGNAL_POLL_SECONDS = 0.5  # how often the main thread looks up from waiting for a signal

DESCRIPTION = f"""\
Serve three carriers' deactivation feeds over HTTP, as the carriers do, from
generated or given data, optionally with faults: a stand-in for the real APIs
in tests, demos and benchmarks. It listens on {LOOPBACK} (a free port unless
--port says) and runs until SIGTERM or SIGINT. On start it prints the base URL
on its first line, then the paths it serves:

  GET /number-activation-state/1/network-reports
      Infobip network report metadata; page (default 0), size (default 20,
      at most 1000), dateFrom, dateTo, generatedDateFrom, generatedDateTo,
      networkId, networkName, reportId. Header "Authorization: App <key>".
  GET /number-activation-state/1/network-reports/REPORT_ID/records
      the report's records (date, destination, type, newDestination); page,
      size. 404 once the report passed its expiryDate (60 days).
  GET /convey/mcdn_deact_YYYYMMDD.csv
      Convey's daily file (MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,
      CARRIER_NAME); 404 for a day without one.
  GET /v1/Deactivations?Date=YYYY-MM-DD
      Twilio, HTTP basic auth (account SID, auth token): 307 with
      {{"redirect_to": URL}} in the body, a signed link valid --twilio-link-ttl
      seconds (then 403) to the day's list, one +1XXXXXXXXXX a line, CRLF.
      Errors 30113 before 2020-08-27, 30114 after the last day.

Generated data (the default) is the same for the same --seed, --numbers, --days
and --start-date: --numbers changes spread evenly over the days, each day split
Convey 50 %, Infobip 30 % (Verizon Wireless 1717, AT&T Mobility 1733), Twilio
20 %; mostly deactivations, with suspensions lifted 1-3 days later, number
changes, and a few Infobip activations. Numbers are fictional, +1NXX555XXXX.
With --from-dir, the files in DIR are served as written instead:
mcdn_deact_YYYYMMDD.csv, twilio_deactivations_YYYY-MM-DD.txt, and Infobip
reports as *.json (a report's metadata fields plus its items under "records").

Faults are counted, never random, so every run fails the same way. PATTERN is
a glob on the URL path (default *, every path), e.g. '/convey/*' or '*/records'."""

EPILOG = f"""\
environment:
  {INFOBIP_KEY_ENV:33}Infobip API key
  {TWILIO_SID_ENV:33}Twilio account SID
  {TWILIO_TOKEN_ENV:33}Twilio auth token
  Credentials come from the environment, never from the command line;
  --api-key-env, --account-sid-env and --auth-token-env name other variables,
  which must then be set. When a default variable is unset, the simulator's
  fixed development value is used (public, for local runs only); the banner
  says which.

exit status:
  0  stopped by SIGTERM or SIGINT
  2  wrong usage: bad option, unusable --from-dir, address in use

examples:
  numguard simulate --port 8080 --seed 7 --numbers 5000 --days 3
  numguard simulate --from-dir ./feeds --missing-day 2024-03-05
  numguard simulate --fail-first 2:'/convey/*' --truncate-first 1:'/twilio/*' \\
      --throttle-first 1:30:'*/network-reports' --infobip-rate-limit
  numguard simulate --numbers 1000000 --days 1 --api-key-env BENCH_INFOBIP_KEY"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="serve Infobip, Convey and Twilio deactivation feeds over HTTP (for tests)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listen = parser.add_argument_group("listening")
    listen.add_argument("--host", default=LOOPBACK, help=f"address to bind (default {LOOPBACK})")
    listen.add_argument(
        "--port", type=int, default=0, help="port to bind (default 0: a free one, printed)"
    )
    data = parser.add_argument_group("data")
    data.add_argument("--seed", type=int, help=f"generated data's seed (default {DEFAULT_SEED})")
    data.add_argument(
        "--numbers",
        type=int,
        metavar="N",
        help=f"changes to generate over all days and feeds (default {DEFAULT_NUMBERS})",
    )
    data.add_argument(
        "--days", type=int, metavar="D", help=f"days to generate (default {DEFAULT_DAYS})"
    )
    data.add_argument(
        "--start-date",
        type=_date,
        metavar="YYYY-MM-DD",
        help="first generated day (default: D days ago, so yesterday is the last)",
    )
    data.add_argument(
        "--infobip-reports-per-day",
        type=int,
        choices=(1, 2),
        help="Infobip reports per network and day; 2 adds a later one for the same dates",
    )
    data.add_argument(
        "--from-dir", type=Path, metavar="DIR", help="serve the carrier files in DIR instead"
    )
    behaviour = parser.add_argument_group("carrier behaviour")
    behaviour.add_argument(
        "--infobip-rate-limit",
        type=float,
        nargs="?",
        const=1.0,
        metavar="SECONDS",
        help="answer 429 + Retry-After to an Infobip key asking again within SECONDS "
        "(default when given: 1, Infobip's documented pace)",
    )
    behaviour.add_argument(
        "--twilio-link-ttl",
        type=float,
        metavar="SECONDS",
        help="how long a Twilio download link works (default: about two minutes, as Twilio's)",
    )
    injected = parser.add_argument_group("faults")
    for flag, parse, metavar, text in (
        ("--fail-first", "fail_first", "K[:PATTERN]", "the first K requests get 500"),
        (
            "--throttle-first",
            "throttle_first",
            "K[:SECONDS[:PATTERN]]",
            "the first K requests get 429 with Retry-After: SECONDS (default 1)",
        ),
        ("--delay", "delay_all", "SECONDS[:PATTERN]", "every request waits SECONDS"),
        (
            "--truncate-first",
            "truncate_first",
            "K[:PATTERN]",
            "the first K bodies stop at half their Content-Length; the connection closes",
        ),
    ):
        injected.add_argument(
            flag,
            dest="rules",
            action="append",
            default=[],
            type=_rule(parse),
            metavar=metavar,
            help=text + " (repeatable)",
        )
    injected.add_argument(
        "--missing-day",
        dest="missing_days",
        action="append",
        default=[],
        type=_date,
        metavar="YYYY-MM-DD",
        help="the day has no Convey file, no Twilio list (30114), no Infobip report (repeatable)",
    )
    secrets = parser.add_argument_group("credentials (environment variable names)")
    secrets.add_argument(
        "--api-key-env", metavar="NAME", help=f"Infobip key (default {INFOBIP_KEY_ENV})"
    )
    secrets.add_argument(
        "--account-sid-env", metavar="NAME", help=f"Twilio account SID (default {TWILIO_SID_ENV})"
    )
    secrets.add_argument(
        "--auth-token-env", metavar="NAME", help=f"Twilio auth token (default {TWILIO_TOKEN_ENV})"
    )
    add_metrics_options(parser)
    parser.set_defaults(handler=run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _rule(parser_name: str) -> Callable[[str], FaultRule]:
    """The fault flag's value, read by the simulator's own parser of that name."""

    def checked(spec: str) -> FaultRule:
        from numguard.devtools.simulator import faults

        parse: Callable[[str], FaultRule] = getattr(faults, parser_name)
        try:
            return parse(spec)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{spec!r}: {error}") from None

    checked.__name__ = parser_name  # argparse names the type in its error messages
    return checked


def dataset(args: argparse.Namespace) -> CarrierData:
    from numguard.devtools.simulator.dataset import GeneratedDataset
    from numguard.devtools.simulator.files import DirectoryDataset, UnusableDirectory

    generation = ("seed", "numbers", "days", "start_date", "infobip_reports_per_day")
    if args.from_dir is not None:
        given = [
            f"--{name.replace('_', '-')}" for name in generation if getattr(args, name) is not None
        ]
        if given:
            raise UsageError(f"--from-dir serves given files: {', '.join(given)} cannot apply")
        try:
            return DirectoryDataset(args.from_dir)
        except UnusableDirectory as error:
            raise UsageError(f"--from-dir: {error}") from error
    try:
        return GeneratedDataset(
            DEFAULT_SEED if args.seed is None else args.seed,
            DEFAULT_NUMBERS if args.numbers is None else args.numbers,
            DEFAULT_DAYS if args.days is None else args.days,
            args.start_date,
            infobip_reports_per_day=args.infobip_reports_per_day or 1,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error


def _secret(named: str | None, default_name: str, development: str) -> tuple[str, str]:
    """The value and where it came from, for the banner (which never shows values)."""
    name = named or default_name
    value = os.environ.get(name)
    if value:
        return value, f"${name}"
    if named:
        raise UsageError(f"the environment variable {name} (given with its -env option) is not set")
    return development, "development default"


def credentials(args: argparse.Namespace) -> tuple[Credentials, dict[str, str]]:
    from numguard.devtools.simulator.server import (
        DEV_INFOBIP_API_KEY,
        DEV_TWILIO_ACCOUNT_SID,
        DEV_TWILIO_AUTH_TOKEN,
        Credentials,
    )

    key, key_from = _secret(args.api_key_env, INFOBIP_KEY_ENV, DEV_INFOBIP_API_KEY)
    sid, sid_from = _secret(args.account_sid_env, TWILIO_SID_ENV, DEV_TWILIO_ACCOUNT_SID)
    token, token_from = _secret(args.auth_token_env, TWILIO_TOKEN_ENV, DEV_TWILIO_AUTH_TOKEN)
    return Credentials(key, sid, token), {"key": key_from, "sid": sid_from, "token": token_from}


def banner(simulator: CarrierSimulator, args: argparse.Namespace, sources: dict[str, str]) -> str:
    from numguard.devtools.simulator.dataset import GeneratedDataset

    base = simulator.base_url
    data = simulator.data
    if isinstance(data, GeneratedDataset):
        what = (
            f"generated: seed {data.seed}, {data.numbers} changes over {data.days} day(s), "
            f"{data.start_date} to {data.last_date}"
        )
    else:
        what = f"files from {args.from_dir}"
    fault_lines = simulator.faults.describe() or ["none"]
    return "\n".join(
        [
            f"carrier simulator at {base}",
            f"data: {what}",
            f"  GET {base}/number-activation-state/1/network-reports",
            f"  GET {base}/number-activation-state/1/network-reports/REPORT_ID/records",
            f"      Infobip: Authorization: App <API key> (key: {sources['key']})",
            f"  GET {base}/convey/mcdn_deact_YYYYMMDD.csv",
            f"  GET {base}/v1/Deactivations?Date=YYYY-MM-DD",
            f"      Twilio: basic auth (account SID: {sources['sid']}; "
            f"auth token: {sources['token']})",
            "faults: " + "; ".join(fault_lines),
            "stop with Ctrl-C or SIGTERM",
        ]
    )


def run(args: argparse.Namespace) -> int:
    # The developer tools are imported when simulate runs, never by other commands.
    from numguard.devtools.simulator.faults import FaultPlan
    from numguard.devtools.simulator.server import CarrierSimulator
    from numguard.devtools.simulator.twilio_api import LINK_TTL_SECONDS

    link_ttl = LINK_TTL_SECONDS if args.twilio_link_ttl is None else args.twilio_link_ttl
    if link_ttl < 0 or (args.infobip_rate_limit or 0) < 0:
        raise UsageError("--twilio-link-ttl and --infobip-rate-limit cannot be negative")
    data = dataset(args)
    creds, sources = credentials(args)
    simulator = CarrierSimulator(
        data,
        host=args.host,
        port=args.port,
        faults=FaultPlan(tuple(args.rules), frozenset(args.missing_days)),
        credentials=creds,
        twilio_link_ttl=link_ttl,
        infobip_min_interval=args.infobip_rate_limit,
    )
    stop = stop_on_signals()
    serve_metrics(args, "simulate")
    try:
        simulator.start()
    except (OSError, OverflowError) as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error}") from error
    try:
        print(banner(simulator, args, sources), flush=True)
        while not stop.wait(SIGNAL_POLL_SECONDS):
            pass
    finally:
        simulator.stop()
    return 0
