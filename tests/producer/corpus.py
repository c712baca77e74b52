"""Malformed Convey files, each with what a careful reader counts in it by hand.

Counted independently of the parser: `good` rows become events, `bad` rows dead
letters (at the listed positions: the header is record 1), `flagged` rows events
with a warning dead letter; `unreadable` files are refused whole with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME"


@dataclass(frozen=True)
class Case:
    name: str
    day: int  # the file is mcdn_deact_202403DD.csv, its rows dated that day
    lines: list[str]
    good: int = 0
    bad: list[int] = field(default_factory=list)  # positions of the dead-lettered rows
    flagged: list[int] = field(default_factory=list)
    unreadable: bool = False
    raw: bytes | None = None  # the file's bytes, when lines cannot say them

    @property
    def file_name(self) -> str:
        return f"mcdn_deact_202403{self.day:02d}.csv"

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        day = f"2024-03-{self.day:02d}"
        return ("\n".join(line.replace("DAY", day) for line in self.lines) + "\n").encode()


def row(number: str, reason: str = "DEACTIVATE", new: str = "1", carrier: str = "V") -> str:
    return f"{number},{reason},DAYT00:00Z,{new},{carrier}"


GOOD_A, GOOD_B = row("12025550101"), row("12025550102", "SUSPEND")

# fmt: off
CASES = [
    Case("clean", 1, [HEADER, GOOD_A, GOOD_B], good=2),
    Case("blank lines", 2, [HEADER, "", GOOD_A, "", "", GOOD_B], good=2),
    Case(
        "a row of four columns",
        3,
        [HEADER, GOOD_A, "12025550103,DEACTIVATE,DAYT00:00Z,1", GOOD_B],
        good=2,
        bad=[3],
    ),
    Case(
        "a row of six columns",
        4,
        [HEADER, GOOD_A, row("12025550103") + ",extra", GOOD_B],
        good=2,
        bad=[3],
    ),
    Case(
        "a quoted comma", 5, [HEADER, row("12025550103", carrier='"AT&T, Inc."'), GOOD_B], good=2
    ),
    Case(
        "a quoted line break",
        6,
        [HEADER, row("12025550103", carrier='"AT&T\nMobility"'), GOOD_B],
        good=2,
    ),
    Case(
        "an unterminated quote",
        7,
        [HEADER, GOOD_A, row("12025550103", carrier='"Veri'), GOOD_B, row("12025550104")],
        good=1,
        bad=[3],
    ),
    Case(
        "numbers of the wrong length",
        8,
        [HEADER, row("202555010"), row("120255501011"), GOOD_A],
        good=1,
        bad=[2, 3],
    ),
    Case("numbers with letters", 9, [HEADER, row("20255501AB"), GOOD_A], good=1, bad=[2]),
    Case(
        "formatted numbers", 10, [HEADER, row('"+1 (202) 555-0103"'), row("202.555.0104")], good=2
    ),
    Case(
        "a number outside North America",
        11,
        [HEADER, row("442071838750"), row("+442071838750"), GOOD_A],
        good=1,
        bad=[2, 3],
    ),
    Case(
        "an unknown reason code",
        12,
        [HEADER, row("12025550103", "PORT_OUT"), GOOD_A],
        good=1,
        bad=[2],
    ),
    Case(
        "impossible and missing dates",
        13,
        [
            HEADER,
            "12025550103,DEACTIVATE,2024-02-30T00:00Z,1,V",
            "12025550104,DEACTIVATE,,1,V",
            "12025550105,DEACTIVATE,9999-12-31T23:00:00-05:00,1,V",
            GOOD_A,
        ],
        good=1,
        bad=[2, 3, 4],
    ),
    Case(
        "a change with no usable new number",
        14,
        [HEADER, row("12025550103", "CHANGE_MDN", "1"), GOOD_A],
        good=2,
        flagged=[2],
    ),
    Case(
        "a field over the CSV limit",
        15,
        [HEADER, row("12025550103", carrier="x" * 200_000), GOOD_A],
        good=1,
        bad=[2],
    ),
    Case(
        "control characters",
        16,
        [HEADER, row("202555\x000103", carrier="V\x1b[0m"), GOOD_A],
        good=2,
    ),
    Case("a byte-order mark", 17, ["\ufeff" + HEADER, GOOD_A], good=1),
    Case(
        "a byte that is not UTF-8",
        18,
        [],
        good=1,
        bad=[2],
        raw=(
            HEADER + "\n2025550\xe9103,DEACTIVATE,2024-03-18T00:00Z,1,V\n"
            "12025550101,DEACTIVATE,2024-03-18T00:00Z,1,V\n"
        ).encode("latin-1"),
    ),
    Case("only a header", 19, [HEADER]),
    Case("an empty file", 20, [], unreadable=True, raw=b""),
    Case("a wrong header", 21, ["number,status", "12025550101,gone"], unreadable=True),
    Case(
        "a duplicated header column",
        22,
        [HEADER.replace("CARRIER_NAME", "MDN"), GOOD_A],
        unreadable=True,
    ),
    Case(
        "a missing header column",
        23,
        ["MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN", "12025550101,DEACTIVATE,DAYT00:00Z,1"],
        unreadable=True,
    ),
    Case("UTF-16", 24, [], unreadable=True, raw=(HEADER + "\n" + GOOD_A + "\n").encode("utf-16")),
]
# fmt: on
