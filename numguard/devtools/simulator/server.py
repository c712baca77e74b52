"""The carrier simulator: a real HTTP server on loopback serving the feeds.

`CarrierSimulator` runs a ThreadingHTTPServer in a background thread, routes
each GET to the Infobip, Convey, Twilio, GovDelivery, Vibes, Vonage or Telesign
endpoint, applies the fault plan, and keeps a log of every request so tests can
check pagination and pacing. It binds 127.0.0.1 unless told otherwise. URLs carry
dates and report ids, never phone numbers, so the request log and debug lines
hold no personal data.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from numguard.devtools.simulator.clock import Clock, wall_clock
from numguard.devtools.simulator.convey_api import ConveyFiles
from numguard.devtools.simulator.dataset import GeneratedDataset
from numguard.devtools.simulator.faults import (
    TRUNCATE_KEEP_FRACTION,
    FaultInjector,
    FaultKind,
    FaultPlan,
    FaultRule,
    WithoutDays,
)
from numguard.devtools.simulator.feeds import CarrierData
from numguard.devtools.simulator.govdelivery_api import GovDeliveryApi
from numguard.devtools.simulator.infobip_api import InfobipApi
from numguard.devtools.simulator.requests_log import RequestLog, RequestRecord
from numguard.devtools.simulator.responses import (
    Request,
    Response,
    not_found,
    server_error,
    text_response,
    too_many_requests,
)
from numguard.devtools.simulator.telesign_api import TelesignApi
from numguard.devtools.simulator.transport import HttpServer, write_response
from numguard.devtools.simulator.twilio_api import LINK_TTL_SECONDS, TwilioApi
from numguard.devtools.simulator.vibes_files import VibesFiles
from numguard.devtools.simulator.vonage_api import VonageApi

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 5.0
SHUTDOWN_POLL_SECONDS = 0.05  # stop() waits at most this long for the serving loop to notice

# Well-known development credentials, used when none are given: the simulator guards no data.
DEV_INFOBIP_API_KEY = "simulator-infobip-api-key"
DEV_TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEV_TWILIO_AUTH_TOKEN = "simulator-twilio-auth-token"
DEV_GOVDELIVERY_TOKEN = "simulator-govdelivery-token-0032"  # 32 characters, as TMS's
DEV_VIBES_USERNAME = "numguard"
DEV_VIBES_PASSWORD = "simulator-vibes-password"
DEV_VONAGE_API_KEY = "simkey01"
DEV_VONAGE_API_SECRET = "simulator-vonage-secret"
DEV_TELESIGN_CUSTOMER_ID = "SIMULATOR-CUSTOMER-0001"
DEV_TELESIGN_API_KEY = "simulator-telesign-api-key"


@dataclass(frozen=True, slots=True)
class Credentials:
    infobip_api_key: str = field(default=DEV_INFOBIP_API_KEY, repr=False)
    twilio_account_sid: str = DEV_TWILIO_ACCOUNT_SID
    twilio_auth_token: str = field(default=DEV_TWILIO_AUTH_TOKEN, repr=False)
    govdelivery_token: str = field(default=DEV_GOVDELIVERY_TOKEN, repr=False)
    vibes_username: str = DEV_VIBES_USERNAME
    vibes_password: str = field(default=DEV_VIBES_PASSWORD, repr=False)
    vonage_api_key: str = DEV_VONAGE_API_KEY
    vonage_api_secret: str = field(default=DEV_VONAGE_API_SECRET, repr=False)
    telesign_customer_id: str = DEV_TELESIGN_CUSTOMER_ID
    telesign_api_key: str = field(default=DEV_TELESIGN_API_KEY, repr=False)


class CarrierSimulator:
    """Serve `data` (default: a small generated data set) until `stop()`.

    Use as a context manager, or call start() and stop(). `faults` injects
    errors, throttling, delays, truncation and missing days; `clock` drives link
    expiry, report expiry and pacing (pass a ManualClock to move time in tests);
    `infobip_min_interval` turns on Infobip's per-key pacing (1.0 is Infobip's).
    """

    def __init__(
        self,
        data: CarrierData | None = None,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        faults: FaultPlan | None = None,
        credentials: Credentials | None = None,
        clock: Clock = wall_clock,
        twilio_link_ttl: float = LINK_TTL_SECONDS,
        infobip_min_interval: float | None = None,
    ) -> None:
        self.data: CarrierData = data if data is not None else GeneratedDataset()
        self.faults = faults or FaultPlan()
        self.credentials = credentials or Credentials()
        self.clock = clock
        self.host, self.port = host, port
        # What is served: the data without the missing days. Tests compare against this.
        self.served: CarrierData = (
            WithoutDays(self.data, self.faults.missing_days)
            if self.faults.missing_days
            else self.data
        )
        self.log = RequestLog()
        self._injector = FaultInjector(self.faults.rules)
        self._endpoints: list[Callable[[Request], Response | None]] = [
            InfobipApi(
                self.served, self.credentials.infobip_api_key, clock, infobip_min_interval
            ).handle,
            ConveyFiles(self.served).handle,
            TwilioApi(
                self.served,
                self.credentials.twilio_account_sid,
                self.credentials.twilio_auth_token,
                clock,
                twilio_link_ttl,
                secrets.token_bytes(32),
            ).handle,
            GovDeliveryApi(self.served, self.credentials.govdelivery_token).handle,
            VibesFiles(
                self.served, self.credentials.vibes_username, self.credentials.vibes_password
            ).handle,
            VonageApi(
                self.served, self.credentials.vonage_api_key, self.credentials.vonage_api_secret
            ).handle,
            TelesignApi(
                self.served,
                self.credentials.telesign_customer_id,
                self.credentials.telesign_api_key,
                _days_of(self.data),
            ).handle,
        ]
        self._stopping = threading.Event()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        host = self.host if self.host not in ("", "0.0.0.0", "::") else LOOPBACK
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> CarrierSimulator:
        self._stopping.clear()
        self._server = HttpServer((self.host, self.port), self._serve)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=f"carrier-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("carrier simulator listening at %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
        self._server, self._thread = None, None

    def __enter__(self) -> CarrierSimulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def requests(self, pattern: str = "*") -> list[RequestRecord]:
        """Requests answered so far whose path matches the glob, oldest first."""
        return self.log.matching(pattern)

    # -- one request ----------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = self.clock()
        target = urlsplit(handler.path)
        host = handler.headers.get("Host") or f"{self.host}:{self.port}"
        request = Request(
            handler.command,
            target.path,
            parse_qs(target.query, keep_blank_values=True),
            handler.headers,
            f"http://{host}",
        )
        hits = self._injector.faults_for(request.path)
        kinds = tuple(rule.kind for rule in hits)
        for rule in hits:
            if rule.kind is FaultKind.DELAY:
                self._stopping.wait(rule.seconds)
        response = self._respond(request, hits)
        keep = None
        if FaultKind.TRUNCATE in kinds and response.body.length > 0:
            keep = int(response.body.length * TRUNCATE_KEEP_FRACTION)
        # Logged before the body goes out: a client holding the answer always finds it logged.
        self.log.add(request.method, request.path, request.query, arrived, response.status, kinds)
        try:
            write_response(handler, response, keep)
        except OSError as error:  # the client went away mid-answer
            log.debug("%s %s: connection lost: %s", request.method, request.path, error)
            handler.close_connection = True

    def _respond(self, request: Request, hits: list[FaultRule]) -> Response:
        for rule in hits:
            if rule.kind is FaultKind.ERROR:
                return server_error(request.path, rule.status)
            if rule.kind is FaultKind.THROTTLE:
                return too_many_requests(request.path, max(1, round(rule.seconds)))
        if request.method != "GET":
            return text_response(405, "Method Not Allowed\n")
        try:
            for endpoint in self._endpoints:
                response = endpoint(request)
                if response is not None:
                    return response
        except Exception:
            log.exception("the simulator failed on %s %s", request.method, request.path)
            return server_error(request.path)
        return not_found(request.path)


def _days_of(data: CarrierData) -> list[date]:
    """The days a data set covers, for the feeds that list their files (Telesign)."""
    dates = getattr(data, "dates", None)
    return list(dates()) if callable(dates) else []
