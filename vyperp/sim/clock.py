"""The replay's clock as text: UTC ISO-8601 timestamps in reports, HH:MM in charts and tables."""

from __future__ import annotations

import datetime as dt


def iso_utc(ts: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a Unix timestamp (seconds, UTC)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(iso: str) -> str:
    """``HH:MM`` of an ISO-8601 UTC timestamp (as :func:`iso_utc` writes it)."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%H:%M")


__all__ = ["hhmm", "iso_utc"]
