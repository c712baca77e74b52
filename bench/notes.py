"""Where the time goes in each stage whose target is not met, and what was tried: read
beside the profile the run prints under the table. Written by people, from profiles."""

from __future__ import annotations

NOTES: dict[str, str] = {}
