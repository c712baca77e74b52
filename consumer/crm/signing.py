"""Webhook signatures, the way payment webhooks sign theirs.

    Numguard-Signature: t=1709596800,v1=5f2b...e1

v1 is the hex HMAC-SHA256, keyed with the endpoint's secret, of
f"{t}.{body}" where body is the exact bytes of the request body. The timestamp
is inside the MAC, so a receiver that rejects old timestamps also rejects
replays of a captured request. A receiver verifies it in a few lines:

    import hashlib, hmac, time

    def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        signed = parts["t"].encode() + b"." + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(parts["t"])) <= tolerance
        return fresh and hmac.compare_digest(expected, parts["v1"])
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Numguard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`, signed now (or at `timestamp`)."""
    when = int(time.time()) if timestamp is None else timestamp
    return f"t={when},v1={signature(secret, when, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when `header` signs exactly `body` with `secret`, within the tolerance.

    Several v1 values may be present (during a secret rotation a sender may sign
    with both); any one matching is enough.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
