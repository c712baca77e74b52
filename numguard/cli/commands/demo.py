"""numguard demo: the whole flow on an embedded default, no setup needed."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from prometheus_client import start_http_server

from numguard.cli.options import DEFAULT_TOPIC
from numguard.consumer.crm.config import CrmConfig, Endpoint
from numguard.consumer.crm.metrics import CrmMetrics
from numguard.consumer.crm.notifier import CrmNotifier
from numguard.consumer.metrics import StoreConsumerMetrics
from numguard.consumer.store import SqlStore, open_store
from numguard.consumer.store.rules import decide
from numguard.consumer.store_consumer import StoreConsumer
from numguard.core.kafka.clients import (
    base_config,
    consumer_config,
    idempotent_producer_config,
    transactional_producer_config,
)
from numguard.core.kafka.topics import TopicNames, ensure_crm_dead_letter_topic, ensure_topics
from numguard.core.signals import stop_on_signals
from numguard.producer.checkpoints import read_checkpoints
from numguard.producer.feeds import FeedSettings, build_sources
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.poller import Poller, PollOutcome
from numguard.producer.publish import ReportPublisher
from numguard.producer.sources.base import Source
from numguard.producer.sources.http import RetryPolicy
from numguard.schemas.codec import EventCodec

if TYPE_CHECKING:
    from numguard.devtools.local_s3 import LocalS3
    from numguard.devtools.simulator import CarrierSimulator, GeneratedDataset

DESCRIPTION = """\
Run the whole flow once on an embedded default and show what happened:

  1. start a local Apache Kafka broker (KRaft, loopback only; the first run
     fetches the pinned jars from Maven Central with Maven and caches them)
  2. start the carrier simulator with a few days of generated reports on its
     Infobip, Convey, Twilio, GovDelivery, Vibes, Vonage and Telesign
     endpoints, and a local S3 (moto) with AWS End User Messaging's reports
  3. poll the eight feeds, publishing every report exactly once (Infobip is
     paced at about one request a second, as the real API requires)
  4. run `numguard receive` and post it a few signed Twilio delivery reports:
     the permanent failures become UNDELIVERABLE events
  5. consume the topic into a SQLite suppression store until caught up
  6. send every event to a local CRM webhook receiver that verifies each
     signature (the CRM notifier)
  7. show the store: numbers blocked and held, and a few decisions
  8. stop everything it started

Metrics are served at the URL printed while it runs (--hold keeps it all up
until Ctrl-C). Nothing outside --workdir is touched."""

CONSENT_DAYS_BEFORE = 30


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole flow on a local Kafka with simulated carriers",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--workdir", type=Path, help="where the broker and store live (default: a temp dir)"
    )
    parser.add_argument("--days", type=int, default=3, help="simulated days of reports (default 3)")
    parser.add_argument("--numbers", type=int, default=300, help="simulated changes (default 300)")
    parser.add_argument("--hold", action="store_true", help="keep everything up until Ctrl-C")
    parser.set_defaults(handler=run)


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="numguard-demo-")
        ))  # fmt: skip
        return run_in(workdir, args, stack)


def sources_for(simulator: CarrierSimulator, days: int, s3: LocalS3) -> list[Source]:
    from numguard.devtools.local_s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY
    from numguard.devtools.simulator.server import (
        DEV_GOVDELIVERY_TOKEN,
        DEV_INFOBIP_API_KEY,
        DEV_TELESIGN_API_KEY,
        DEV_TELESIGN_CUSTOMER_ID,
        DEV_TWILIO_ACCOUNT_SID,
        DEV_TWILIO_AUTH_TOKEN,
        DEV_VIBES_PASSWORD,
        DEV_VIBES_USERNAME,
        DEV_VONAGE_API_KEY,
        DEV_VONAGE_API_SECRET,
    )

    base = simulator.base_url
    return build_sources(FeedSettings(
        lookback_days=days, policy=RetryPolicy(attempts=3, initial_seconds=0.2),
        convey_url=f"{base}/convey/mcdn_deact_{{date:%Y%m%d}}.csv",
        infobip_url=base, infobip_api_key=DEV_INFOBIP_API_KEY,
        twilio_url=base, twilio_account_sid=DEV_TWILIO_ACCOUNT_SID,
        twilio_auth_token=DEV_TWILIO_AUTH_TOKEN,
        govdelivery_url=base, govdelivery_token=DEV_GOVDELIVERY_TOKEN,
        vibes_url=f"{base}/vibes/disconnect_{{date:%Y_%m_%d}}.tsv.gz",
        vibes_username=DEV_VIBES_USERNAME, vibes_password=DEV_VIBES_PASSWORD,
        vonage_url=base, vonage_api_key=DEV_VONAGE_API_KEY,
        vonage_api_secret=DEV_VONAGE_API_SECRET,
        telesign_url=base, telesign_customer_id=DEV_TELESIGN_CUSTOMER_ID,
        telesign_api_key=DEV_TELESIGN_API_KEY,
        aws_sms=True, aws_endpoint_url=s3.endpoint_url, aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ))  # fmt: skip


@contextmanager
def publishing(bootstrap: str, names: TopicNames) -> Iterator[Poller]:
    metrics = ProducerMetrics()
    publisher = ReportPublisher(
        transactional_producer_config(bootstrap, f"numguard-demo-{socket.gethostname()}"),
        names, EventCodec(), metrics=metrics,
    )  # fmt: skip
    try:
        yield Poller(publisher, read_checkpoints(base_config(bootstrap), names.checkpoints),
                     metrics)  # fmt: skip
    finally:
        publisher.close()


def run_in(workdir: Path, args: argparse.Namespace, stack: ExitStack) -> int:
    # The developer tools are imported when the demo runs, never by other commands.
    from numguard.devtools.local_s3 import LocalS3
    from numguard.devtools.localkafka.broker import LocalKafka, free_port
    from numguard.devtools.localkafka.jars import kafka_version
    from numguard.devtools.simulator import CarrierSimulator, GeneratedDataset

    step(f"starting Apache Kafka {kafka_version()} on loopback (the first run fetches its jars)")
    kafka = stack.enter_context(LocalKafka(workdir / "kafka"))
    print(f"    broker at {kafka.bootstrap_servers}, log {kafka.log_file}")
    metrics_port = free_port()
    start_http_server(metrics_port, addr="127.0.0.1")
    names = TopicNames.for_events_topic(DEFAULT_TOPIC)
    ensure_topics(base_config(kafka.bootstrap_servers), names)

    data = GeneratedDataset(seed=1, numbers=args.numbers, days=args.days)
    simulator = stack.enter_context(CarrierSimulator(data))
    step(f"carrier simulator at {simulator.base_url}: {args.numbers} changes over "
         f"{args.days} days ({data.dates()[0]} to {data.last_date})")  # fmt: skip

    s3 = stack.enter_context(LocalS3(data, data.dates()))
    print(f"    AWS End User Messaging's reports bucket on a local S3 at {s3.endpoint_url}")

    step("polling the feeds: Convey, Infobip, Twilio, GovDelivery, Vibes, Vonage, Telesign, "
         "AWS End User Messaging")  # fmt: skip
    outcomes: list[PollOutcome] = []
    with publishing(kafka.bootstrap_servers, names) as poller:
        for source in sources_for(simulator, args.days, s3):
            outcomes.append(poller.poll(source))
            print(f"    {json.dumps(outcomes[-1].as_json())}", flush=True)
            source.close()

    failures = post_delivery_reports(kafka.bootstrap_servers, names, workdir)

    store_url = f"sqlite:///{workdir / 'store.sqlite3'}"
    step(f"consuming into {store_url}")
    store = open_store(store_url)
    stack.callback(store.close)
    consumed = StoreConsumer(
        consumer_config(kafka.bootstrap_servers, "numguard-demo-store"),
        idempotent_producer_config(kafka.bootstrap_servers), names, store, EventCodec(),
        metrics=StoreConsumerMetrics(),
    ).run(until_idle=True)  # fmt: skip
    print(f"    {json.dumps(consumed.as_json())}")

    delivered = notify_crm(kafka.bootstrap_servers, names)

    states = store.numbers_by_state()
    step(f"the store: {states['deactivated']} numbers blocked (deactivated), "
         f"{states['undeliverable']} blocked (undeliverable), {states['suspended']} held "
         f"(suspended), {states['active']} active")  # fmt: skip
    show_samples(store, data)

    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    reports = sum(o.reports for o in outcomes)
    print(
        f"done: {reports} reports polled, {sum(o.accepted for o in outcomes)} events published, "
        f"{sum(o.rejected for o in outcomes)} rows rejected; {failures} delivery failures; "
        f"{states['deactivated']} numbers blocked, {states['suspended']} held; "
        f"{delivered} webhooks delivered; "
        f"metrics at {metrics_url}"
    )
    if args.hold:
        print("holding: Ctrl-C stops the broker, the simulator and the metrics", flush=True)
        stop_on_signals().wait()
    return 0 if not any(o.failed for o in outcomes) else 1


# The sender's own delivery reports the demo posts: two permanent failures (the number
# is gone) and a delivered message (ignored).
DEMO_CALLBACKS = (("SMdemo1", "+12025550901", "undelivered", "30005"),
                  ("SMdemo2", "+12025550902", "failed", "30006"),
                  ("SMdemo3", "+12025550903", "delivered", ""))  # fmt: skip


def post_delivery_reports(bootstrap: str, names: TopicNames, workdir: Path) -> int:
    """`numguard receive` as its own process, and a few Twilio status callbacks signed as
    Twilio signs them; returns how many became UNDELIVERABLE events."""
    from numguard.producer.delivery.twilio_callbacks import SIGNATURE_HEADER, signature

    token = secrets.token_hex(16)
    env = {**os.environ, "TWILIO_AUTH_TOKEN": token, "INFOBIP_DLR_USERNAME": "",
           "INFOBIP_DLR_PASSWORD": ""}  # fmt: skip
    log = workdir / "receive.log"
    with log.open("w") as errors:
        receiver = subprocess.Popen(
            [sys.executable, "-m", "numguard", "receive", "--port", "0",
             "--bootstrap-servers", bootstrap, "--topic", names.events],
            env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
        try:
            assert receiver.stdout is not None
            line = receiver.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"numguard receive did not start; see {log}")
            url = line.rsplit(" ", 1)[1].strip() + "/v1/delivery-reports/twilio"
            step(f"posting {len(DEMO_CALLBACKS)} Twilio delivery reports to numguard receive "
                 f"at {url}")  # fmt: skip
            for sid, to, status, code in DEMO_CALLBACKS:
                params = {"MessageSid": sid, "To": to, "From": "+12025550000",
                          "MessageStatus": status, "ErrorCode": code}  # fmt: skip
                signed = signature(token, url, sorted(params.items()))
                answer = httpx.post(url, data=params, headers={SIGNATURE_HEADER: signed},
                                    timeout=30)  # fmt: skip
                print(f"    {status} {code or '-'}: HTTP {answer.status_code}")
        finally:
            receiver.terminate()
            receiver.wait(30)
    return sum(1 for *_, code in DEMO_CALLBACKS if code)


def notify_crm(bootstrap: str, names: TopicNames) -> int:
    """The CRM notifier, to a local receiver that checks every signature."""
    from numguard.devtools.webhook_sink import WebhookSink

    secret = secrets.token_hex(16)
    with WebhookSink(secret) as sink:
        endpoint = Endpoint(name="demo-crm", url=sink.url, secret_env="(generated)", secret=secret)
        step(f"sending every event to a CRM webhook at {sink.url}")
        ensure_crm_dead_letter_topic(base_config(bootstrap), names)
        summary = CrmNotifier(
            consumer_config(bootstrap, "numguard-demo-crm"), idempotent_producer_config(bootstrap),
            names, CrmConfig(endpoints=(endpoint,)), EventCodec(), CrmMetrics(),
        ).run(until_idle=True)  # fmt: skip
        by_type = ", ".join(f"{k.lower()} {v}" for k, v in sorted(sink.received.items()))
        print(
            f"    {summary.delivered} delivered, signatures verified ({by_type}); "
            f"{sink.bad_signatures} bad signatures, {summary.dead_lettered} dead-lettered"
        )
        return summary.delivered


def show_samples(store: SqlStore, data: GeneratedDataset) -> None:
    """One decision per kind of change, for a consent given a month before it."""
    from numguard.devtools.simulator.feeds import Feed, Kind

    # A kind of change, and the decision that shows it best (a suspension may since be lifted).
    samples = {Kind.DEACTIVATE: "block", Kind.SUSPEND: "hold", Kind.CHANGE_NUMBER: "block"}
    for kind, wanted in samples.items():
        changes = (c for day in data.dates() for c in data.changes(Feed.CONVEY, day))
        for change in (c for c in changes if c.kind is kind):
            consent = change.at - timedelta(days=CONSENT_DAYS_BEFORE)
            answer = decide(change.mdn, store.state(change.mdn), consent).as_json()
            if answer["decision"] == wanted:
                print(f"    {kind.value.lower()}, consent {consent:%Y-%m-%d}: {json.dumps(answer)}")
                break
