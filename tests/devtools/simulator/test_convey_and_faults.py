"""Convey's daily files over HTTP, and the injected faults: errors, 429, delays,
truncated bodies, missing days. Every fault is counted, so each test is exact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from numguard.devtools.simulator import (
    CarrierSimulator,
    FaultKind,
    FaultPlan,
    FaultRule,
    GeneratedDataset,
    convey_file_name,
)
from numguard.devtools.simulator.faults import (
    FaultInjector,
    delay_all,
    fail_first,
    throttle_first,
    truncate_first,
)

START = date(2024, 3, 1)
FIRST = "/convey/" + convey_file_name(START)
SECOND = "/convey/mcdn_deact_20240302.csv"


@pytest.fixture(scope="module")
def data() -> GeneratedDataset:
    return GeneratedDataset(seed=31, numbers=3000, days=3, start_date=START)


def serve(
    data: GeneratedDataset, *rules: FaultRule, missing: frozenset[date] = frozenset()
) -> CarrierSimulator:
    return CarrierSimulator(data, faults=FaultPlan(tuple(rules), missing))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building one per request costs more than the requests."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def plain(data: GeneratedDataset) -> Iterator[CarrierSimulator]:
    with serve(data) as simulator:
        yield simulator


def test_a_daily_file_is_csv_with_its_full_content_length(
    plain: CarrierSimulator, data: GeneratedDataset, http: httpx.Client
) -> None:
    response = http.get(plain.url(FIRST))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content == data.convey_file(START).read()  # type: ignore[union-attr]
    assert response.text.splitlines()[0] == "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME"


@pytest.mark.parametrize(
    "path", ["/convey/mcdn_deact_20240304.csv", "/convey/mcdn_deact_20240231.csv", "/convey/x.csv"]
)
def test_a_day_without_a_file_is_404(
    plain: CarrierSimulator, path: str, http: httpx.Client
) -> None:
    assert http.get(plain.url(path)).status_code == 404


def test_an_unknown_path_is_404_and_a_post_405(plain: CarrierSimulator, http: httpx.Client) -> None:
    assert http.get(plain.url("/nothing/here")).status_code == 404
    assert http.post(plain.url(FIRST)).status_code == 405


def test_the_simulator_listens_on_loopback_only_by_default(plain: CarrierSimulator) -> None:
    assert plain.base_url.startswith("http://127.0.0.1:")
    assert plain.port > 0


def test_the_first_k_requests_of_a_pattern_fail_with_500(
    data: GeneratedDataset, http: httpx.Client
) -> None:
    with serve(data, FaultRule(FaultKind.ERROR, "/convey/*", count=2)) as simulator:
        statuses = [http.get(simulator.url(path)).status_code for path in (FIRST, SECOND, FIRST)]
        assert statuses == [500, 500, 200]
        assert http.get(simulator.url("/v1/Deactivations")).status_code == 401  # not matched
        assert [r.faults for r in simulator.requests("/convey/*")] == [
            (FaultKind.ERROR,), (FaultKind.ERROR,), ()
        ]  # fmt: skip


def test_throttling_answers_429_with_retry_after_then_serves(
    data: GeneratedDataset, http: httpx.Client
) -> None:
    with serve(data, FaultRule(FaultKind.THROTTLE, FIRST, count=1, seconds=7)) as simulator:
        throttled = http.get(simulator.url(FIRST))
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "7"
        assert http.get(simulator.url(FIRST)).status_code == 200


def test_a_delay_holds_every_matching_answer_back(
    data: GeneratedDataset, http: httpx.Client
) -> None:
    with serve(data, FaultRule(FaultKind.DELAY, "/convey/*", count=None, seconds=0.2)) as sim:
        for _ in range(2):
            began = time.monotonic()
            assert http.get(sim.url(FIRST)).status_code == 200
            assert time.monotonic() - began >= 0.2
        http.get(sim.url("/v1/Deactivations"))
        assert [r.faults for r in sim.requests()] == [(FaultKind.DELAY,), (FaultKind.DELAY,), ()]


def test_a_truncated_body_is_detectable_from_its_content_length(data: GeneratedDataset) -> None:
    whole = data.convey_file(START).read()  # type: ignore[union-attr]
    with (
        serve(data, FaultRule(FaultKind.TRUNCATE, FIRST, count=1)) as simulator,
        httpx.Client(base_url=simulator.base_url) as client,
    ):
        received = bytearray()
        with client.stream("GET", FIRST) as response:
            declared = int(response.headers["Content-Length"])
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in response.iter_raw():
                    received.extend(chunk)
        assert declared == len(whole)
        assert len(received) == declared // 2
        assert bytes(received) == whole[: declared // 2]
        again = client.get(FIRST)
        assert again.content == whole


def test_a_missing_day_has_no_convey_file_no_twilio_list_and_no_infobip_report(
    data: GeneratedDataset, http: httpx.Client
) -> None:
    missing = date(2024, 3, 2)
    with serve(data, missing=frozenset({missing})) as simulator:
        assert http.get(simulator.url(SECOND)).status_code == 404
        assert http.get(simulator.url(FIRST)).status_code == 200
        twilio = http.get(
            simulator.url("/v1/Deactivations"),
            params={"Date": "2024-03-02"},
            auth=(
                simulator.credentials.twilio_account_sid,
                simulator.credentials.twilio_auth_token,
            ),
        )
        assert (twilio.status_code, twilio.json()["code"]) == (400, 30114)
        reports = simulator.served.infobip_reports()
        assert {r.date_from for r in reports} == {date(2024, 3, 1), date(2024, 3, 3)}
        assert simulator.served.convey_rows(missing) is None
        assert len(data.infobip_reports()) == 6  # the data itself is whole


def test_each_rule_counts_its_own_matches() -> None:
    injector = FaultInjector(
        [FaultRule(FaultKind.ERROR, "/a/*", count=1), FaultRule(FaultKind.DELAY, "*", count=2)]
    )
    kinds = [[r.kind for r in injector.faults_for(path)] for path in ("/b", "/a/1", "/a/2")]
    assert kinds == [[FaultKind.DELAY], [FaultKind.ERROR, FaultKind.DELAY], []]


def test_cli_fault_specs_parse_into_rules() -> None:
    assert fail_first("3:/convey/*") == FaultRule(FaultKind.ERROR, "/convey/*", 3)
    assert fail_first("1") == FaultRule(FaultKind.ERROR, "*", 1)
    assert throttle_first("2:30:*/records") == FaultRule(FaultKind.THROTTLE, "*/records", 2, 30)
    assert throttle_first("2") == FaultRule(FaultKind.THROTTLE, "*", 2, 1)
    assert delay_all("0.5:/v1/*") == FaultRule(FaultKind.DELAY, "/v1/*", None, 0.5)
    assert truncate_first("1:/twilio/*") == FaultRule(FaultKind.TRUNCATE, "/twilio/*", 1)
    for bad in (lambda: fail_first("x"), lambda: fail_first("0"), lambda: delay_all("-1")):
        with pytest.raises(ValueError):
            bad()
