"""The send decision: what the carriers' changes mean for one number.

Pure functions, no I/O. `apply` folds one change into a number's state and is
order-independent and idempotent: every field is a maximum over the changes
seen (by effective time, or by the change's full order key), so any order and
any number of repeats of the same changes give the same state.

The rules (carriers' and aggregators' guidance):
* DEACTIVATED, ACTIVATED (given to a new owner) and NUMBER_CHANGED (of the old
  number) void every consent given on or before the (UTC) date of the change.
  A consent given as a date counts when that date is later. A consent given as
  a moment counts only from the start of the next day in the consent-day zone,
  UTC-11 by default (the westernmost US time zone): an evening opt-in anywhere
  in the US on the deactivation day, already the next day in UTC, is still void.
* SUSPENDED holds sends but keeps the subscription; REACTIVATED resumes them;
  a later deactivation also ends a suspension. The latest of these decides.
* REACTIVATED never revives a consent a deactivation voided.
* NUMBER_CHANGED records the new number on the old one; the new number gets no state.
* UNDELIVERABLE (a permanent delivery failure meaning the number is gone) voids, like a
  deactivation, every consent given on or before its date, with reason `undeliverable`,
  unless a carrier event says the number is active again (REACTIVATED or ACTIVATED)
  strictly later. A deactivation's block comes first.
* A number with no record is only "never reported" for the days the feeds covered:
  when a consent is given and a day from its date to today is uncovered (before the
  first day any feed covered, or a day a feed missed), the answer is `no_data` with
  those days listed, and its verdict is the sender's choice (allow by default).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from numguard.consumer.store.coverage import Coverage, DayRange, span
from numguard.schemas.events import EventType, StateChange

# The start of "the next day" for a consent given as a moment: in American Samoa
# (UTC-11), the last US time zone to leave a date, so no US opt-in on the day of a
# deactivation counts, wherever it was given.
CONSENT_DAY_ZONE: tzinfo = timezone(timedelta(hours=-11), "UTC-11")

# A consent as a date (the day the subscriber opted in) or as a moment (when).
Consent = date | datetime

# effective ms, report generated ms (0: unknown), position, event id
OrderKey = tuple[int, int, int, str]

VOIDS_CONSENT = frozenset({EventType.DEACTIVATED, EventType.ACTIVATED, EventType.NUMBER_CHANGED})
# The changes that decide whether sends are paused; the latest one wins.
PAUSE_RELEVANT = VOIDS_CONSENT | {EventType.SUSPENDED, EventType.REACTIVATED}
# A carrier saying the number is in service: ends an earlier UNDELIVERABLE.
ACTIVE_AGAIN = frozenset({EventType.REACTIVATED, EventType.ACTIVATED})


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    BLOCK = "block"


class Reason(enum.StrEnum):
    DEACTIVATED = "deactivated"
    UNDELIVERABLE = "undeliverable"
    SUSPENDED = "suspended"
    ACTIVE = "active"
    NO_RECORD = "no_record"
    NO_DATA = "no_data"
    UNREADABLE_EVENT = "unreadable_event"


def order_key(change: StateChange) -> OrderKey:
    """Effective time, then when the report was generated (unknown: before any known),
    then position in it; the event id breaks exact ties. Report ids are never compared:
    Infobip's are UUIDs, whose order means nothing."""
    millis = int(change.effective_at.timestamp() * 1000)
    generated = change.report_generated_at
    generated_ms = int(generated.timestamp() * 1000) if generated is not None else 0
    return (millis, generated_ms, change.report_position, change.event_id)


def _later(a: OrderKey | None, b: OrderKey | None) -> OrderKey | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass(frozen=True, slots=True)
class NumberState:
    """What the rules need to know about one number."""

    mdn: str
    last_voided_at: datetime | None = None  # latest consent-voiding change
    pause_key: OrderKey | None = None  # latest pause-relevant change ...
    pause_type: EventType | None = None  # ... and its type
    pause_since: datetime | None = None  # ... and its effective time
    new_mdn: str | None = None  # from the latest NUMBER_CHANGED
    new_mdn_key: OrderKey | None = None
    # Events of this number that could not be read: not folded from changes, but kept
    # by the store until each is redriven and applied. While any is open: hold.
    unreadable: int = 0
    undeliverable_at: datetime | None = None  # latest UNDELIVERABLE
    active_again_at: datetime | None = None  # latest REACTIVATED or ACTIVATED

    @property
    def undeliverable_since(self) -> datetime | None:
        """The permanent delivery failure in force: none a later activation ended."""
        failed, active = self.undeliverable_at, self.active_again_at
        return failed if failed is not None and (active is None or failed >= active) else None


def apply(state: NumberState | None, change: StateChange) -> NumberState:
    """Fold one change into the state of `change.mdn`."""
    current = state or NumberState(change.mdn)
    key = order_key(change)
    voided = current.last_voided_at
    if change.event_type in VOIDS_CONSENT and (voided is None or change.effective_at > voided):
        voided = change.effective_at
    pause_key, pause_type, pause_since = current.pause_key, current.pause_type, current.pause_since
    if change.event_type in PAUSE_RELEVANT and _later(pause_key, key) == key:
        pause_key, pause_type, pause_since = key, change.event_type, change.effective_at
    new_mdn, new_mdn_key = current.new_mdn, current.new_mdn_key
    if change.event_type is EventType.NUMBER_CHANGED and _later(new_mdn_key, key) == key:
        new_mdn, new_mdn_key = change.new_mdn, key
    failed, active = current.undeliverable_at, current.active_again_at
    if change.event_type is EventType.UNDELIVERABLE:
        failed = _latest(failed, change.effective_at)
    elif change.event_type in ACTIVE_AGAIN:
        active = _latest(active, change.effective_at)
    return NumberState(
        current.mdn, voided, pause_key, pause_type, pause_since, new_mdn, new_mdn_key,
        current.unreadable, failed, active,
    )  # fmt: skip


def _latest(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment > current else current


@dataclass(frozen=True, slots=True)
class Decision:
    mdn: str
    verdict: Verdict
    reason: Reason
    deactivated_on: date | None = None
    new_mdn: str | None = None
    suspended_since: datetime | None = None
    uncovered: tuple[DayRange, ...] = ()  # for no_data: the days no feed covered
    undeliverable_on: date | None = None  # the permanent delivery failure in force

    def as_json(self) -> dict[str, str | list[str]]:
        """The JSON object `check`, `serve` and `scrub` show."""
        # The members themselves: StrEnums are their values (and `.value` is slow).
        answer: dict[str, str | list[str]] = {
            "mdn": self.mdn, "decision": self.verdict, "reason": self.reason
        }  # fmt: skip
        if self.deactivated_on is not None:
            answer["deactivated_on"] = self.deactivated_on.isoformat()
        if self.new_mdn is not None:
            answer["new_mdn"] = self.new_mdn
        if self.suspended_since is not None:
            answer["suspended_since"] = self.suspended_since.isoformat().replace("+00:00", "Z")
        if self.undeliverable_on is not None:
            answer["undeliverable_on"] = self.undeliverable_on.isoformat()
        if self.uncovered:
            answer["uncovered_days"] = [span(days) for days in self.uncovered]
        return answer


def consent_counts(consent: Consent, deactivated_on: date, day_zone: tzinfo) -> bool:
    """Whether a consent was given after the deactivation date ended.

    A date counts when it is later than the deactivation date; a moment counts from
    the start of the next day in `day_zone` (a moment without an offset is UTC).
    """
    if not isinstance(consent, datetime):
        return consent > deactivated_on
    moment = consent if consent.tzinfo is not None else consent.replace(tzinfo=UTC)
    return moment >= datetime.combine(deactivated_on + timedelta(days=1), time(), day_zone)


def consent_day(consent: Consent, day_zone: tzinfo) -> date:
    """The first deactivation date that voids `consent` (see consent_counts)."""
    if not isinstance(consent, datetime):
        return consent
    moment = consent if consent.tzinfo is not None else consent.replace(tzinfo=UTC)
    try:
        return moment.astimezone(day_zone).date()
    except OverflowError:  # within a day of year 1 or 9999: the edge it is near
        return date.min if moment.year == 1 else date.max


@dataclass(frozen=True, slots=True)
class NoData:
    """What a no-record answer needs to know: the store's coverage and the sender's
    choice for uncovered days."""

    coverage: Coverage
    verdict: Verdict = Verdict.ALLOW
    today: date | None = None  # None: today's UTC date


def decide(
    mdn: str,
    state: NumberState | None,
    consented_at: Consent | None,
    day_zone: tzinfo = CONSENT_DAY_ZONE,
    no_data: NoData | None = None,
) -> Decision:
    """May a sender text `mdn`, given consent on or at `consented_at` (None: unknown)?
    With `no_data`, a number with no record whose consent predates the coverage, or
    precedes a missed day, is answered `no_data` (without it: `no_record`)."""
    if state is None:
        if no_data is not None and consented_at is not None:
            today = no_data.today or datetime.now(UTC).date()
            since = consent_day(consented_at, day_zone)
            if uncovered := no_data.coverage.uncovered(since, today):
                return Decision(mdn, no_data.verdict, Reason.NO_DATA, uncovered=tuple(uncovered))
        return Decision(mdn, Verdict.ALLOW, Reason.NO_RECORD)
    voided_on = state.last_voided_at.date() if state.last_voided_at else None
    failed = state.undeliverable_since
    failed_on = failed.date() if failed is not None else None
    suspended = state.pause_type is EventType.SUSPENDED
    # A consent given on the day of the deactivation, even hours later, is void:
    # the new subscriber must opt in at a date later than the deactivation date.
    if voided_on is not None and (
        consented_at is None or not consent_counts(consented_at, voided_on, day_zone)
    ):
        verdict, reason = Verdict.BLOCK, Reason.DEACTIVATED
    elif failed_on is not None and (
        consented_at is None or not consent_counts(consented_at, failed_on, day_zone)
    ):
        verdict, reason = Verdict.BLOCK, Reason.UNDELIVERABLE
    elif state.unreadable:
        # An event of this number could not be read: it may be a deactivation.
        verdict, reason = Verdict.HOLD, Reason.UNREADABLE_EVENT
    elif suspended:
        verdict, reason = Verdict.HOLD, Reason.SUSPENDED
    else:
        verdict, reason = Verdict.ALLOW, Reason.ACTIVE
    # The facts go with every answer, whatever the verdict.
    return Decision(
        mdn, verdict, reason, deactivated_on=voided_on, new_mdn=state.new_mdn,
        suspended_since=state.pause_since if suspended else None, undeliverable_on=failed_on,
    )  # fmt: skip
