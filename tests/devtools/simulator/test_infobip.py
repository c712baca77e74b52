"""Infobip's Number Activation State API over real HTTP: auth, paging, filters, expiry, pacing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from numguard.devtools.simulator import CarrierSimulator, Credentials, GeneratedDataset, ManualClock

REPORTS = "/number-activation-state/1/network-reports"
KEY = "test-infobip-key"
AUTH = {"Authorization": f"App {KEY}"}
START = date(2024, 3, 1)
SOON_AFTER = datetime(2024, 3, 10, tzinfo=UTC)  # every report generated, none expired


def records_path(report_id: str) -> str:
    return f"{REPORTS}/{report_id}/records"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SOON_AFTER)


@pytest.fixture
def data() -> GeneratedDataset:
    return GeneratedDataset(seed=21, numbers=1200, days=3, start_date=START)


@pytest.fixture
def simulator(data: GeneratedDataset, clock: ManualClock) -> Iterator[CarrierSimulator]:
    with CarrierSimulator(data, credentials=Credentials(infobip_api_key=KEY), clock=clock) as sim:
        yield sim


@pytest.fixture
def client(simulator: CarrierSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.base_url, headers=AUTH, timeout=10) as http:
        yield http


@pytest.mark.parametrize("header", [None, "App wrong-key", f"Bearer {KEY}", KEY])
def test_a_missing_or_wrong_key_gets_401_unauthorized(
    simulator: CarrierSimulator, data: GeneratedDataset, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    report_id = data.infobip_reports()[0].report_id
    for path in (REPORTS, records_path(report_id)):
        response = httpx.Client(base_url=simulator.base_url).get(path, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "requestError": {
                "serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
            }
        }


def test_report_metadata_pages_with_the_spec_fields(
    client: httpx.Client, data: GeneratedDataset
) -> None:
    first = client.get(REPORTS).json()
    assert first["paging"] == {"page": 0, "size": 20, "totalPages": 1, "totalResults": 6}
    report = first["results"][0]
    assert set(report) == {
        "reportId", "networkName", "networkId", "generatedDate", "dateFrom", "dateTo", "expiryDate"
    }  # fmt: skip
    assert (report["dateFrom"], report["dateTo"]) == ("2024-03-01", "2024-03-01")
    assert report["generatedDate"] == "2024-03-02T01:00:00Z"
    assert report["expiryDate"] == "2024-05-01T01:00:00Z"

    pages = [client.get(REPORTS, params={"page": p, "size": 4}).json() for p in range(3)]
    assert [page["paging"]["totalPages"] for page in pages] == [2, 2, 2]
    assert [len(page["results"]) for page in pages] == [4, 2, 0]
    paged_ids = [r["reportId"] for page in pages for r in page["results"]]
    assert paged_ids == [r["reportId"] for r in first["results"]]
    assert sorted(paged_ids) == sorted(r.report_id for r in data.infobip_reports())


def test_reports_filter_by_dates_network_and_id(client: httpx.Client) -> None:
    def ids(**params: str | int) -> list[tuple[str, int]]:
        body = client.get(REPORTS, params=params).json()
        return [(r["dateFrom"], r["networkId"]) for r in body["results"]]

    assert ids(dateFrom="2024-03-02", dateTo="2024-03-02") == [
        ("2024-03-02", 1717), ("2024-03-02", 1733)
    ]  # fmt: skip
    assert ids(dateFrom="2024-03-03") == [("2024-03-03", 1717), ("2024-03-03", 1733)]
    assert ids(networkId=1733) == [(f"2024-03-0{d}", 1733) for d in (1, 2, 3)]
    assert ids(networkName="Verizon Wireless", dateTo="2024-03-01") == [("2024-03-01", 1717)]
    assert ids(generatedDateFrom="2024-03-03T00:00:00Z", generatedDateTo="2024-03-03") == [
        ("2024-03-02", 1717), ("2024-03-02", 1733)
    ]  # fmt: skip
    one = client.get(REPORTS, params={"networkId": 1717}).json()["results"][1]
    assert client.get(REPORTS, params={"reportId": one["reportId"]}).json()["results"] == [one]


def test_records_page_through_exactly_the_reports_truth(
    client: httpx.Client, simulator: CarrierSimulator, data: GeneratedDataset
) -> None:
    report = data.infobip_reports()[3]
    total = data.infobip_record_count(report.report_id)
    size = 50
    pages = math.ceil(total / size)
    simulator.log.clear()
    served = []
    for page in range(pages):
        body = client.get(
            records_path(report.report_id), params={"page": page, "size": size}
        ).json()
        assert body["paging"] == {
            "page": page, "size": size, "totalPages": pages, "totalResults": total
        }  # fmt: skip
        served.extend(body["results"])
    assert served == data.infobip_records(report.report_id, 0, total)
    assert [r.query["page"] for r in simulator.requests("*/records")] == [
        str(p) for p in range(pages)
    ]
    for record in served:
        assert record["type"] in {"DEACTIVATION", "SUSPENSION", "REACTIVATION", "ACTIVATION"}
        assert record["destination"].startswith("1") and len(record["destination"]) == 11
        assert record["date"].startswith("2024-03-02T") and record["date"].endswith(".000+0000")
        assert set(record) <= {"date", "destination", "type", "newDestination"}
    assert any("newDestination" in record for record in served)


def test_an_unknown_report_is_404_with_a_request_error(client: httpx.Client) -> None:
    response = client.get(records_path("no-such-report"))
    assert response.status_code == 404
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"


def test_a_report_past_its_expiry_date_is_gone(
    client: httpx.Client, data: GeneratedDataset, clock: ManualClock
) -> None:
    first_day = [r for r in data.infobip_reports() if r.date_from == START]
    clock.set(first_day[0].expiry_date + timedelta(seconds=1))
    listed = {r["reportId"] for r in client.get(REPORTS).json()["results"]}
    assert listed and not listed & {r.report_id for r in first_day}
    assert client.get(records_path(first_day[0].report_id)).status_code == 404


def test_bad_parameters_get_400(client: httpx.Client) -> None:
    for params in ({"page": "x"}, {"size": 0}, {"size": 100_000}, {"dateFrom": "03/01/2024"}):
        response = client.get(REPORTS, params=params)
        assert response.status_code == 400
        assert response.json()["requestError"]["serviceException"]["messageId"] == "BAD_REQUEST"


def test_with_pacing_on_a_second_request_within_a_second_gets_429_and_retry_after(
    data: GeneratedDataset,
) -> None:
    clock = ManualClock(SOON_AFTER)
    credentials = Credentials(infobip_api_key=KEY)
    with (
        CarrierSimulator(
            data, credentials=credentials, clock=clock, infobip_min_interval=1.0
        ) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH) as client,
    ):
        assert client.get(REPORTS).status_code == 200
        clock.advance(0.4)
        throttled = client.get(REPORTS)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "1"
        assert throttled.json()["requestError"]["serviceException"]["messageId"] == (
            "TOO_MANY_REQUESTS"
        )
        clock.advance(0.6)
        assert client.get(REPORTS).status_code == 200
        assert [r.status for r in sim.requests(REPORTS)] == [200, 429, 200]
        assert [r.at - SOON_AFTER.timestamp() for r in sim.requests(REPORTS)] == [
            pytest.approx(0), pytest.approx(0.4), pytest.approx(1.0)
        ]  # fmt: skip
