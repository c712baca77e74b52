"""The README's code a user copies must work."""

from __future__ import annotations

import re
import time
from pathlib import Path

from numguard.consumer.crm.signing import signature

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_webhook_receiver_snippet_verifies_numguards_signatures() -> None:
    (snippet,) = [block for block in re.findall(r"```python\n(.*?)```", README, re.S)
                  if "def verify(" in block]  # fmt: skip
    scope: dict[str, object] = {}
    exec(snippet, scope)  # the README's own code, as a user would paste it
    verify = scope["verify"]
    body, now = b'{"data": {"mdn": "+12025550100"}}', int(time.time())
    header = f"t={now},v1={signature('s3cret', now, body)}"
    assert verify("s3cret", header, body) is True  # type: ignore[operator]
    assert verify("s3cret", header, body + b" ") is False  # type: ignore[operator]
    assert verify("other", header, body) is False  # type: ignore[operator]
    stale = f"t={now - 3600},v1={signature('s3cret', now - 3600, body)}"
    assert verify("s3cret", stale, body) is False  # type: ignore[operator]
