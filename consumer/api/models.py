"""The API's request and answer shapes: they validate requests and generate /openapi.json.

What is a 400 and what is an error in an item's place:
- a request that does not match these models (not JSON, `items` not a list of
  objects, a `number` or `consented_at` that is not a string, too many items) is
  answered 400 (413 for too many items) naming every problem;
- an item that matches them but cannot be answered (no number, or a number that is
  not a phone number) gets {"index", "error"} in its place, so one bad row never
  costs the other 9,999 their answers.
A consent is an RFC 3339 date (2024-03-07) or date-time with its offset
(2024-03-07T20:00:00-05:00): a moment without an offset is ambiguous by hours,
which around midnight decides whether the consent counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from numguard.consumer.store.rules import Reason, Verdict
from numguard.core.times import parse_rfc3339

MAX_BATCH_ITEMS = 10_000

# What numguard.core.phone.normalize reads: a North American number as people write it
# (2025550143, 1-202-555-0143, +1 (202) 555-0143, 202.555.0143), or E.164 outside +1.
NUMBER_PATTERN = (
    r"^(?:(?:\+?1[ .\-]?)?\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-]?[0-9]{4}"
    r"|\+[2-9][0-9]{7,14})$"
)
NUMBER_DESCRIPTION = (
    "+12025550100, 12025550100, 2025550100 or (202) 555-0100 (URL-encode a leading +)"
)
CONSENT_DESCRIPTION = (
    "When the subscriber opted in: a date (2024-03-07) counts when it is after the "
    "deactivation date; a date-time with its offset (2024-03-07T20:00:00-05:00) counts from the "
    "start of the next day in the server's consent-day zone. Without it, any "
    "deactivation on record blocks."
)


class Answer(BaseModel):
    """The decision for one number, as `numguard check` prints it."""

    mdn: str = Field(description="E.164", examples=["+12025550100"])
    decision: Verdict
    reason: Reason
    deactivated_on: str | None = Field(None, json_schema_extra={"format": "date"})
    new_mdn: str | None = None
    suspended_since: str | None = Field(None, json_schema_extra={"format": "date-time"})
    undeliverable_on: str | None = Field(
        None, json_schema_extra={"format": "date"},
        description="the date of the permanent delivery failure in force (reason undeliverable)",
    )  # fmt: skip
    uncovered_days: list[str] | None = Field(
        None,
        description="With reason no_data: the days from the consent to today that no feed "
        "covered, each a date or an ISO 8601 range (2024-03-01/2024-03-05)",
        examples=[["2024-01-01/2024-03-06", "2024-04-02"]],
    )


class ItemError(BaseModel):
    """In an item's place when it cannot be answered."""

    index: int = Field(ge=0)
    error: str


class CheckItem(TypedDict, total=False):
    # A TypedDict, not a model: 10,000 items validate in a tenth of the time, and the
    # handler only reads two keys. Other keys are allowed and ignored.
    number: Annotated[str | None, Field(description=NUMBER_DESCRIPTION, max_length=64)]
    consented_at: ConsentText | None


class CheckRequest(BaseModel):
    items: list[CheckItem] = Field(max_length=MAX_BATCH_ITEMS)


class CheckAnswers(BaseModel):
    results: list[Answer | ItemError] = Field(description="one an item, in order")


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    event_type: str
    effective_at: str | None


class History(BaseModel):
    mdn: str
    events: list[Event]


class Problem(BaseModel):
    """Every error answer."""

    error: str
    problems: list[str] | None = Field(None, description="each problem with the request")


class SourceFreshness(BaseModel):
    source: str
    latest_change: str = Field(json_schema_extra={"format": "date-time"})
    last_applied: str = Field(json_schema_extra={"format": "date-time"})
    stale: bool
    first_day: str | None = Field(None, json_schema_extra={"format": "date"},
                                  description="the first day a report of it covered")  # fmt: skip
    latest_day: str | None = Field(None, json_schema_extra={"format": "date"},
                                   description="the latest day a report of it covered")  # fmt: skip
    missed_days: list[str] = Field(
        default_factory=list,
        description="days it never delivered a report for: dates or ranges (a/b)",
    )


class Health(BaseModel):
    """ok; stale: a source of which nothing was applied for too long; unavailable: the
    store does not answer."""

    status: Literal["ok", "stale", "unavailable"]
    sources: list[SourceFreshness] | None = None


Number = Annotated[str, Field(pattern=NUMBER_PATTERN, description=NUMBER_DESCRIPTION)]


def _consent(value: object) -> date | datetime:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if len(value) > 64:
        raise PydanticCustomError("string_too_long", "String should have at most 64 characters")
    try:
        return parse_rfc3339(value)
    except ValueError as error:
        raise PydanticCustomError("consent", str(error)) from None


# A consent as the schema states it, an RFC 3339 date or date-time with its offset,
# read into a date or an aware datetime; anything else is a 400 saying what is wrong.
ConsentText = Annotated[
    date | datetime,
    BeforeValidator(_consent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ],
            "description": CONSENT_DESCRIPTION,
        }
    ),
]
