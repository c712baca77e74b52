"""Convey files over HTTP that break in transit: a corrupt gzip body, a cut-off body.
A loopback server sends exactly these bytes; the whole report is unreadable, never
partly published as if it were complete."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from numguard.producer.sources.base import Report, UnreadableReport
from numguard.producer.sources.convey import ConveyHttpSource
from numguard.producer.sources.http import RetryPolicy

ROW = b"1202555%04d,DEACTIVATE,2024-03-05T00:00Z,1,V\r\n"
BODY = b"MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\r\n" + b"".join(
    ROW % i for i in range(200)
)
DAY = date(2024, 3, 5)


def answers(kind: str) -> tuple[dict[str, str], bytes]:
    if kind == "corrupt gzip":
        spoiled = bytearray(gzip.compress(BODY))
        spoiled[len(spoiled) // 2 : len(spoiled) // 2 + 16] = b"\x00" * 16
        return {"Content-Encoding": "gzip", "Content-Length": str(len(spoiled))}, bytes(spoiled)
    if kind == "cut off":  # announces the whole body, sends half, closes
        return {"Content-Length": str(len(BODY))}, BODY[: len(BODY) // 2]
    packed = gzip.compress(BODY)
    return {"Content-Encoding": "gzip", "Content-Length": str(len(packed))}, packed


@contextmanager
def serving(kind: str) -> Iterator[str]:
    headers, body = answers(kind)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcdn_deact_{{date:%Y%m%d}}.csv"
    finally:
        server.shutdown()
        server.server_close()


def rows_of(template: str) -> list[object]:
    source = ConveyHttpSource(template, client=httpx.Client(timeout=5),
                              policy=RetryPolicy(attempts=1), lookback_days=1,
                              today=lambda: DAY)  # fmt: skip
    try:
        return list(source.rows(Report("convey", f"mcdn_deact_{DAY:%Y%m%d}.csv", covers=DAY)))
    finally:
        source.close()


@pytest.mark.parametrize("kind", ["corrupt gzip", "cut off"])
def test_a_download_broken_in_transit_is_unreadable_whole(kind: str) -> None:
    with serving(kind) as template, pytest.raises(UnreadableReport, match="broke off"):
        rows_of(template)


def test_a_gzip_encoded_download_is_read_whole() -> None:
    with serving("gzip") as template:
        assert len(rows_of(template)) == 200
