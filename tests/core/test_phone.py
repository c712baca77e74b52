from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numguard.core.phone import InvalidNumber, mask, normalize


@pytest.mark.parametrize(
    "text", ["+1 (202) 555-0100", "2025550100", "12025550100", "+12025550100", " 202.555.0100 "]
)
def test_north_american_forms_normalize_to_e164(text: str) -> None:
    assert normalize(text) == "+12025550100"


def test_other_country_codes_with_plus_are_kept() -> None:
    assert normalize("+44 20 7183 8750") == "+442071838750"


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1202555010", "+1 202 555 01000", "0025550100", "1025550100", "2021550100"],
)
def test_unparseable_numbers_are_rejected(text: str) -> None:
    with pytest.raises(InvalidNumber):
        normalize(text)


def test_rejection_message_masks_the_number() -> None:
    with pytest.raises(InvalidNumber) as raised:
        normalize("+1 202 555 01000")
    assert "01000" not in str(raised.value)


def test_mask_hides_the_last_four_digits() -> None:
    assert mask("+12025550100") == "+1202555****"
    assert mask("+1 (202) 555-0100") == "+1 (202) 555-****"


@pytest.mark.parametrize(
    "text",
    [
        "+1202555\uff10\uff11\uff19\uff19",  # fullwidth 0199
        "\u0662\u0660\u0662\u0665\u0665\u0665\u0660\u0661\u0669\u0669",  # Arabic-Indic digits
        "+44 20 7183 \u0668\u0667\u0665\u0660",  # Arabic-Indic in an E.164 number
        "202555\u09e6\u09e7\u09ef\u09ef",  # Bengali digits
    ],
)
def test_only_ascii_digits_make_a_number(text: str) -> None:
    """Issue 10, case 6: such keys never equal the carrier's, so a deactivation never matches."""
    with pytest.raises(InvalidNumber):
        normalize(text)


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=10, max_size=12))
def test_no_digit_string_outside_ascii_is_a_number(digits: str) -> None:
    if digits.isascii():
        return
    with pytest.raises(InvalidNumber):
        normalize(digits)
