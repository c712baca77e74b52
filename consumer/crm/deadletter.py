"""The CRM dead-letter topic, <topic>.crm.dlq: deliveries that failed for good.

One JSON object per record, readable with any console consumer:

    {"endpoint": "salesforce", "status": 410, "attempts": 1,
     "last_error": "HTTP 410: gone", "event": {<the CloudEvent>},
     "original_topic": "numguard.number-state", "original_partition": 2,
     "original_offset": 41, "reason": "...", "stage": "consume crm",
     "dead_lettered_at": "..."}

An undecodable message has no endpoint (null) and no event, but its bytes as
hex in `raw`. `numguard dlq redrive --endpoint NAME` sends the events again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numguard.core.deadletter import DeadLetter, Delivery
from numguard.core.kafka.records import Record

if TYPE_CHECKING:
    from numguard.consumer.crm.delivery import Outcome

STAGE = "consume crm"
REDRIVE_STAGE = "dlq redrive"


def failed_delivery(
    outcome: Outcome, endpoint: str, event: dict[str, Any], topic: str | None,
    partition: int | None, offset: int | None, *, redriven_from_offset: int | None = None,
) -> DeadLetter:  # fmt: skip
    """A delivery that failed for good; with redriven_from_offset, one that failed again
    when `numguard dlq redrive` sent the dead letter at that offset."""
    redrive = redriven_from_offset is not None
    return DeadLetter(
        reason=f"{'redrive ' if redrive else ''}{outcome.outcome}: {outcome.last_error}",
        stage=REDRIVE_STAGE if redrive else STAGE,
        delivery=Delivery(endpoint, outcome.status, outcome.attempts, outcome.last_error),
        event=event, original_topic=topic, original_partition=partition,
        original_offset=offset, redriven_from_offset=redriven_from_offset,
    )  # fmt: skip


def undecodable(record: Record, reason: str) -> DeadLetter:
    return DeadLetter.of_record(
        record, f"undecodable: {reason}", STAGE, delivery=Delivery(None, None, 0, None)
    )
