"""Issue 14: `numguard receive` takes the sender's delivery reports (Twilio status
callbacks, Infobip delivery reports) over real HTTP and publishes the permanent
failures that mean the number is gone as UNDELIVERABLE events on the real broker;
the store then blocks the number with reason `undeliverable`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from numguard.core.kafka.topics import TopicNames
from numguard.producer.delivery.receiver import (
    Credentials,
    FailurePublisher,
    NotPublished,
    ReceiverSettings,
    create_app,
)
from numguard.schemas.codec import EventCodec
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.commands import numguard
from tests.support.topic_reader import read_committed

pytestmark = pytest.mark.kafka

AUTH_TOKEN = "twilio-auth-token-for-tests-0042"
INFOBIP_USER, INFOBIP_PASSWORD = "numguard", "infobip-dlr-password-77"
PATH = "/v1/delivery-reports/twilio"
# When the carrier says the messages failed: recent (a date days old is not believed).
DONE = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)


@contextmanager
def receiving(bootstrap: str, names: TopicNames, log: Path, *args: str) -> Iterator[str]:
    env = {**os.environ, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "INFOBIP_DLR_USERNAME": INFOBIP_USER,
           "INFOBIP_DLR_PASSWORD": INFOBIP_PASSWORD}  # fmt: skip
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "numguard", "receive", "--port", "0", "--bootstrap-servers",
             bootstrap, "--topic", names.events, *args],
            env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "listening on" in line, log.read_text()
            yield line.rsplit(" ", 1)[1].strip()
        finally:
            process.terminate()
            process.wait(30)


def twilio_signature(url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm as its documentation states it, written out here."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    mac = hmac.new(AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def callback(base: str, params: dict[str, str], signature: str | None = None) -> httpx.Response:
    url = base + PATH
    sent = signature if signature is not None else twilio_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sent}
    return httpx.post(url, content=urlencode(params), timeout=30, headers=headers)


def status(sid: str, to: str, message_status: str, code: str = "") -> dict[str, str]:
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC0123", "From": "+12025550000",
              "To": to, "MessageStatus": message_status, "ApiVersion": "2010-04-01",
              "SomeFieldTwilioAddedLater": "x"}  # fmt: skip
    if code:
        params |= {"ErrorCode": code, "RawDlrDoneDate": f"{DONE:%y%m%d%H%M}"}
    return params


def undeliverables(bootstrap: str, names: TopicNames) -> list:
    codec = EventCodec()
    return [codec.decode_record(m.key(), m.value())
            for m in read_committed(bootstrap, names.events)]  # fmt: skip


def test_permanent_twilio_and_infobip_failures_become_undeliverable_and_block(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    with receiving(kafka_bootstrap, topics, tmp_path / "receive.log") as base:
        gone = callback(base, status("SM1", "+12025550101", "undelivered", "30005"))
        assert gone.status_code == 204, gone.text
        landline = callback(base, status("SM2", "(202) 555-0102", "failed", "30006"))
        assert landline.status_code == 204
        temporary = callback(base, status("SM3", "+12025550103", "undelivered", "30003"))
        delivered = callback(base, status("SM4", "+12025550104", "delivered"))
        assert (temporary.status_code, delivered.status_code) == (204, 204)
        forged = callback(
            base,
            status("SM5", "+12025550105", "undelivered", "30005"),
            signature=twilio_signature(base + PATH, {"To": "+12025550105"}),
        )
        assert forged.status_code == 403
        tampered = status("SM6", "+12025550106", "undelivered", "30005")
        signature = twilio_signature(base + PATH, tampered)
        assert callback(base, {**tampered, "To": "+12025550199"}, signature).status_code == 403

        reports = {"results": [
            {"messageId": "ib-1", "to": "12025550107", "doneAt": "2024-03-06T10:00:00.000+0000",
             "status": {"groupId": 2, "groupName": "UNDELIVERABLE"},
             "error": {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 1,
                       "name": "EC_UNKNOWN_SUBSCRIBER", "permanent": True}},
            {"messageId": "ib-2", "to": "12025550108", "error": {"id": 1, "permanent": False}},
            {"messageId": "ib-3", "to": "12025550109", "error": {"id": 27, "permanent": False}},
            {"messageId": "ib-4", "to": "12025550110", "status": {"groupName": "DELIVERED"},
             "error": {"id": 0, "name": "NO_ERROR"}},
            {"messageId": "ib-5", "to": "not a number", "error": {"id": 1, "permanent": True}},
        ]}  # fmt: skip
        url = base + "/v1/delivery-reports/infobip"
        refused = httpx.post(url, json=reports, auth=(INFOBIP_USER, "wrong"), timeout=30)
        assert refused.status_code == 401
        assert httpx.post(url, json=reports, timeout=30).status_code == 401
        answered = httpx.post(url, json=reports, auth=(INFOBIP_USER, INFOBIP_PASSWORD), timeout=30)
        assert answered.status_code == 200, answered.text
        assert answered.json()["published"] == 1
        assert answered.json()["unreadable"][0].startswith("results[4]: to: ")
        assert httpx.post(url, content=b"{", auth=(INFOBIP_USER, INFOBIP_PASSWORD),
                          timeout=30).status_code == 400  # fmt: skip
        metrics = httpx.get(base + "/metrics", timeout=30).text
        assert (
            'numguard_delivery_reports_total{outcome="published",provider="twilio"} 2.0' in metrics
        )
        assert (
            'numguard_delivery_reports_total{outcome="unauthorized",provider="twilio"} 2.0'
            in metrics
        )
    assert AUTH_TOKEN not in (tmp_path / "receive.log").read_text()

    events = undeliverables(kafka_bootstrap, topics)
    assert sorted((e.mdn, e.source, e.raw_reason) for e in events) == [
        ("+12025550101", "twilio-dlr", "30005"), ("+12025550102", "twilio-dlr", "30006"),
        ("+12025550107", "infobip-dlr", "1")]  # fmt: skip
    assert {e.event_type for e in events} == {EventType.UNDELIVERABLE}
    by_number = {e.mdn: e for e in events}
    assert by_number["+12025550101"].effective_at == DONE
    assert by_number["+12025550101"].report_id == "SM1"

    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    consumed = numguard("consume", "store", "--until-idle", "--bootstrap-servers",
                        kafka_bootstrap, "--topic", topics.events, "--store", store)  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    checked = numguard("check", "+12025550101", "--consented-at", "2024-01-01", "--store", store,
                       "--stale-after-hours", "0")  # fmt: skip
    answer = json.loads(checked.stdout)
    assert (answer["decision"], answer["reason"], answer["undeliverable_on"]) == (
        "block", "undeliverable", DONE.date().isoformat())  # fmt: skip
    next_day = (DONE.date() + timedelta(days=1)).isoformat()
    later = numguard("check", "+12025550101", "--consented-at", next_day, "--store", store,
                     "--stale-after-hours", "0")  # fmt: skip
    assert json.loads(later.stdout)["decision"] == "allow"
    # A delivery report is not a feed: no source goes stale for a quiet day of them.
    assert json.loads(numguard("store", "freshness", "--store", store).stdout)["sources"] == []


def test_codes_can_be_replaced_per_provider(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    with receiving(kafka_bootstrap, topics, tmp_path / "receive.log",
                   "--codes", "twilio=30003") as base:  # fmt: skip
        assert (
            callback(base, status("SM1", "+12025550101", "undelivered", "30003")).status_code == 204
        )
        assert (
            callback(base, status("SM2", "+12025550102", "undelivered", "30005")).status_code == 204
        )
    assert [e.raw_reason for e in undeliverables(kafka_bootstrap, topics)] == ["30003"]


def test_without_any_provider_secret_receive_refuses_to_start(kafka_bootstrap: str) -> None:
    env = {"TWILIO_AUTH_TOKEN": "", "INFOBIP_DLR_USERNAME": "", "INFOBIP_DLR_PASSWORD": ""}
    refused = numguard("receive", "--bootstrap-servers", kafka_bootstrap, env=env)
    assert refused.returncode == 2
    assert "no provider enabled: set TWILIO_AUTH_TOKEN" in refused.stderr
    bad = numguard("receive", "--codes", "twilio", "--bootstrap-servers", kafka_bootstrap,
                   env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN})  # fmt: skip
    assert (bad.returncode, "expected PROVIDER=CODE,CODE" in bad.stderr) == (2, True)


def test_a_failure_kafka_does_not_take_is_answered_503_and_never_lost() -> None:
    """The provider sends a report again on a 5xx: the 503 is what keeps it."""
    settings = ReceiverSettings("127.0.0.1:9", "nowhere", publish_timeout_seconds=1.0)
    publisher = FailurePublisher(settings)
    with pytest.raises(NotPublished):
        publisher.publish([change(EventType.UNDELIVERABLE, "2024-03-05")])
    from prometheus_client import CollectorRegistry

    app = create_app(settings, Credentials(AUTH_TOKEN, None, None), publisher, CollectorRegistry())
    transport = httpx.ASGITransport(app=app)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
            params = status("SM1", "+12025550101", "undelivered", "30005")
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature("http://receiver" + PATH, params),
            }
            return await http.post(PATH, content=urlencode(params), headers=headers)

    import anyio

    answer = anyio.run(post)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "30")
