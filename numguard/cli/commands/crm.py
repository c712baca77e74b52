"""numguard consume crm (webhooks to CRM systems) and numguard dlq redrive."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from numguard.cli import config as configuration
from numguard.cli import options
from numguard.consumer.crm.config import CrmConfig
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.consumer.crm.notifier import DEFAULT_GROUP, CrmNotifier
from numguard.consumer.crm.redrive import Redriver, redrive_group
from numguard.consumer.store_redrive import REDRIVE_GROUP, EventRedriver
from numguard.core.kafka.clients import base_config, consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import ensure_crm_dead_letter_topic, ensure_topics
from numguard.core.metrics import add_metrics_options, serve_metrics
from numguard.core.signals import stop_on_signals
from numguard.schemas.codec import EventCodec

log = logging.getLogger(__name__)

CONFIG_ENV = "NUMGUARD_CRM_CONFIG"

CONFIG_HELP = f"""\
configuration: its own TOML file (--config FILE, {CONFIG_ENV}, or crm.config in
the main file), else the [crm] section of the main file ([crm.notifier],
[[crm.endpoints]]), else the environment alone. The file's tables:
  [notifier]
  max_pending_per_partition = 1000  # pause a partition with this many undelivered events
  shutdown_grace_seconds = 10       # SIGTERM: time in-flight deliveries get to finish

  [[endpoints]]
  name = "salesforce"
  url = "https://crm.example.com/hooks/numguard"
  secret_env = "SALESFORCE_WEBHOOK_SECRET"         # the variable holding the secret
  event_types = ["DEACTIVATED", "NUMBER_CHANGED"]  # default: every type
  timeout_seconds = 10          # per request (default 10)
  max_concurrency = 8           # requests in flight to this endpoint (default 8)
  max_attempts = 8              # then the event is dead-lettered (default 8)
  backoff = {{ initial_seconds = 1.0, max_seconds = 60.0 }}

  The environment overrides any key, NUMGUARD_CRM_<NAME>_<KEY> (for example
  NUMGUARD_CRM_SALESFORCE_URL, NUMGUARD_CRM_SALESFORCE_BACKOFF_MAX_SECONDS,
  NUMGUARD_CRM_MAX_PENDING_PER_PARTITION), and NUMGUARD_CRM_ENDPOINTS=a,b adds
  endpoints defined by variables alone."""

CRM_DESCRIPTION = f"""\
Send every state change to every subscribed CRM as a signed webhook.

Each event becomes a CloudEvents 1.0 JSON POST (content type
application/cloudevents+json) with Idempotency-Key set to the event id and a
Numguard-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>"
keyed with the endpoint's secret>. Events of one number reach an endpoint one
after another, in topic order; many numbers are sent at once.

5xx, 408, 429 (Retry-After honoured) and network errors are retried with
exponential backoff and jitter up to max_attempts; any other 4xx is permanent.
Either failure writes the event, the endpoint, the status, the attempts and the
last error to <topic>.crm.dlq (see `numguard dlq redrive`).

The consumer group (default {DEFAULT_GROUP}, read_committed) is independent of the
store's. An offset is committed only once its event was delivered to every
endpoint or dead-lettered, so a crash resends, never skips. A partition with
max_pending_per_partition undelivered events is paused while polling goes on,
so a slow endpoint never gets the consumer thrown out of its group.

On SIGTERM or SIGINT it stops fetching, gives in-flight deliveries the grace
time, commits what was delivered, and abandons the rest uncommitted (it will be
sent again).

{CONFIG_HELP}"""

CRM_EPILOG = f"""\
exit status:
  0  stopped cleanly (or caught up, with --until-idle)
  1  Kafka failed, or a dead letter could not be written
  2  wrong usage or an unusable configuration (every problem is listed)

examples:
  export SALESFORCE_WEBHOOK_SECRET=...
  numguard consume crm --config crm.toml
  numguard consume crm --config crm.toml --until-idle --metrics-port 9103

{options.ENVIRONMENT_HELP}"""

REDRIVE_DESCRIPTION = f"""\
Send one endpoint's dead-lettered events again, in the order they were dead-lettered.

Reads <topic>.crm.dlq from where the previous redrive for the endpoint stopped
(the committed offset of the consumer group numguard-crm-redrive.<NAME>) up to
its end at start. A record is done once it is delivered, or written again as a
new dead letter when it fails again (picked up by the next redrive); records of
other endpoints are passed over. Run it twice: the second sends nothing new.
Prints {{"endpoint", "read", "matched", "delivered", "dead_lettered_again",
"not_redrivable"}}.

{CONFIG_HELP}"""

REDRIVE_EPILOG = f"""\
exit status:
  0  every record of the endpoint delivered
  1  some were dead-lettered again, or Kafka failed
  2  wrong usage, an unknown endpoint or an unusable configuration

With --events: every message the store consumer dead-lettered on <topic>.dlq
since the last such run (group numguard-store-redrive) goes back on the events
topic with its key and the header numguard.redriven-from; the store, applying
it, ends its number's hold (unreadable_event). Prints {{"read", "redriven",
"passed_over"}}; exit 0 unless Kafka failed.

examples:
  numguard dlq redrive --endpoint salesforce --config crm.toml
  numguard dlq redrive --events

{options.ENVIRONMENT_HELP}"""


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    # dest crm_config: `numguard --config` is the global file, whose crm.config may name it.
    parser.add_argument(
        "--config", dest="crm_config", metavar="FILE", default=os.environ.get(CONFIG_ENV),
        help=f"the CRM endpoints' TOML file (env {CONFIG_ENV}); see below",
    )  # fmt: skip


def register_consume_crm(
    consume_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = consume_subparsers.add_parser(
        "crm", help="send every event to the CRM webhooks", description=CRM_DESCRIPTION,
        epilog=CRM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_config_option(parser)
    parser.add_argument(
        "--until-idle", action="store_true",
        help="exit once caught up and every event is delivered or dead-lettered",
    )  # fmt: skip
    # A plain default (not a configuration-file Default): the store's group from the
    # global configuration file must never be taken for this one.
    parser.add_argument(
        "--group", default=DEFAULT_GROUP, help=f"consumer group (default {DEFAULT_GROUP})"
    )
    parser.add_argument(
        "--instance-id", metavar="ID", default=os.environ.get("NUMGUARD_INSTANCE_ID"),
        help="static group membership: a stable name per replica (e.g. the pod name), so a "
        "restarted notifier resumes at once without a rebalance; a stopped one keeps its "
        "partitions until the session times out (env NUMGUARD_INSTANCE_ID)",
    )  # fmt: skip
    parser.add_argument(
        "--from-state", action="store_true",
        help="read <topic>.state, written by `consume store`, instead of the events: each "
        "webhook then also carries the number's resulting state after its change "
        "(data.state: the answer with no consent date), right after a backfill too; "
        "needs `consume store` running",
    )  # fmt: skip
    options.add_kafka_options(parser)
    options.add_outage_option(parser)
    add_metrics_options(parser)
    parser.set_defaults(handler=run_consume_crm)


def register_dlq(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dlq", help="send dead-lettered events again (CRM deliveries, or the store's)",
        description="Work with the dead-letter topics: <topic>.crm.dlq, the CRM deliveries "
        "that failed for good, and <topic>.dlq, the messages the store could not read.",
    )  # fmt: skip
    which = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    redrive = which.add_parser(
        "redrive", help="send one endpoint's dead-lettered events again, or (--events) "
        "put the store's unreadable messages back on the events topic",
        description=REDRIVE_DESCRIPTION, epilog=REDRIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    which_letters = redrive.add_mutually_exclusive_group(required=True)
    which_letters.add_argument("--endpoint", metavar="NAME", help="an endpoint's name")
    which_letters.add_argument(
        "--events", action="store_true",
        help="the store consumer's dead letters on <topic>.dlq: each message back on the "
        "events topic, marked with where it failed, so applying it ends its number's hold",
    )  # fmt: skip
    _add_config_option(redrive)
    options.add_kafka_options(redrive)
    redrive.set_defaults(handler=run_redrive)


def _load(args: argparse.Namespace) -> CrmConfig:
    path = Path(args.crm_config) if args.crm_config else None
    try:
        return configuration.load_crm(path, getattr(args, "settings", None))
    except configuration.ConfigError as error:
        # Exit 2 with every problem, one a line; the cli maps UsageError to exit 2.
        problems = "\n  ".join(error.problems)
        raise options.UsageError(f"{path or 'CRM configuration'}:\n  {problems}") from None


def run_consume_crm(args: argparse.Namespace) -> int:
    config = _load(args)
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    ensure_topics(base_config(bootstrap), names)
    ensure_crm_dead_letter_topic(base_config(bootstrap), names)
    serve_metrics(args, "consume crm")
    notifier = CrmNotifier(
        consumer_config(bootstrap, args.group, args.instance_id),
        idempotent_producer_config(bootstrap),
        names,
        config,
        EventCodec.from_registry_url(args.schema_registry_url, names.events),
        CrmMetrics(),
        outage_seconds=args.outage_seconds,
        from_state=args.from_state,
    )
    summary = notifier.run(until_idle=args.until_idle, stop=stop_on_signals())
    print(json.dumps(summary.as_json()))
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    if args.events:
        return run_event_redrive(args)
    config = _load(args)
    endpoint = config.endpoint(args.endpoint)
    if endpoint is None:
        known = ", ".join(e.name for e in config.endpoints)
        raise options.UsageError(f"no endpoint named {args.endpoint!r} (configured: {known})")
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    topic = ensure_crm_dead_letter_topic(base_config(bootstrap), names)
    redriver = Redriver(
        consumer_config(bootstrap, redrive_group(endpoint.name)),
        idempotent_producer_config(bootstrap),
        topic,
        endpoint,
    )
    summary = redriver.run(stop=stop_on_signals())
    print(json.dumps(summary.as_json()))
    return 1 if summary.dead_lettered_again else 0


def run_event_redrive(args: argparse.Namespace) -> int:
    bootstrap = options.bootstrap_servers(args)
    names = options.topic_names(args)
    summary = EventRedriver(
        consumer_config(bootstrap, REDRIVE_GROUP), idempotent_producer_config(bootstrap), names
    ).run()
    print(json.dumps(summary.as_json()))
    return 0
