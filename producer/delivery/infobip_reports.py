"""Infobip SMS delivery reports: POSTed JSON, `{"results": [...]}`, up to 100 a request.

A result counts when its error id is listed for Infobip (codes.py) and Infobip does
not say `permanent: false`; its status group is then UNDELIVERABLE or REJECTED. The
page describing the format is marked deprecated: fields are read leniently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from numguard.core.phone import InvalidNumber, north_american
from numguard.core.times import parse_time
from numguard.producer.delivery.codes import PermanentFailures
from numguard.producer.delivery.failures import DeliveryFailure, credible_webhook_time

PROVIDER = "infobip"


class BadReport(ValueError):
    """A request or a result that cannot be read."""


def failures(
    body: Any, codes: PermanentFailures, received_at: datetime
) -> tuple[list[DeliveryFailure], list[str]]:
    """The permanent failures in a request body, and why each unreadable result was
    skipped (by its index). Raises BadReport when the body is not a report at all."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise BadReport('not an Infobip delivery report: no "results" list')
    found: list[DeliveryFailure] = []
    problems: list[str] = []
    for index, result in enumerate(body["results"]):
        try:
            if (failed := _failure(result, codes, received_at)) is not None:
                found.append(failed)
        except BadReport as error:
            problems.append(f"results[{index}]: {error}")
    return found, problems


def _failure(
    result: Any, codes: PermanentFailures, received_at: datetime
) -> DeliveryFailure | None:
    if not isinstance(result, dict):
        raise BadReport("not an object")
    found = result.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = str(error.get("id", "")).strip()
    if not code or error.get("permanent") is False or not codes.means_gone(PROVIDER, code):
        return None
    message_id = str(result.get("messageId") or "").strip()
    if not message_id:
        raise BadReport("no messageId")
    try:
        mdn = north_american(str(result.get("to") or ""))
    except InvalidNumber as problem:
        if "North American" in str(problem):
            return None  # another country's number: numguard watches US numbers
        raise BadReport(f"to: {problem}") from None
    try:
        done_at = parse_time(str(result["doneAt"])) if result.get("doneAt") else received_at
    except ValueError:
        done_at = received_at  # the failure is certain; only its moment is not
    done_at = credible_webhook_time(done_at, received_at)
    return DeliveryFailure(PROVIDER, mdn, code, done_at, message_id)
