"""AWS End User Messaging SMS (formerly Pinpoint SMS): the daily deactivation reports
AWS keeps in an S3 bucket it owns, read through the AWS SDK (boto3).

    s3://{region}-pinpoint-sms-voice/sms-deact-reports/us/YYYY-MM-DD-deact-report.csv

A Requester Pays bucket: every request says so (the caller pays its S3 costs), and
the caller needs s3:GetObject on it (an assumption of the docs read). US numbers
only, processed daily, 90 days of dated objects kept. The CSV's columns are not
documented where read: ASSUMED one number a row, perhaps with a header and more
fields after it (the first field is read). Credentials come from the AWS SDK's own
chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from numguard.producer.normalize import daily_list_line
from numguard.producer.sources.base import (
    CredentialsRejected,
    Report,
    ReportMissing,
    SourceRow,
    SourceUnavailable,
    UnreadableReport,
    day_in_name,
    expected_days,
    first_column_numbers,
)
from numguard.producer.sources.http import RetryPolicy

SOURCE = "aws-sms"
DEFAULT_REGION = "us-east-1"
DEFAULT_COUNTRY = "us"
MAX_LOOKBACK_DAYS = 90  # AWS keeps 90 days of dated reports
FILE_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-deact-report\.csv")
_REFUSED = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                      "InvalidToken"})  # fmt: skip
# S3 answers AccessDenied, not NoSuchKey, for a key that is not there when the caller may
# not list the bucket: a report not there yet, not refused credentials (which answer
# with the codes above).
_MISSING = frozenset({"NoSuchKey", "404", "AccessDenied"})


def file_name(day: date) -> str:
    return f"{day:%Y-%m-%d}-deact-report.csv"


def day_of(name: str) -> date:
    return day_in_name(name, "YYYY-MM-DD-deact-report.csv")


def read_rows(lines: Iterable[str], report: str) -> Iterator[SourceRow]:
    """ASSUMED shape: a number a line (see the module's docstring)."""
    return first_column_numbers(lines, SOURCE, report, day_of(report))


class AwsSmsSource:
    name = SOURCE
    normalize = staticmethod(daily_list_line)

    def __init__(
        self,
        *,
        lookback_days: int,
        region: str = DEFAULT_REGION,
        bucket: str | None = None,
        country: str = DEFAULT_COUNTRY,
        endpoint_url: str | None = None,  # an S3-compatible server instead of AWS
        policy: RetryPolicy | None = None,
        today: Callable[[], date] | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            import boto3  # here: `numguard ingest` reads saved reports without the SDK
            from botocore.config import Config

            attempts = (policy or RetryPolicy()).attempts
            client = boto3.client(
                "s3", region_name=region, endpoint_url=endpoint_url,
                config=Config(retries={"max_attempts": attempts, "mode": "standard"}),
            )  # fmt: skip
        self._s3 = client
        self._bucket = bucket or f"{region}-pinpoint-sms-voice"
        self._prefix = f"sms-deact-reports/{country}/"
        self._lookback_days = min(lookback_days, MAX_LOOKBACK_DAYS)
        self._today = today or (lambda: datetime.now(UTC).date())

    def reports(self, published: Set[str]) -> Iterator[Report]:
        for day in expected_days(self._today(), self._lookback_days):
            if file_name(day) not in published:
                yield Report(SOURCE, file_name(day), covers=day)

    def rows(self, report: Report) -> Iterator[SourceRow]:
        key = self._prefix + report.report_id
        where = f"s3://{self._bucket}/{key}"
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key, RequestPayer="requester")
            lines = (line.decode("utf-8", "replace") for line in answer["Body"].iter_lines())
            yield from read_rows(lines, report.report_id)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise ReportMissing(f"{report.report_id}: not in {where} ({code})") from None
            if code in _REFUSED:
                raise CredentialsRejected(f"{SOURCE}: {where}: refused ({code})") from None
            raise SourceUnavailable(f"{SOURCE}: {where}: {code or error}") from None
        except BotoCoreError as error:
            # A body shorter than its Content-Length (IncompleteRead) is a cut-off report;
            # no connection is an outage.
            if "read" in type(error).__name__.lower() or "stream" in type(error).__name__.lower():
                raise UnreadableReport(
                    f"{report.report_id}: the download broke off ({error})"
                ) from None
            raise SourceUnavailable(f"{SOURCE}: {where}: {error}") from None

    def close(self) -> None:
        self._s3.close()
