"""numguard serve, as a real process on loopback, on both store backends."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from numguard.consumer.store import Consumed, SqlStore
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.serve import TOKEN, client, running_api

START_TIMEOUT_SECONDS = 30


@pytest.fixture
def api(store: SqlStore, store_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    events = [
        change(EventType.SUSPENDED, "2024-03-01", mdn="+12025550101"),
        change(EventType.DEACTIVATED, "2024-03-05T10:00", mdn="+12025550101", position=2),
        change(EventType.SUSPENDED, "2024-03-05", mdn="+12025550102", position=3),
    ]
    store.apply_batch([Consumed(e, "t", 0, i) for i, e in enumerate(events)], {}, "g")
    with running_api(store_url) as started:
        yield started


def test_one_number_gets_the_same_answer_as_check(api: tuple[str, subprocess.Popen[str]]) -> None:
    with client(api[0]) as http:
        answer = http.get("/v1/numbers/%2B12025550101", params={"consented_at": "2024-01-01"})
        assert answer.status_code == 200
        assert answer.json() == {
            "mdn": "+12025550101", "decision": "block", "reason": "deactivated",
            "deactivated_on": "2024-03-05",
        }  # fmt: skip
        held = http.get("/v1/numbers/2025550102").json()
        assert (held["decision"], held["reason"]) == ("hold", "suspended")
        bad = http.get("/v1/numbers/12345")
        assert bad.status_code == 400 and "not a phone number" in bad.json()["error"]
        assert http.get("/v1/numbers/2025550101?consented_at=soon").status_code == 400


def test_requests_without_the_bearer_token_are_refused(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    for token in (None, "wrong"):
        with client(api[0], token) as http:
            refused = http.get("/v1/numbers/2025550101")
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    with client(api[0], None) as http:  # health and metrics stay open for probes
        assert http.get("/healthz").json()["status"] == "ok"


def test_a_batch_is_answered_in_order_with_errors_in_place(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    items = [
        {"number": "+1 (202) 555-0101", "consented_at": "2024-03-06"},
        {"number": "nope"},
        {"number": "2025550102"},
        {"number": "2025550101"},
        {"consented_at": "2024-01-01"},
    ]
    with client(api[0]) as http:
        results = http.post("/v1/check", json={"items": items}).json()["results"]
        assert [r.get("decision") for r in results] == ["allow", None, "hold", "block", None]
        assert results[1]["index"] == 1 and "not a phone number" in results[1]["error"]
        assert "number" in results[4]["error"]
        assert http.post(
            "/v1/check", json={"items": [{"number": "2025550101"}] * 10_000}
        ).is_success
        too_many = http.post("/v1/check", json={"items": [{"number": "2025550101"}] * 10_001})
        assert too_many.status_code == 413
        assert http.post("/v1/check", content=b"{not json").status_code == 400


def test_history_metrics_and_openapi(api: tuple[str, subprocess.Popen[str]]) -> None:
    with client(api[0]) as http:
        history = http.get("/v1/numbers/2025550101/history").json()
        assert [e["event_type"] for e in history["events"]] == ["SUSPENDED", "DEACTIVATED"]
        assert history["events"][1]["effective_at"] == "2024-03-05T10:00:00Z"
        http.get("/v1/numbers/2025550101")
        metrics = http.get("/metrics").text
        assert 'numguard_api_requests_total{code="200",route="/v1/numbers/{number}"}' in metrics
        assert 'numguard_api_decisions_total{decision="block"}' in metrics
        spec = http.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        assert {"/v1/numbers/{number}", "/v1/check", "/v1/numbers/{number}/history"} <= set(
            spec["paths"]
        )


def test_the_openapi_document_asks_for_the_token_where_the_server_does(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    with client(api[0], token=None) as http:
        spec = http.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"] == {
            "HTTPBearer": {"type": "http", "scheme": "bearer"}
        }
        for path, operations in spec["paths"].items():
            example = path.replace("{number}", "2025550101")
            for method, operation in operations.items():
                answered = http.request(method, example, json={"items": []}).status_code
                secured = operation.get("security") == [{"HTTPBearer": []}]
                assert secured == (answered == 401), (method, path, answered)


def test_metrics_count_every_worker_whichever_answers_the_scrape(
    store: SqlStore, store_url: str
) -> None:
    batches, items, scrapes = 16, 2_000, 24
    body = {"items": [{"number": "2025550199"}] * items}

    def check(_: int) -> None:
        with client(base) as http:  # a connection each, several at once: both workers answer
            assert http.post("/v1/check", json=body).is_success

    def allowed(_: int) -> float:
        with client(base) as http:
            metrics = http.get("/metrics").text
        found = re.search(r'^numguard_api_decisions_total\{decision="allow"\} (\S+)$', metrics,
                          re.MULTILINE)  # fmt: skip
        return float(found.group(1)) if found else 0.0

    with running_api(store_url, "--workers", "2") as (base, process):
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(check, range(batches)))
            counted = set(pool.map(allowed, range(scrapes)))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=START_TIMEOUT_SECONDS) == 0
    assert counted == {float(batches * items)}


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def test_its_workers_end_when_the_server_is_killed(store: SqlStore, store_url: str) -> None:
    with running_api(store_url, "--workers", "2") as (_base, process):
        workers = children_of(process.pid)
        assert len(workers) >= 2
        process.kill()
        process.wait()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while (left := {w for w in workers if Path(f"/proc/{w}").exists()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]


def test_sigterm_stops_it_and_its_logs_hold_no_number_or_token(
    api: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = api
    with client(base) as http:
        http.get("/v1/numbers/%2B12025550101")
        http.get("/v1/numbers/12345")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=START_TIMEOUT_SECONDS) == 0
    logs = process.stderr.read() if process.stderr else ""
    assert "/v1/numbers/{number}" in logs
    for secret in ("2025550101", "12345", TOKEN):
        assert secret not in logs
    assert json.dumps(TOKEN) not in logs
