"""--from-dir: given Convey, Twilio and Infobip files served as written, and their truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from numguard.devtools.simulator import (
    CarrierSimulator,
    DirectoryDataset,
    ManualClock,
    UnusableDirectory,
    twilio_file_name,
)

CONVEY = (
    "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
    "12025550101,DEACTIVATE,2024-03-04T00:00Z,1,Verizon Wireless\n"
    "12025550104,CHANGE_MDN,2024-03-04T00:00Z,12025550199,T-Mobile\n"
    "1234,BOGUS,2024-03-04T00:00Z,1,Cingular\n"
)
TWILIO = "+12025550111\r\n12025550112\r\n2025550113\r\n\r\n"
REPORT = {
    "reportId": "given-report-1",
    "networkName": "AT&T Mobility",
    "networkId": 1733,
    "generatedDate": "2024-03-05",
    "dateFrom": "2024-03-04",
    "dateTo": "2024-03-04",
    "expiryDate": "2024-05-04T00:00:00Z",
    "records": [
        {
            "date": "2024-03-04T11:00:00.000+0000",
            "destination": "12025550121",
            "type": "DEACTIVATION",
        },
        {"date": "2024-03-04T12:00:00.000+0000", "destination": "12025550122", "type": "PORTED"},
    ],
}


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "mcdn_deact_20240304.csv").write_bytes(CONVEY.encode())
    (tmp_path / twilio_file_name(date(2024, 3, 4))).write_bytes(TWILIO.encode())
    (tmp_path / "infobip.json").write_text(json.dumps(REPORT))
    (tmp_path / "notes.md").write_text("not a carrier file")
    return tmp_path


@pytest.fixture
def simulator(directory: Path) -> Iterator[CarrierSimulator]:
    clock = ManualClock(datetime(2024, 3, 6, tzinfo=UTC))
    with CarrierSimulator(DirectoryDataset(directory), clock=clock) as sim:
        yield sim


@pytest.fixture
def client(simulator: CarrierSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.base_url, timeout=10) as http:
        yield http


def test_given_files_are_served_byte_for_byte(
    client: httpx.Client, simulator: CarrierSimulator
) -> None:
    convey = client.get("/convey/mcdn_deact_20240304.csv")
    assert convey.content == CONVEY.encode()
    assert int(convey.headers["Content-Length"]) == len(CONVEY)
    assert client.get("/convey/mcdn_deact_20240305.csv").status_code == 404

    credentials = simulator.credentials
    basic = (credentials.twilio_account_sid, credentials.twilio_auth_token)
    answer = client.get("/v1/Deactivations", params={"Date": "2024-03-04"}, auth=basic)
    assert client.get(answer.json()["redirect_to"]).content == TWILIO.encode()
    later = client.get("/v1/Deactivations", params={"Date": "2024-03-05"}, auth=basic)
    assert later.json()["code"] == 30114


def test_given_infobip_reports_are_served_as_written(
    client: httpx.Client, simulator: CarrierSimulator
) -> None:
    auth = {"Authorization": f"App {simulator.credentials.infobip_api_key}"}
    listing = client.get("/number-activation-state/1/network-reports", headers=auth).json()
    metadata = {name: value for name, value in REPORT.items() if name != "records"}
    assert listing["results"] == [metadata]
    records = client.get(
        "/number-activation-state/1/network-reports/given-report-1/records",
        headers=auth,
        params={"size": 1, "page": 1},
    ).json()
    assert records["results"] == [REPORT["records"][1]]  # type: ignore[index]
    assert records["paging"] == {"page": 1, "size": 1, "totalPages": 2, "totalResults": 2}


def test_the_truth_of_given_files(directory: Path) -> None:
    data = DirectoryDataset(directory)
    rows = list(data.convey_rows(date(2024, 3, 4)) or ())
    assert [row["REASON_CODE"] for row in rows] == ["DEACTIVATE", "CHANGE_MDN", "BOGUS"]
    assert rows[1]["NEW_MDN"] == "12025550199"
    assert list(data.twilio_numbers(date(2024, 3, 4)) or ()) == [
        "+12025550111", "12025550112", "2025550113"
    ]  # fmt: skip
    assert data.twilio_numbers(date(2024, 3, 3)) is None
    (report,) = data.infobip_reports()
    assert report.generated_date == datetime(2024, 3, 5, tzinfo=UTC)
    assert data.infobip_record_count("given-report-1") == 2
    assert data.dates() == [date(2024, 3, 4)]


def test_missing_generated_and_expiry_dates_get_defaults(tmp_path: Path) -> None:
    bare = {k: v for k, v in REPORT.items() if k not in ("generatedDate", "expiryDate")}
    (tmp_path / "report.json").write_text(json.dumps([bare]))
    (report,) = DirectoryDataset(tmp_path).infobip_reports()
    assert report.as_json()["generatedDate"] == "2024-03-05T01:00:00Z"
    assert report.as_json()["expiryDate"] == "2024-05-04T01:00:00Z"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "hello", "holds no mcdn_deact"),
        ("report.json", "{not json", "not JSON"),
        ("report.json", '{"reportId": "r"}', "lacks"),
        ("mcdn_deact_20241399.csv", "MDN\n", "is not a date"),
    ],
)
def test_an_unusable_directory_is_refused(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(UnusableDirectory, match=message):
        DirectoryDataset(tmp_path)
    with pytest.raises(UnusableDirectory, match="not a directory"):
        DirectoryDataset(tmp_path / "absent")
