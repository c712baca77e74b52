"""The delivery-report readers on their own: what counts as a permanent failure, and when
it happened (the receiver's HTTP side is tested in test_receive.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from numguard.producer.delivery import infobip_reports, twilio_callbacks
from numguard.producer.delivery.codes import PermanentFailures

RECEIVED = datetime(2024, 3, 6, 12, 0, tzinfo=UTC)


def callback(**fields: str) -> list[tuple[str, str]]:
    base = {"MessageSid": "SM1", "To": "+12025550101", "MessageStatus": "undelivered",
            "ErrorCode": "30005"}  # fmt: skip
    return list({**base, **fields}.items())


def test_a_webhook_failure_dated_days_before_it_arrived_is_dated_when_it_arrived() -> None:
    """Found in review: RawDlrDoneDate=9901010000 dated the failure 1999, so every consent
    since counted and the block was void."""
    old = twilio_callbacks.failure(callback(RawDlrDoneDate="9901010000"), RECEIVED)
    assert old is not None and old.failed_at == RECEIVED
    recent = twilio_callbacks.failure(callback(RawDlrDoneDate="2403061130"), RECEIVED)
    assert recent is not None and recent.failed_at == RECEIVED - timedelta(minutes=30)
    report = {"results": [{"messageId": "m1", "to": "12025550101", "doneAt": "1999-01-01T00:00:00Z",
                           "error": {"id": 1, "permanent": True}}]}  # fmt: skip
    (failure,), problems = infobip_reports.failures(report, PermanentFailures(), RECEIVED)
    assert (failure.failed_at, problems) == (RECEIVED, [])


def test_only_listed_codes_of_failed_messages_and_us_numbers_are_failures() -> None:
    assert twilio_callbacks.failure(callback(MessageStatus="delivered"), RECEIVED) is None
    assert twilio_callbacks.failure(callback(ErrorCode=""), RECEIVED) is None
    assert twilio_callbacks.failure(callback(To="+447700900123"), RECEIVED) is None
    assert not PermanentFailures().means_gone("twilio", "30003")
    assert PermanentFailures.with_overrides({"twilio": ["30003"]}).means_gone("twilio", "30003")
