"""Looking into a store from a test while another process writes it."""

from __future__ import annotations

from numguard.consumer.store import open_store


def numbers_applied(url: str) -> int:
    """How many numbers the store holds a state for (opened and closed each call)."""
    store = open_store(url, create=False)
    try:
        return sum(store.numbers_by_state().values())
    finally:
        store.close()
