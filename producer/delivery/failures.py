"""One delivery failure, whatever reported it, and the UNDELIVERABLE event it becomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from numguard.producer.normalize import event_id
from numguard.schemas.events import EventType, StateChange

# Reported by the sender's messaging provider, not by a carrier's feed: the event's
# source is the provider with this suffix, so freshness and coverage leave it alone.
SOURCE_SUFFIX = "-dlr"
# A failure dated later than this after it was received did not happen yet: it is dated
# when it was received instead.
CREDIBLE_AHEAD = timedelta(days=1)
# A delivery report arrives within this of the failure it reports (providers retry for
# hours, not days).
WEBHOOK_DELAY = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    provider: str  # twilio, infobip, openmarket
    mdn: str  # E.164
    code: str  # the provider's error code
    failed_at: datetime  # aware UTC
    message_id: str  # the provider's id of the failed message


def credible_webhook_time(failed_at: datetime, received_at: datetime) -> datetime:
    """A webhook reports a failure as it happens: a date days before it arrived (a
    carrier clock, `RawDlrDoneDate=9901010000`) would let every consent since count, so
    it is dated when it arrived instead."""
    return failed_at if failed_at >= received_at - WEBHOOK_DELAY else received_at


def undeliverable(failure: DeliveryFailure, received_at: datetime) -> StateChange:
    """The event; the same failure reported twice gets the same id (harmless repeats)."""
    source = failure.provider + SOURCE_SUFFIX
    content = f"{failure.mdn}|{failure.code}|{failure.failed_at.isoformat()}"
    return StateChange(
        event_id=event_id(source, failure.message_id, content),
        mdn=failure.mdn,
        event_type=EventType.UNDELIVERABLE,
        effective_at=failure.failed_at
        if failure.failed_at <= received_at + CREDIBLE_AHEAD
        else received_at,
        new_mdn=None,
        carrier=None,
        source=source,
        report_id=failure.message_id,
        report_position=1,
        raw_reason=failure.code,
        ingested_at=received_at,
    )
