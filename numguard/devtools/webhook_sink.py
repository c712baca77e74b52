"""A CRM stand-in for the demo: receives numguard's webhooks on loopback and
verifies each signature, as a real CRM receiver would."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from numguard.consumer.crm.signing import HEADER, verify


class WebhookSink:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: Counter[str] = Counter()  # by event type
        self.bad_signatures = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                good = verify(sink.secret, self.headers.get(HEADER, ""), body)
                with sink._lock:
                    if good:
                        sink.received[json.loads(body)["data"]["event_type"]] += 1
                    else:
                        sink.bad_signatures += 1
                self.send_response(204 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the bodies hold phone numbers."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/numguard"

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
