"""A local S3 for the AWS End User Messaging feed: moto's S3-compatible server on
loopback, holding the deactivation reports bucket filled from a data set, so the
feed runs through the ordinary AWS SDK without AWS (tests, `numguard demo`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from numguard.devtools.simulator.feeds import CarrierData

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
# moto takes any credentials; these only satisfy the SDK's need for some.
ACCESS_KEY_ID = "local-s3-access-key"
SECRET_ACCESS_KEY = "local-s3-secret-key"


class LocalS3:
    def __init__(self, data: CarrierData, days: Iterable[date], region: str = REGION) -> None:
        self.data = data
        self.days = list(days)
        self.region = region
        self.bucket = f"{region}-pinpoint-sms-voice"
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self.endpoint_url = ""

    def client(self) -> Any:
        return boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url,
                            aws_access_key_id=ACCESS_KEY_ID,
                            aws_secret_access_key=SECRET_ACCESS_KEY)  # fmt: skip

    def __enter__(self) -> LocalS3:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        s3 = self.client()
        s3.create_bucket(Bucket=self.bucket)
        for day in self.days:
            numbers = self.data.twilio_numbers(day)
            if numbers is None:
                continue
            text = "phone_number\n" + "".join(f"{n.removeprefix('+')}\n" for n in numbers)
            s3.put_object(Bucket=self.bucket, Body=text.encode(),
                          Key=f"sms-deact-reports/us/{day:%Y-%m-%d}-deact-report.csv")  # fmt: skip
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
