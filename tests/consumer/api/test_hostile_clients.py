"""The API under clients that lie about bodies, hold connections, or send the wrong types.

Over raw sockets where the HTTP framing itself is the point: a response answered
early (401, 404, 405, 413, 400) must never leave the request's body on the
connection to be read as the next request (the desync that let a request without
a token get a number's decision).
"""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from numguard.consumer.store import open_store
from tests.support.commands import numguard
from tests.support.serve import TOKEN, client, running_api

HEADER_TIMEOUT_SECONDS = 1.0
READ_IDLE_SECONDS = 1.5
# The request smuggled inside another's body: with a valid token, it would be answered
# with the number's decision.
INNER = (
    f"GET /v1/numbers/2025550101 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
).encode()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "store.sqlite3"
    open_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="module")
def api(store_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    timeout = str(HEADER_TIMEOUT_SECONDS)
    with running_api(f"sqlite:///{store_path}", "--header-timeout", timeout) as started:
        yield started


def exchange(base: str, raw: bytes) -> bytes:
    """Send `raw` on one connection; everything the server sends until it closes or
    stays quiet."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port)) as connection:
        connection.sendall(raw)
        connection.settimeout(READ_IDLE_SECONDS)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def responses(received: bytes) -> list[int]:
    """The status of every response in the bytes read (a response may follow a body with
    no line break between them)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", received)]


def request(head: str, body: bytes = INNER, *, token: bool = False) -> bytes:
    auth = f"Authorization: Bearer {TOKEN}\r\n" if token else ""
    return f"{head}\r\nHost: x\r\n{auth}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("POST /v1/check HTTP/1.1"), 401),
        (request("POST /v1/nowhere HTTP/1.1", token=True), 404),
        (request("PUT /v1/check HTTP/1.1", token=True), 405),
        (request("POST /v1/check HTTP/1.1", token=True), 400),
        (
            f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Length: 5000000\r\n\r\n".encode()
            + INNER,
            413,
        ),
        (
            f"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            f"{len(INNER):x}\r\n".encode()
            + INNER
            + b"\r\n0\r\n\r\n",
            401,
        ),
    ],
    ids=["401", "404", "405", "400", "413", "401-chunked"],
)
def test_an_early_answer_never_lets_the_body_through_as_a_request(
    api: tuple[str, subprocess.Popen[str]], raw: bytes, status: int
) -> None:
    received = exchange(api[0], raw)
    assert responses(received) == [status], received[:500]
    assert b"decision" not in received


def test_a_negative_content_length_is_refused_and_never_read_to_the_end(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    raw = f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
    received = exchange(api[0], raw.encode() + b"Content-Length: -1\r\n\r\n" + INNER)
    assert responses(received) == [400]
    assert b"decision" not in received


def test_405_names_the_allowed_methods(api: tuple[str, subprocess.Popen[str]]) -> None:
    with client(api[0]) as http:
        answer = http.delete("/v1/check")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json() == {"error": "Method Not Allowed"}


def test_a_chunked_batch_is_read_like_any_other(api: tuple[str, subprocess.Popen[str]]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"items": [{"number": '
        yield b'"2025550101"}]}'

    with client(api[0]) as http:
        answer = http.post("/v1/check", content=chunks())
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["decision"] == "allow"


def test_a_body_over_the_limit_streamed_without_a_length_gets_413(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    def endless() -> Iterator[bytes]:
        yield b'{"items": ['
        for _ in range(5000):
            yield b'{"number": "2025550101"},' * 50

    with client(api[0]) as http:
        answer = http.post("/v1/check", content=endless())
    assert answer.status_code == 413
    assert "over" in answer.json()["error"]


def test_wrong_types_and_unreadable_consents_are_a_400_and_a_bad_number_an_error_in_place(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    with client(api[0]) as http:
        wrong = http.post("/v1/check", json={"items": [{"number": 2025550101},
                                                        {"number": "2025550101",
                                                         "consented_at": 123}]})  # fmt: skip
        assert wrong.status_code == 400
        assert wrong.json()["problems"] == [
            "body.items[0].number: Input should be a valid string",
            "body.items[1].consented_at: Input should be a valid string",
        ]
        assert "2025550101" not in wrong.text  # an input is never echoed: it may be a number
        for consent in ("10000-01-01", "2024-02-30", "2024-03-01T25:00:00Z",
                        "2024-03-01T10:00", "yesterday"):  # fmt: skip
            items = [{"number": "2025550101", "consented_at": consent}]
            refused = http.post("/v1/check", json={"items": items})
            assert refused.status_code == 400, consent
            assert refused.json()["problems"][0].startswith("body.items[0].consented_at: ")
        edges = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                 "2024-06-30T23:59:60Z", "2024-03-06t00:00:00.123456789z"]  # fmt: skip
        items = [{"number": "nope"}, {}] + [
            {"number": "2025550101", "consented_at": edge} for edge in edges
        ]
        results = http.post("/v1/check", json={"items": items}).json()["results"]
        assert [r.get("error", "")[:18] for r in results[:2]] == [
            "not a phone number",
            "an item needs a nu",
        ]
        assert [r["decision"] for r in results[2:]] == ["allow"] * len(edges)
        assert http.post("/v1/check", json={"items": {}}).status_code == 400
        assert http.post("/v1/check", json=[]).status_code == 400


def test_slow_clients_are_closed_after_the_header_timeout_while_health_answers(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    url = urlsplit(api[0])
    held = []
    for _ in range(150):
        connection = socket.create_connection((url.hostname, url.port))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        held.append(connection)
    with client(api[0], token=None) as http:
        assert http.get("/healthz").json()["status"] == "ok"
    time.sleep(HEADER_TIMEOUT_SECONDS + 1.0)
    closed = 0
    for connection in held:
        connection.settimeout(2)
        try:
            closed += connection.recv(1024) == b"" or True  # a 408, then the close
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass
        connection.close()
    assert closed == len(held)
    with client(api[0], token=None) as http:
        assert http.get("/healthz").json()["status"] == "ok"


def test_idle_connections_are_closed_after_the_header_timeout(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    # A connection that never sends a byte, and one kept alive after its request: each
    # would hold a socket for ever (HTTP/2 detection used to wait for a first byte
    # without any timeout).
    url = urlsplit(api[0])
    silent = [socket.create_connection((url.hostname, url.port)) for _ in range(50)]
    kept_alive = socket.create_connection((url.hostname, url.port))
    kept_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answered = b""
    while b'"status"' not in answered:
        answered += kept_alive.recv(65536)
    assert responses(answered) == [200]
    time.sleep(HEADER_TIMEOUT_SECONDS + 1.0)
    for connection in [*silent, kept_alive]:
        connection.settimeout(2)
        with contextlib.suppress(ConnectionResetError):  # a reset is a close too
            assert connection.recv(1024) == b""  # closed by the server
        connection.close()


def test_health_is_503_when_the_store_stops_answering(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    open_store(f"sqlite:///{path}").close()
    with running_api(f"sqlite:///{path}") as (base, _process), client(base) as http:
        assert http.get("/healthz").status_code == 200
        with sqlite3.connect(path) as database:
            database.execute("DROP TABLE consumer_offsets")
        answer = http.get("/healthz")
        assert (answer.status_code, answer.json()) == (503, {"status": "unavailable"})


def test_an_empty_database_file_is_not_a_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    for command in (["serve", "--port", "0"], ["check", "2025550101"]):
        result = numguard(*command, "--store", f"sqlite:///{empty}")
        assert result.returncode == 2, result.stderr
        assert "holds no numguard store" in result.stderr


def test_no_token_beyond_loopback_is_refused_unless_anonymity_is_asked_for(
    store_path: Path,
) -> None:
    result = numguard(
        "serve", "--host", "0.0.0.0", "--port", "0", "--store", f"sqlite:///{store_path}",
        clean=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "numguard: error: refusing to serve 0.0.0.0 without a token: set NUMGUARD_API_TOKEN "
        "(or pass --allow-anonymous to serve anyone who can reach it)"
    ]


@pytest.mark.parametrize(
    "path",
    ["/v1/numbers/2025550101", "//v1/numbers/2025550101", "/./v1/numbers/2025550101",
     "/V1/numbers/2025550101", "/v1%2fnumbers/2025550101", "/nowhere"],
)  # fmt: skip
def test_without_a_token_only_health_metrics_and_the_schema_answer(
    api: tuple[str, subprocess.Popen[str]], path: str
) -> None:
    """The token guards every path but the three public ones, whatever spelling a client
    tries: no route can be reached, or probed, by a path the check did not foresee."""
    received = exchange(api[0], f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert responses(received) == [401], received[:300]
    with client(api[0], token=None) as http:
        for public in ("/healthz", "/metrics", "/openapi.json"):
            assert http.get(public).status_code == 200
