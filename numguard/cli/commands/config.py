"""numguard config: check a configuration file, or print an annotated example."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from numguard.cli import config

EXAMPLE = """\
# numguard configuration. Precedence: command-line flag > environment > this file > default.
# Secrets are never written here: *_env keys name the environment variables holding them.

[kafka]
bootstrap_servers = "kafka-1:9092,kafka-2:9092"
# dead letters go to <topic>.dlq, checkpoints to <topic>.checkpoints
topic = "numguard.number-state"
# schema_registry_url = "http://schema-registry:8081"
# the compatibility level set on the subject <topic>-value whenever numguard registers its
# schema there (produce, ingest, receive); a schema the registry refuses stops the command
# schema_compatibility = "BACKWARD"

[kafka.client]                           # passed to librdkafka as they are
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "numguard"

# librdkafka settings whose values come from the environment
[kafka.client_secret_env]
"sasl.password" = "KAFKA_SASL_PASSWORD"

[store]
url = "postgresql://numguard@db:5432/numguard"   # the password: PGPASSWORD or ~/.pgpass

[rules]
# a consent given as a moment counts from the start of the day after the deactivation
# date in this zone (UTC-11: the westernmost US zone; UTC; or an IANA name)
consent_day_zone = "UTC-11"
# a number with no record, when a day since the consent was not covered by the feeds:
# reason no_data, with this verdict (allow or hold)
no_data = "allow"

[sources.convey]
url = "https://files.example.com/convey/mcdn_deact_{date:%Y%m%d}.csv"
# dir = "/srv/sftp/convey"               # or files dropped into a folder

[produce]
interval_seconds = 900
lookback_days = 14
expected_cadence_hours = 24
metrics_port = 9101

[consume_store]
group = "numguard-store"
metrics_port = 9102

[serve]
port = 8080
token_env = "NUMGUARD_API_TOKEN"

# CRM webhook endpoints: here, or in a file of their own (crm.config = "crm.toml");
# NUMGUARD_CRM_<NAME>_<KEY> overrides any key (see `numguard consume crm --help`)
# [crm.notifier]
# max_pending_per_partition = 1000
# [[crm.endpoints]]
# name = "salesforce"
# url = "https://crm.example.com/hooks/numguard"
# secret_env = "SALESFORCE_WEBHOOK_SECRET"
"""

DESCRIPTION = """\
  check    read a configuration file and report every problem at once, each with
           its key path: unknown keys, wrong types, environment variables named
           by *_env keys that are not set, librdkafka settings librdkafka rejects;
           and warns of a secret written into the file (a password in
           [kafka.client]) rather than named under [kafka.client_secret_env].
  example  print an annotated example file.

Every command reads the file given by --config FILE or NUMGUARD_CONFIG; a flag
or an environment variable always wins over the file."""

EPILOG = """\
examples:
  numguard config example > numguard.toml
  numguard config check numguard.toml
  NUMGUARD_CONFIG=numguard.toml numguard produce

exit status:
  0  no problem found
  1  problems found (each printed on its own line)
  2  no file given"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "config", help="check a configuration file, or print an example",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    which = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = which.add_parser("check", help="report every problem in a configuration file")
    check.add_argument("file", nargs="?", type=Path, help="default: --config / NUMGUARD_CONFIG")
    check.set_defaults(handler=run_check)
    example = which.add_parser("example", help="print an annotated example")
    example.set_defaults(handler=lambda _args: print(EXAMPLE, end="") or 0)


def run_check(args: argparse.Namespace) -> int:
    path = args.file or args.config
    if path is None:
        print("numguard: error: give a file, --config FILE or NUMGUARD_CONFIG", file=sys.stderr)
        return 2
    try:
        settings = config.load(Path(path), with_crm=True)
    except config.ConfigError as error:
        print(f"{path}: {len(error.problems)} problem(s)")
        for problem in error.problems:
            print(f"  {problem}")
        return 1
    count = config.settings_count(settings)
    warnings = config.inline_secrets(settings)
    print(f"{path}: ok ({count} settings)" + (f", {len(warnings)} warning(s)" if warnings else ""))
    for where in warnings:
        print(f"  warning: {where}: {config.INLINE_SECRET}")
    return 0


def example_document() -> dict[str, object]:
    return tomllib.loads(EXAMPLE)
