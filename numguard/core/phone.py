"""Phone numbers: normalize to E.164 and mask for logs.

Carrier feeds give North American numbers as `12223334444`; people type
`+1 (222) 333-4444` or `2223334444`. Everything inside numguard is E.164 with
a leading `+`, and anything written to a log or error is masked.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s().\-/]")
# NANP: area code and exchange code both start with 2-9. ASCII digits only: Python's
# \d also matches fullwidth or Arabic-Indic digits, which would make keys that
# never equal the carrier's (a deactivation that never matches its number).
_NANP = re.compile(r"1?([2-9][0-9]{2}[2-9][0-9]{6})")
_E164 = re.compile(r"\+([1-9][0-9]{7,14})")
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")
_MASKED_DIGITS = 4


class InvalidNumber(ValueError):
    """The text is not a phone number numguard can normalize."""


def normalize(text: str) -> str:
    """Return `text` as E.164 (`+12223334444`) or raise InvalidNumber.

    Numbers without a `+` are read as North American (the feeds are US-only);
    numbers with a `+` and another country code are accepted as E.164.
    """
    if _NANP_E164.fullmatch(text):
        return text  # already normalized: the common case for stores, topics and APIs
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("+") and not compact.startswith("+1"):
        if _E164.fullmatch(compact):
            return compact
    else:
        # "+1" must be followed by exactly ten NANP digits; bare digits may omit the 1.
        nanp = _NANP.fullmatch(compact.removeprefix("+"))
        if nanp and not (compact.startswith("+") and len(compact) != 12):
            return "+1" + nanp.group(1)
    raise InvalidNumber(f"not a phone number: {mask(text)!r}")


def north_american(text: str) -> str:
    """`text` as E.164 when it is a North American number, else InvalidNumber: the feeds
    and the delivery reports numguard reads are about US numbers only."""
    number = normalize(text)
    if not number.startswith("+1"):
        raise InvalidNumber(f"not a North American number: {mask(text)!r}")
    return number


# A NANP number as people and spreadsheets write it: 2025550143, 1-202-555-0143,
# +1 (202) 555-0143, 202.555.0143; not inside a longer run of digits.
_NUMBER_IN_TEXT = re.compile(
    r"(?<![0-9])(?:\+?1[\s.\-]?)?\(?[2-9][0-9]{2}\)?[\s.\-]?[2-9][0-9]{2}[\s.\-]?[0-9]{4}(?![0-9])"
)


def mask_numbers(text: str) -> str:
    """Every phone-number-shaped part of `text` masked, in whatever format it is written:
    for messages that quote what a carrier sent (a shifted column can put a number in
    any field)."""
    return _NUMBER_IN_TEXT.sub(lambda found: mask(found.group(0)), text)


def mask(number: str) -> str:
    """Hide the last four digits: `+12025550100` -> `+1202555****`."""
    text = number.strip()
    digits_seen = 0
    chars = list(text)
    for index in range(len(chars) - 1, -1, -1):
        if chars[index].isdigit():
            chars[index] = "*"
            digits_seen += 1
            if digits_seen == _MASKED_DIGITS:
                break
    return "".join(chars)
