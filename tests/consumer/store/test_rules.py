"""Every rule of the send decision, each proven through the real store on both backends.

The state is folded by consumer.store.rules and persisted by SqlStore; each
test applies events through `apply_batch`, reads the state back from the
database, and asks for the decision, exactly as `numguard check` does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo

import pytest

from numguard.consumer.store import Consumed, SqlStore
from numguard.consumer.store.rules import CONSENT_DAY_ZONE, Decision, decide
from numguard.core.times import parse_date_or_time
from numguard.schemas.events import EventType, StateChange
from tests.builders import NUMBER, change

D, A, S, R, C, U = (
    EventType.DEACTIVATED,
    EventType.ACTIVATED,
    EventType.SUSPENDED,
    EventType.REACTIVATED,
    EventType.NUMBER_CHANGED,
    EventType.UNDELIVERABLE,
)

Ask = Callable[..., Decision]


@pytest.fixture
def ask(store: SqlStore) -> Callable[[list[StateChange]], Ask]:
    """Apply the events (one batch each, in the order given), then ask the store."""

    def apply(events: list[StateChange]) -> Ask:
        for offset, event in enumerate(events):
            store.apply_batch([Consumed(event, "t", 0, offset)], {("t", 0): offset + 1}, "g")

        def decision(
            consented_at: str | None = None, mdn: str = NUMBER, day_zone: tzinfo = CONSENT_DAY_ZONE
        ) -> Decision:
            consent = parse_date_or_time(consented_at) if consented_at else None
            return decide(mdn, store.state(mdn), consent, day_zone)

        return decision

    return apply


def test_deactivation_voids_consent_given_before_it(ask: Callable) -> None:
    decision = ask([change(D, "2024-03-05T11:00")])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("block", "deactivated")
    assert decision.as_json()["deactivated_on"] == "2024-03-05"


def test_deactivation_voids_consent_given_the_same_utc_day_hours_later(ask: Callable) -> None:
    decision = ask([change(D, "2024-03-05T01:00")])("2024-03-05T23:59")
    assert decision.verdict == "block"


def test_a_consent_date_after_the_deactivation_date_allows(ask: Callable) -> None:
    decide_at = ask([change(D, "2024-03-05T23:00")])
    assert (decide_at("2024-03-06").verdict, decide_at("2024-03-06").reason) == ("allow", "active")
    assert decide_at("2024-03-05").verdict == "block"  # the deactivation date itself


def test_a_consent_moment_counts_from_the_next_day_in_utc_minus_11(ask: Callable) -> None:
    """Issue 11, case 6: an evening opt-in in the US on the deactivation date, already the
    next day in UTC, was taken as valid."""
    decide_at = ask([change(D, "2024-03-05T10:00")])
    # 20:00 at UTC-5 on the deactivation date is 2024-03-06T01:00Z: still void.
    assert decide_at("2024-03-05T20:00-05:00").verdict == "block"
    # 23:59 in American Samoa (UTC-11) on the deactivation date: void.
    assert decide_at("2024-03-05T23:59:59-11:00").verdict == "block"
    assert decide_at("2024-03-06T10:59:59Z").verdict == "block"
    # The next day has begun everywhere in the US: it counts.
    assert decide_at("2024-03-06T00:00:00-11:00").verdict == "allow"
    assert decide_at("2024-03-06T11:00:00Z").verdict == "allow"
    # A moment without an offset is UTC.
    assert decide_at("2024-03-06T10:00").verdict == "block"


def test_the_consent_day_zone_can_be_set_to_utc(ask: Callable) -> None:
    """--consent-day-zone UTC gives the former reading: the next UTC day counts."""
    decide_at = ask([change(D, "2024-03-05T10:00")])
    assert decide_at("2024-03-06T00:00Z", day_zone=UTC).verdict == "allow"
    assert decide_at("2024-03-05T23:59:59Z", day_zone=UTC).verdict == "block"
    assert decide_at("2024-03-06T00:00Z").verdict == "block"  # the default zone: UTC-11


def test_later_deactivation_voids_consent_given_between_two_deactivations(ask: Callable) -> None:
    decide_at = ask([change(D, "2024-03-05"), change(D, "2024-05-01", position=2)])
    assert decide_at("2024-04-01").verdict == "block"
    assert decide_at("2024-05-02").verdict == "allow"


def test_activated_voids_consent_like_a_deactivation(ask: Callable) -> None:
    decision = ask([change(A, "2024-03-05")])("2024-03-01")
    assert (decision.verdict, decision.reason) == ("block", "deactivated")


def test_number_changed_voids_consent_on_the_old_number_and_records_the_new_one(
    ask: Callable,
) -> None:
    decision = ask([change(C, "2024-03-05", new_mdn="+12025550199")])("2024-03-01")
    assert (decision.verdict, decision.new_mdn) == ("block", "+12025550199")


def test_number_changed_gives_the_new_number_no_state(ask: Callable) -> None:
    decide_at = ask([change(C, "2024-03-05", new_mdn="+12025550199")])
    decision = decide_at("2024-03-01", mdn="+12025550199")
    assert (decision.verdict, decision.reason) == ("allow", "no_record")


def test_latest_number_change_gives_the_new_number(ask: Callable) -> None:
    decision = ask(
        [
            change(C, "2024-05-01", new_mdn="+12025550177", position=2),
            change(C, "2024-03-05", new_mdn="+12025550199"),
        ]
    )()
    assert decision.new_mdn == "+12025550177"


def test_suspended_holds_sends_but_keeps_the_subscription(ask: Callable) -> None:
    decision = ask([change(S, "2024-03-05T08:00")])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("hold", "suspended")
    assert decision.as_json()["suspended_since"] == "2024-03-05T08:00:00Z"
    assert decision.deactivated_on is None


def test_reactivated_resumes_sends_after_a_suspension(ask: Callable) -> None:
    decision = ask([change(S, "2024-03-05"), change(R, "2024-03-09")])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("allow", "active")


def test_suspension_after_a_reactivation_holds_again(ask: Callable) -> None:
    events = [change(S, "2024-03-05"), change(R, "2024-03-09"), change(S, "2024-04-01")]
    assert ask(events)("2024-01-01").verdict == "hold"


def test_later_deactivation_ends_a_suspension(ask: Callable) -> None:
    decide_at = ask([change(S, "2024-03-05"), change(D, "2024-03-09")])
    assert decide_at("2024-01-01").verdict == "block"
    # A new owner who opted in after the deactivation is not held by the old suspension.
    assert (decide_at("2024-03-10").verdict, decide_at("2024-03-10").suspended_since) == (
        "allow",
        None,
    )


def test_latest_pause_change_decides_by_position_in_the_same_report_on_a_time_tie(
    ask: Callable,
) -> None:
    same_time = "2024-03-05T00:00"
    events = [change(R, same_time, position=7), change(S, same_time, position=3)]
    assert ask(events)("2024-01-01").verdict == "allow"
    other = [
        change(S, same_time, position=7, mdn="+12025550111"),
        change(R, same_time, position=3, mdn="+12025550111"),
    ]
    assert ask(other)("2024-01-01", mdn="+12025550111").verdict == "hold"


def test_latest_pause_change_decides_by_the_later_report_on_a_time_tie(ask: Callable) -> None:
    same_time = "2024-03-05T00:00"
    events = [
        change(R, same_time, report_id="mcdn_deact_20240306.csv", position=1,
               generated="2024-03-06"),
        change(S, same_time, report_id="mcdn_deact_20240305.csv", position=9,
               generated="2024-03-05"),
    ]  # fmt: skip
    assert ask(events)("2024-01-01").verdict == "allow"


def test_ties_go_to_the_later_generated_report_never_to_the_report_id(ask: Callable) -> None:
    """Infobip's report ids are UUIDs: their order means nothing (issue 11, case 5).
    Here the later report has the smaller id and the earlier position."""
    same_time = "2024-03-05T11:00"
    events = [
        change(S, same_time, report_id="f3a9-early", position=1, source="infobip",
               generated="2024-03-05T12:00"),
        change(R, same_time, report_id="0b12-late", position=1, source="infobip",
               generated="2024-03-06T12:00"),
    ]  # fmt: skip
    assert ask(events)("2024-01-01").verdict == "allow"
    other = "+12025550177"
    reversed_ids = [
        change(R, same_time, report_id="0b12-early", position=5, source="infobip",
               generated="2024-03-05T12:00", mdn=other),
        change(S, same_time, report_id="f3a9-late", position=1, source="infobip",
               generated="2024-03-06T12:00", mdn=other),
    ]  # fmt: skip
    assert ask(reversed_ids)("2024-01-01", mdn=other).verdict == "hold"


def test_a_known_generated_time_wins_a_tie_over_an_unknown_one(ask: Callable) -> None:
    same_time = "2024-03-05T11:00"
    events = [
        change(R, same_time, report_id="zz-unknown", position=9),
        change(S, same_time, report_id="aa-known", position=1, generated="2024-03-05T12:00"),
    ]
    assert ask(events)("2024-01-01").verdict == "hold"


def test_reactivated_never_revives_a_consent_voided_by_a_deactivation(ask: Callable) -> None:
    decide_at = ask([change(D, "2024-03-05"), change(R, "2024-03-09")])
    assert decide_at("2024-01-01").verdict == "block"
    assert decide_at().verdict == "block"


def test_no_consent_date_blocks_any_number_with_a_deactivation_on_record(ask: Callable) -> None:
    decision = ask([change(D, "2020-01-01")])()
    assert (decision.verdict, decision.reason) == ("block", "deactivated")


def test_no_consent_date_holds_a_suspended_number(ask: Callable) -> None:
    assert ask([change(S, "2024-03-05")])().verdict == "hold"


def test_nothing_reported_allows_with_reason_no_record(ask: Callable) -> None:
    decision = ask([])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("allow", "no_record")
    assert decision.as_json() == {"mdn": NUMBER, "decision": "allow", "reason": "no_record"}


# Issue 14: the sender's own permanent delivery failures.


def test_undeliverable_voids_a_consent_given_on_or_before_its_date(ask: Callable) -> None:
    decide_at = ask([change(U, "2024-03-05T15:00", source="twilio-dlr")])
    decision = decide_at("2024-03-05")
    assert (decision.verdict, decision.reason) == ("block", "undeliverable")
    assert decision.as_json()["undeliverable_on"] == "2024-03-05"
    assert decide_at("2024-03-05T20:00-05:00").verdict == "block"  # the consent-day rule
    assert decide_at().reason == "undeliverable"  # no consent date: blocked


def test_undeliverable_lets_a_consent_given_after_its_date_count(ask: Callable) -> None:
    decision = ask([change(U, "2024-03-05T15:00")])("2024-03-06")
    assert (decision.verdict, decision.reason) == ("allow", "active")


def test_a_later_reactivation_ends_an_undeliverable(ask: Callable) -> None:
    events = [change(U, "2024-03-05"), change(R, "2024-03-07", position=2)]
    decision = ask(events)("2024-01-01")
    assert (decision.verdict, decision.reason, decision.undeliverable_on) == (
        "allow", "active", None)  # fmt: skip


def test_a_later_activation_ends_an_undeliverable_but_voids_consent_itself(ask: Callable) -> None:
    decide_at = ask([change(U, "2024-03-05"), change(A, "2024-03-07", position=2)])
    assert decide_at("2024-01-01").reason == "deactivated"  # a new owner
    assert (decide_at("2024-03-08").verdict, decide_at("2024-03-08").reason) == ("allow", "active")


def test_a_reactivation_before_or_at_the_undeliverable_does_not_end_it(ask: Callable) -> None:
    before = ask([change(R, "2024-03-04"), change(U, "2024-03-05", position=2)])("2024-01-01")
    assert before.reason == "undeliverable"
    same_time = [change(U, "2024-03-05T10:00", mdn="+12025550111"),
                 change(R, "2024-03-05T10:00", mdn="+12025550111", position=2)]  # fmt: skip
    assert ask(same_time)("2024-01-01", mdn="+12025550111").reason == "undeliverable"


def test_a_deactivation_outranks_an_undeliverable(ask: Callable) -> None:
    decision = ask([change(U, "2024-03-09"), change(D, "2024-03-05", position=2)])("2024-01-01")
    assert (decision.reason, decision.deactivated_on.isoformat()) == ("deactivated", "2024-03-05")
    # A consent after the deactivation but before the failure is still void: undeliverable.
    later = ask([change(U, "2024-03-09", mdn="+12025550111"),
                 change(D, "2024-03-05", mdn="+12025550111", position=2)])  # fmt: skip
    assert later("2024-03-07", mdn="+12025550111").reason == "undeliverable"


def test_an_undeliverable_outranks_a_suspension(ask: Callable) -> None:
    decision = ask([change(S, "2024-03-01"), change(U, "2024-03-05", position=2)])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("block", "undeliverable")
