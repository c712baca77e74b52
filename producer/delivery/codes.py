"""Which delivery failures mean the number is gone: the one mapping table.

A failure becomes an UNDELIVERABLE event only when its provider's code is listed
here (or in the configuration that replaces a provider's list). Temporary failures
(a phone switched off, a full inbox: Twilio 30003, Infobip's absent subscriber)
are never listed: one missed message must not block a subscriber for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Twilio error codes (Messaging status callbacks, ErrorCode).
TWILIO = frozenset({
    "30005",  # unknown destination handset: unknown or no longer in service
    "30006",  # landline or unreachable carrier: permanent for SMS
})  # fmt: skip
# Infobip error ids (error.id of a delivery report); `permanent: false` always wins.
INFOBIP = frozenset({
    "1",  # EC_UNKNOWN_SUBSCRIBER (handset errors, permanent)
})  # fmt: skip
# OpenMarket (now Infobip) status and receipt codes, as in Listrak's list of codes for
# a deactivated number, and the others that say the number is not a subscriber.
OPENMARKET = frozenset({
    "341", "345", "349", "560", "561", "565", "568", "573", "592", "603", "629", "3041",
    "410", "411", "514", "566", "569", "2015", "2023",
})  # fmt: skip

DEFAULTS: dict[str, frozenset[str]] = {
    "twilio": TWILIO,
    "infobip": INFOBIP,
    "openmarket": OPENMARKET,
}


@dataclass(frozen=True)
class PermanentFailures:
    """The codes per provider that mean the number is gone."""

    codes: Mapping[str, frozenset[str]] = field(default_factory=lambda: dict(DEFAULTS))

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, list[str]]) -> PermanentFailures:
        """The defaults, each provider named in `overrides` with its list replaced."""
        codes = dict(DEFAULTS)
        codes.update({provider.lower(): frozenset(map(str, found))
                      for provider, found in overrides.items()})  # fmt: skip
        return cls(codes)

    def providers(self) -> list[str]:
        return sorted(self.codes)

    def means_gone(self, provider: str, code: str) -> bool:
        return code.strip() in self.codes.get(provider.lower(), frozenset())
