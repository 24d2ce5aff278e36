"""The browser's time zone and a date range picked in it: what a page that reads stored
records by day (Usage, the Leaderboard) asks first.

Days are the browser's days, so "today" is the visitor's today; ``chatlab.usage.period``
turns the picked days into the instants a store query takes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

__all__ = ["browser_zone", "pick_period"]


def browser_zone() -> tzinfo:
    """The browser's time zone (days are its days); UTC when it cannot be told."""
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def pick_period(
    target: DeltaGenerator, zone: tzinfo, days: int, key: str | None = None
) -> tuple[date, date]:
    """The date range to look at (default: the last ``days`` days); first and last day."""
    today = datetime.now(zone).date()
    default = (today - timedelta(days=days - 1), today)
    picked: Any = target.date_input("Dates", value=default, format="YYYY-MM-DD", key=key)
    # While a range is being picked the widget holds one date, or none.
    chosen = [day for day in (picked if isinstance(picked, tuple) else (picked,)) if day]
    if not chosen:
        return default
    return min(chosen), max(chosen)
