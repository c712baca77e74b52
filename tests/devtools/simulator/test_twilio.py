"""Twilio's Deactivations resource over real HTTP: basic auth, the 307 to a signed link,
the list's format, link expiry (on a clock the test moves), and errors 30113/30114."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from numguard.devtools.simulator import CarrierSimulator, Credentials, GeneratedDataset, ManualClock

START = date(2024, 3, 1)
SID, TOKEN = "AC" + "1" * 32, "test-auth-token"
TTL = 120.0


@pytest.fixture
def data() -> GeneratedDataset:
    return GeneratedDataset(seed=41, numbers=1000, days=3, start_date=START)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2024, 3, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def simulator(data: GeneratedDataset, clock: ManualClock) -> Iterator[CarrierSimulator]:
    credentials = Credentials(twilio_account_sid=SID, twilio_auth_token=TOKEN)
    with CarrierSimulator(data, credentials=credentials, clock=clock, twilio_link_ttl=TTL) as sim:
        yield sim


@pytest.fixture
def client(simulator: CarrierSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.base_url, auth=(SID, TOKEN), timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def anonymous() -> Iterator[httpx.Client]:
    """A client without credentials: signed links need none."""
    with httpx.Client(timeout=10) as http:
        yield http


def deactivations(client: httpx.Client, day: str) -> httpx.Response:
    return client.get("/v1/Deactivations", params={"Date": day})


@pytest.mark.parametrize("auth", [None, (SID, "wrong-token"), ("AC" + "2" * 32, TOKEN)])
def test_without_the_right_sid_and_token_the_answer_is_401(
    simulator: CarrierSimulator, auth: tuple[str, str] | None
) -> None:
    with httpx.Client(base_url=simulator.base_url, auth=auth) as stranger:
        response = deactivations(stranger, "2024-03-02")
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_307_names_a_signed_link_in_its_body_that_serves_the_days_list(
    client: httpx.Client,
    data: GeneratedDataset,
    simulator: CarrierSimulator,
    anonymous: httpx.Client,
) -> None:
    response = deactivations(client, "2024-03-02")
    assert response.status_code == 307
    assert "location" not in response.headers  # the link is only in the body, as Twilio does
    link = response.json()["redirect_to"]
    assert link.startswith(simulator.base_url + "/") and urlsplit(link).path.endswith(".txt")
    assert int(parse_qs(urlsplit(link).query)["Expires"][0]) >= simulator.clock() + TTL - 1

    listing = anonymous.get(link)
    assert listing.status_code == 200
    text = listing.text
    numbers = list(data.twilio_numbers(date(2024, 3, 2)) or ())
    assert text == "".join(f"{number}\r\n" for number in numbers) + "\r\n"
    assert all(len(number) == 12 and number.startswith("+1") for number in numbers)
    assert text.endswith("\r\n\r\n")
    assert int(listing.headers["Content-Length"]) == len(listing.content)


def test_an_expired_link_is_403_and_asking_again_gives_a_fresh_one(
    client: httpx.Client, clock: ManualClock, anonymous: httpx.Client
) -> None:
    link = deactivations(client, "2024-03-01").json()["redirect_to"]
    clock.advance(TTL - 1)
    assert anonymous.get(link).status_code == 200
    clock.advance(2)
    expired = anonymous.get(link)
    assert expired.status_code == 403
    assert "expired" in expired.text
    fresh = deactivations(client, "2024-03-01").json()["redirect_to"]
    assert anonymous.get(fresh).status_code == 200


def test_a_tampered_link_is_403(client: httpx.Client, anonymous: httpx.Client) -> None:
    link = deactivations(client, "2024-03-01").json()["redirect_to"]
    assert anonymous.get(link.replace("2024-03-01.txt", "2024-03-02.txt")).status_code == 403
    assert anonymous.get(link[:-4] + "0000").status_code == 403


@pytest.mark.parametrize(
    ("day", "code", "message"),
    [
        ("2020-08-26", 30113, "Specified date is too old"),
        ("2024-03-04", 30114, "Specified date is not available yet"),
        ("2031-01-01", 30114, "Specified date is not available yet"),
    ],
)
def test_too_old_and_not_yet_available_dates_are_400_with_twilios_codes(
    client: httpx.Client, day: str, code: int, message: str
) -> None:
    response = deactivations(client, day)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["message"], body["status"]) == (code, message, 400)
    assert body["more_info"].endswith(str(code))


def test_a_day_before_the_generated_ones_lists_nothing(
    client: httpx.Client, anonymous: httpx.Client
) -> None:
    link = deactivations(client, "2020-08-27").json()["redirect_to"]
    assert anonymous.get(link).text == "\r\n"


def test_a_malformed_date_is_400(client: httpx.Client) -> None:
    assert deactivations(client, "03/02/2024").status_code == 400
    assert client.get("/v1/Deactivations").status_code == 400
