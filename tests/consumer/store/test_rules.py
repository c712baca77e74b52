"""Every rule of the send decision, each proven through the real store on both backends.

The state is folded by consumer.store.rules and persisted by SqlStore; each
test applies events through `apply_batch`, reads the state back from the
database, and asks for the decision, exactly as `numguard check` does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from numguard.consumer.store import Consumed, SqlStore
from numguard.consumer.store.rules import Decision, decide
from numguard.schemas.events import EventType, StateChange
from tests.builders import NUMBER, at, change

D, A, S, R, C = (
    EventType.DEACTIVATED,
    EventType.ACTIVATED,
    EventType.SUSPENDED,
    EventType.REACTIVATED,
    EventType.NUMBER_CHANGED,
)

Ask = Callable[..., Decision]


@pytest.fixture
def ask(store: SqlStore) -> Callable[[list[StateChange]], Ask]:
    """Apply the events (one batch each, in the order given), then ask the store."""

    def apply(events: list[StateChange]) -> Ask:
        for offset, event in enumerate(events):
            store.apply_batch([Consumed(event, "t", 0, offset)], {("t", 0): offset + 1}, "g")

        def decision(consented_at: str | None = None, mdn: str = NUMBER) -> Decision:
            return decide(mdn, store.state(mdn), at(consented_at) if consented_at else None)

        return decision

    return apply


def test_deactivation_voids_consent_given_before_it(ask: Callable) -> None:
    decision = ask([change(D, "2024-03-05T11:00")])("2024-01-01")
    assert (decision.verdict, decision.reason) == ("block", "deactivated")
    assert decision.as_json()["deactivated_on"] == "2024-03-05"


def test_deactivation_voids_consent_given_the_same_utc_day_hours_later(ask: Callable) -> None:
    decision = ask([change(D, "2024-03-05T01:00")])("2024-03-05T23:59")
    assert decision.verdict == "block"


def test_consent_on_the_day_after_the_deactivation_date_allows(ask: Callable) -> None:
    decision = ask([change(D, "2024-03-05T23:00")])("2024-03-06T00:00")
    assert (decision.verdict, decision.reason) == ("allow", "active")


def test_consent_date_is_compared_in_utc(ask: Callable) -> None:
    # 2024-03-05T20:00-05:00 is 2024-03-06T01:00Z: the day after the deactivation.
    decide_at = ask([change(D, "2024-03-05T10:00")])
    assert decide_at("2024-03-05T20:00-05:00").verdict == "allow"
    # 2024-03-06T01:00+05:00 is 2024-03-05T20:00Z: the deactivation's own day.
    assert decide_at("2024-03-06T01:00+05:00").verdict == "block"


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
        change(R, same_time, report_id="mcdn_deact_20240306.csv", position=1),
        change(S, same_time, report_id="mcdn_deact_20240305.csv", position=9),
    ]
    assert ask(events)("2024-01-01").verdict == "allow"


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
