"""Twilio Messaging status callbacks: form-encoded POSTs signed with X-Twilio-Signature.

The signature is Twilio's: HMAC-SHA1, keyed with the account's Auth Token, of the
full URL Twilio called (query string included) followed by every POST parameter,
sorted by name, as name then value with no separators; base64. Twilio adds
parameters without notice, so every parameter received is signed, known or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from numguard.core.phone import InvalidNumber, north_american
from numguard.producer.delivery.failures import DeliveryFailure, credible_webhook_time

PROVIDER = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
FAILED_STATUSES = frozenset({"undelivered", "failed"})


class BadCallback(ValueError):
    """A callback that cannot be read: it is answered 400 and counted, never published."""


def signature(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(auth_token: str, url: str, params: Sequence[tuple[str, str]], given: str) -> bool:
    return hmac.compare_digest(signature(auth_token, url, params).encode(), given.encode())


def failure(params: Sequence[tuple[str, str]], received_at: datetime) -> DeliveryFailure | None:
    """The failure a callback reports, or None (queued, sent, delivered, read, or a
    failure without an error code). Raises BadCallback."""
    fields = dict(params)
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
    code = (fields.get("ErrorCode") or "").strip()
    if status not in FAILED_STATUSES or not code:
        return None
    message_id = fields.get("MessageSid") or fields.get("SmsSid") or ""
    if not message_id:
        raise BadCallback("no MessageSid")
    try:
        mdn = north_american(fields.get("To") or "")
    except InvalidNumber as error:
        if "North American" in str(error):
            return None  # another country's number: numguard watches US numbers
        raise BadCallback(f"To: {error}") from None
    return DeliveryFailure(PROVIDER, mdn, code, _done_at(fields, received_at), message_id)


def _done_at(fields: dict[str, str], received_at: datetime) -> datetime:
    """RawDlrDoneDate (YYMMDDhhmm, the carrier's, read as UTC), else when it was received."""
    raw = fields.get("RawDlrDoneDate", "").strip()
    try:
        done = datetime.strptime(raw, "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return received_at
    return credible_webhook_time(done, received_at)
