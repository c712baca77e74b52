"""Signatures and the CloudEvents body, without a network."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from numguard.consumer.crm import cloudevents, signing
from numguard.schemas.events import EventType
from tests.builders import change

SECRET = "whsec_unit"


def test_a_signature_verifies_and_anything_changed_does_not() -> None:
    body = b'{"id":"e1"}'
    header = signing.sign(SECRET, body)
    assert signing.verify(SECRET, header, body)
    assert not signing.verify(SECRET, header, body + b" ")
    assert not signing.verify("another secret", header, body)
    assert not signing.verify(SECRET, header.replace("t=", "t=1"), body)
    assert not signing.verify(SECRET, "v1=abc", body)
    assert not signing.verify(SECRET, "", body)


def test_old_signatures_are_refused_replays_and_rotation_works() -> None:
    body = b"{}"
    old = signing.sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not signing.verify(SECRET, old, body)
    assert signing.verify(SECRET, old, body, tolerance_seconds=900)
    rotated = signing.sign("new", body) + ",v1=" + signing.sign(SECRET, body).split("v1=")[1]
    assert signing.verify(SECRET, rotated, body)
    assert signing.verify("new", rotated, body)


def test_the_readme_receiver_snippet_agrees_with_the_signer() -> None:
    """The few lines in signing.py's docstring, as a receiver would paste them."""

    def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        signed = parts["t"].encode() + b"." + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(parts["t"])) <= tolerance
        return fresh and hmac.compare_digest(expected, parts["v1"])

    body = b'{"specversion":"1.0"}'
    assert verify(SECRET, signing.sign(SECRET, body), body)
    assert signing.HEADER == "Numguard-Signature"


def test_a_change_as_a_cloudevent() -> None:
    changed = change(EventType.NUMBER_CHANGED, "2024-03-05T10:30", mdn="+12025550104",
                     new_mdn="+12025550199")  # fmt: skip
    event = cloudevents.to_cloudevent(changed)
    assert event == {
        "specversion": "1.0",
        "id": changed.event_id,
        "source": "numguard/convey",
        "type": "io.numguard.number.changed",
        "time": "2024-03-05T10:30:00Z",
        "subject": "+12025550104",
        "datacontenttype": "application/json",
        "data": {
            "mdn": "+12025550104", "event_type": "NUMBER_CHANGED",
            "effective_at": "2024-03-05T10:30:00Z", "new_mdn": "+12025550199",
            "carrier": "Verizon Wireless", "source": "convey", "report_id": "report-1",
            "event_id": changed.event_id,
        },
    }  # fmt: skip
    assert json.loads(cloudevents.body(event)) == event
    for kind in EventType:
        if kind is not EventType.UNKNOWN:
            assert cloudevents.TYPES[kind].startswith("io.numguard.number.")
