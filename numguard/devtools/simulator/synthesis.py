"""How a seed becomes changes: pure arithmetic on change indices, no state.

Every change has an index. Its kind, time and carrier come from a hash of the
seed and the index; its number from a seeded permutation of the index; the
index itself falls in one day's, one feed's (and one Infobip network's) block.
So any row of any day is made on demand in O(1), in any order, and a day of a
million rows never has to be held.

Numbers are fictional NANP numbers on the 555 exchange, `1NXX555XXXX`, with
area codes 200-711 and lines 0000-8191 (2**22 numbers). They are all distinct:
change j owns numbers 2j (its own) and 2j + 1 (the new one, for a number change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from numguard.devtools.simulator.feeds import INFOBIP_NETWORKS, Change, Feed, Kind

FEED_SHARES = ((Feed.CONVEY, 5), (Feed.INFOBIP, 3), (Feed.TWILIO, 2))  # tenths of each day
NETWORK_SHARES = (6, 4)  # tenths of Infobip's share, in INFOBIP_NETWORKS order
MAX_REACTIVATION_LAG_DAYS = 3  # a suspension is lifted 1 to 3 days later
CONVEY_CARRIERS = ("Verizon Wireless", "US Cellular Corp", "T-Mobile", "Cingular")
VERIZON = "Verizon Wireless"  # the only carrier sending SUSPEND/REACTIVATE in Convey files

# The mix of kinds per feed, as (upper bound of hash % 100, kind).
KIND_MIX = {
    Feed.CONVEY: ((78, Kind.DEACTIVATE), (90, Kind.SUSPEND), (100, Kind.CHANGE_NUMBER)),
    Feed.INFOBIP: (
        (76, Kind.DEACTIVATE),
        (88, Kind.SUSPEND),
        (96, Kind.CHANGE_NUMBER),
        (100, Kind.ACTIVATE),
    ),
    Feed.TWILIO: ((100, Kind.DEACTIVATE),),  # Twilio lists deactivations only
}
_KINDS = {  # the same as lookup tables: this runs once per row
    feed: [next(kind for bound, kind in mix if roll < bound) for roll in range(100)]
    for feed, mix in KIND_MIX.items()
}

_NUMBER_BITS = 22
_NUMBER_MASK = (1 << _NUMBER_BITS) - 1
_LINE_BITS = 13  # lines 0000-8191; the 9 bits above pick the area code 200-711
MAX_CHANGES = 1 << (_NUMBER_BITS - 1)  # two numbers per change
_MASK64 = (1 << 64) - 1
_SECONDS_A_DAY = 86_400


def mix(value: int) -> int:
    """splitmix64: a cheap, well-spread 64-bit hash, the same on every platform."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


@dataclass(frozen=True, slots=True)
class Block:
    """A run of change indices [start, stop): one feed's (or network's) share of a day."""

    feed: Feed
    day: int  # days after the start date
    start: int
    stop: int
    network: int = 0  # index in INFOBIP_NETWORKS

    def __len__(self) -> int:
        return self.stop - self.start


class Synthesis:
    """`changes` spread over `days` days from `start_date`, all decided by `seed`."""

    def __init__(self, seed: int, changes: int, days: int, start_date: date) -> None:
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        if not 0 <= changes <= MAX_CHANGES:
            raise ValueError(f"numbers must be between 0 and {MAX_CHANGES}, not {changes}")
        self.changes, self.days, self.start_date = changes, days, start_date
        self._salt = mix(seed)
        # Keys of a bijection on 22 bits: odd multipliers, xor-shifts and offsets all invert.
        self._keys = [mix(self._salt + n) & _NUMBER_MASK for n in range(1, 5)]
        self._keys[1] |= 1
        self._keys[2] |= 1
        self._midnights = [
            datetime.combine(start_date + timedelta(days=d), time(), UTC) for d in range(days)
        ]

    def day_of(self, index: int) -> date:
        return self.start_date + timedelta(days=index)

    # -- where an index falls ------------------------------------------------------------

    def _day_start(self, day: int) -> int:
        base, extra = divmod(self.changes, self.days)
        return day * base + min(day, extra)

    def feed_block(self, feed: Feed, day: int) -> Block:
        day_start, day_stop = self._day_start(day), self._day_start(day + 1)
        start = day_start
        for position, (name, tenths) in enumerate(FEED_SHARES):
            last = position == len(FEED_SHARES) - 1
            stop = day_stop if last else start + (day_stop - day_start) * tenths // 10
            if name is feed:
                return Block(feed, day, start, stop)
            start = stop
        raise ValueError(feed)

    def network_block(self, day: int, network: int) -> Block:
        whole = self.feed_block(Feed.INFOBIP, day)
        start = whole.start
        for position, tenths in enumerate(NETWORK_SHARES):
            last = position == len(NETWORK_SHARES) - 1
            stop = whole.stop if last else start + len(whole) * tenths // 10
            if position == network:
                return Block(Feed.INFOBIP, day, start, stop, network)
            start = stop
        raise ValueError(network)

    def blocks(self, feed: Feed, day: int) -> list[Block]:
        if feed is Feed.INFOBIP:
            return [self.network_block(day, n) for n in range(len(INFOBIP_NETWORKS))]
        return [self.feed_block(feed, day)]

    # -- what an index is ----------------------------------------------------------------

    def number(self, index: int) -> str:
        """A seeded one-to-one map of 0..2**22-1 onto `+1NXX555XXXX` numbers."""
        k0, k1, k2, k3 = self._keys
        value = ((index ^ k0) * k1) & _NUMBER_MASK
        value ^= value >> 11
        value = (value * k2) & _NUMBER_MASK
        value ^= value >> 11
        value = (value + k3) & _NUMBER_MASK
        area, line = divmod(value, 1 << _LINE_BITS)
        return f"+1{200 + area}555{line:04d}"

    def _hash(self, index: int) -> int:
        return mix(self._salt ^ index)

    def is_suspension(self, block: Block, index: int) -> tuple[bool, int]:
        """Whether the change is a suspension, and after how many days it is lifted."""
        hashed = self._hash(index)
        lag = 1 + (hashed >> 24) % MAX_REACTIVATION_LAG_DAYS
        return _KINDS[block.feed][hashed % 100] is Kind.SUSPEND, lag

    def change(self, block: Block, index: int) -> Change:
        hashed = self._hash(index)
        kind = _KINDS[block.feed][hashed % 100]
        at = self._midnights[block.day]
        if block.feed is Feed.INFOBIP:  # Infobip gives times; the others whole days
            at += timedelta(seconds=(hashed >> 8) % _SECONDS_A_DAY)
        new_mdn = self.number(2 * index + 1) if kind is Kind.CHANGE_NUMBER else None
        return Change(kind, self.number(2 * index), at, new_mdn, _carrier(block, kind, hashed))

    def reactivation(self, suspended: Block, index: int, lag: int) -> Change:
        """The change lifting suspension `index`, `lag` days after it, on the same feed."""
        suspension = self.change(suspended, index)
        at = self._midnights[suspended.day] + timedelta(days=lag)
        if suspended.feed is Feed.INFOBIP:
            at += timedelta(seconds=(self._hash(index) >> 32) % _SECONDS_A_DAY)
        return Change(Kind.REACTIVATE, suspension.mdn, at, None, suspension.carrier)


def _carrier(block: Block, kind: Kind, hashed: int) -> str:
    if block.feed is Feed.INFOBIP:
        return INFOBIP_NETWORKS[block.network][0]
    if block.feed is Feed.TWILIO:
        return ""
    if kind is Kind.SUSPEND:
        return VERIZON
    return CONVEY_CARRIERS[(hashed >> 40) % len(CONVEY_CARRIERS)]
