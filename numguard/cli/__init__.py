"""The `numguard` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import KafkaException

from numguard.cli import config
from numguard.cli.commands import (
    check,
    consume,
    demo,
    dev,
    ingest,
    produce,
    receive,
    replay,
    scrub,
    serve,
    simulate,
    store,
)
from numguard.cli.commands import (
    config as config_command,
)
from numguard.cli.commands.crm import register_dlq
from numguard.cli.options import UsageError
from numguard.consumer.store import StoreMissing, StoreUrlError
from numguard.core import logs
from numguard.core.kafka.clients import set_client_settings
from numguard.core.kafka.credentials import CredentialsRejected
from numguard.core.kafka.topics import TopicSetupError
from numguard.core.outages import Unreachable
from numguard.producer.publish import PublishError
from numguard.schemas.codec import CodecMisconfigured
from numguard.schemas.registry import SchemaRejected

log = logging.getLogger("numguard")

DESCRIPTION = """\
numguard keeps SMS senders away from deactivated and reassigned phone numbers.

Carriers publish which numbers were deactivated, suspended, reactivated or
changed. numguard publishes each change as an Avro event on a Kafka topic
(key: the number), keeps a suppression store up to date from that topic, and
answers "may I text this number?" for a consent date."""

EPILOG = """\
data flow:
  ingest (carrier files) -> Kafka topic -> consume store -> check

Run `numguard COMMAND --help` for a command's options, environment and examples.
Start with `numguard demo`: it runs the whole flow on a local Kafka broker."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numguard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", default=os.environ.get("NUMGUARD_CONFIG"),
        help="a TOML configuration file (env NUMGUARD_CONFIG); flags and environment win "
        "over it (see `numguard config --help`)",
    )  # fmt: skip
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log on stderr (default info)",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="text for a terminal, json for one object a line (default text)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = (ingest, produce, receive, consume, replay, check, scrub, serve, store,
               simulate, dev, config_command, demo)  # fmt: skip
    for module in modules:
        module.register(commands)
    register_dlq(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # replay --jobs starts itself
    logs.configure(args.log_level, args.log_format)
    try:
        if args.command != "config":
            path = Path(args.config) if args.config is not None else None
            # The CRM secrets are resolved by the CRM commands (config.load_crm), not here:
            # a host without them still runs every other command.
            settings = config.load(path)
            config.apply(settings, args)
            args.settings = settings  # the CRM commands read its [crm] section
            set_client_settings(config.client_settings(settings))
            for secret in config.secret_values(settings):
                logs.redact(secret)
            for where in config.inline_secrets(settings):
                log.warning("%s: %s", where, config.INLINE_SECRET)
        return int(args.handler(args))
    except UsageError as error:
        parser.exit(2, f"numguard: error: {error}\n")
    except (StoreMissing, StoreUrlError, config.ConfigError) as error:
        parser.exit(2, f"numguard: error: {error}\n")
    except CredentialsRejected as error:  # no retry cures a wrong password: fail at once
        parser.exit(2, f"numguard: error: {logs.scrub(str(error))}\n")
    except (TopicSetupError, CodecMisconfigured) as error:  # a setup error: nothing to retry
        parser.exit(1, f"numguard: error: {error}\n")
    except SchemaRejected as error:  # nothing can be published: fail closed, at once
        parser.exit(1, f"numguard: error: {logs.scrub(str(error))}\n")
    except Unreachable as error:  # waited out for as long as allowed
        parser.exit(1, f"numguard: error: {error}\n")
    except PublishError as error:  # `ingest`: Kafka refused a transaction; it was aborted
        parser.exit(1, f"numguard: error: publishing failed: {error}\n")
    except KafkaException as error:
        log.debug("Kafka error", exc_info=True)
        parser.exit(1, f"numguard: Kafka error: {error.args[0]}\n")
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
