"""Usage over time: stored replies' telemetry, added up per model and per day.

Every request Chat Lab sends is counted once: the chat's replies from the messages, and
Compare's from the stored runs (each result, and the attempts a capacity retry made);
a Compare result taken into the chat is counted with its run, not again.

The store hands over one row per reply with its ``stats`` JSON as text; each is checked
with the same field rules as an import (``transfer.stats_from``). A row that fails them
is skipped and counted, never an error: one hand-edited row must not hide a month of
usage. Everything else here is plain arithmetic over ``UsageRecord``s, so the page does
one query and no per-model or per-day round trips.

Charts over time bin by the hour, day or week, whichever fits the data's span
(``unit_for``), and their axis holds a few bins more than the data (``bins``), so one
busy hour is one bar among 24, not a bar that fills the chart.

Cost is only ever added up where it is known: a reply without a price (a local server,
an unlisted model) is counted as "cost unknown", never as $0.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

from chatlab.messages import SOURCES, ReplyStats
from chatlab.transfer import InvalidDocument, stats_from

SLOWEST = 10  # replies listed as the slowest
Unit = Literal["hour", "day", "week"]
HOURLY_DAYS = 2  # data over at most this many days is binned by the hour
DAILY_DAYS = 92  # ... else by the day up to about three months, else by the week
SHOWN_AT_LEAST = {"hour": 24, "day": 7, "week": 4}  # bins on the axis, so one is not all


@dataclass(frozen=True)
class StoredUsage:
    """One reply's row as the store reads it: the stats still JSON text (or parsed)."""

    conversation_id: str
    title: str
    created_at: datetime
    stats: object
    source: str = "chat"  # "compare": a result of the compare run ``conversation_id`` names


@dataclass(frozen=True)
class UsageRecord:
    """One reply's telemetry, where it lives and when it started."""

    conversation_id: str
    title: str
    created_at: datetime
    stats: ReplyStats


@dataclass(frozen=True)
class UsageRecords:
    """The readable replies of a period, oldest first, and how many could not be read."""

    records: list[UsageRecord]
    skipped: int = 0


@dataclass(frozen=True)
class Totals:
    """Requests, tokens and cost added up; cost only over the replies that have one."""

    replies: int = 0
    requests: int = 0  # a reply made of several parts (Continue) counts each
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_replies: int = 0  # token counts we estimated (the server sent none)
    cost_usd: float = 0.0  # of the replies whose cost is known
    unknown_cost_replies: int = 0
    unknown_cost_requests: int = 0

    @property
    def cost_known(self) -> bool:
        """True when at least one reply had a known cost."""
        return self.unknown_cost_replies < self.replies


@dataclass(frozen=True)
class Spread:
    """A distribution in five numbers: 5th percentile, quartiles, median, 95th percentile."""

    model: str
    count: int
    low: float
    q1: float
    median: float
    q3: float
    high: float


def records_from(rows: Iterable[StoredUsage]) -> UsageRecords:
    """Check each row's stats with the import rules; a bad one is skipped and counted."""
    records: list[UsageRecord] = []
    skipped = 0
    for row in rows:
        try:
            data = json.loads(row.stats) if isinstance(row.stats, str | bytes) else row.stats
            if data is None:  # JSON null: a reply without telemetry, nothing to count
                continue
            stats = stats_from(data)
        except (InvalidDocument, ValueError, TypeError, RecursionError):
            skipped += 1
            continue
        if row.source != stats.source:
            if row.source == "chat":
                continue  # a Compare result taken into the chat: counted with its run
            stats = replace(stats, source=row.source)  # stored before results said so
        records.append(UsageRecord(row.conversation_id, row.title, row.created_at, stats))
    return UsageRecords(records, skipped)


def by_source(records: Iterable[UsageRecord]) -> dict[str, Totals]:
    """Totals per page that sent the requests (chat, compare), in that order."""
    grouped: dict[str, list[ReplyStats]] = defaultdict(list)
    for record in records:
        grouped[record.stats.source].append(record.stats)
    order = [source for source in SOURCES if source in grouped]
    return {source: add_up(grouped[source]) for source in order}


def add_up(stats: Iterable[ReplyStats]) -> Totals:
    """The totals of some replies (a period's, a model's, one conversation's)."""
    replies = requests = prompt = completion = estimated = unknown = unknown_requests = 0
    cost = 0.0
    for one in stats:
        replies += 1
        requests += one.parts
        prompt += one.usage.prompt_tokens
        completion += one.usage.completion_tokens
        estimated += one.usage.estimated
        if one.cost_usd is None:
            unknown += 1
            unknown_requests += one.parts
        else:
            cost += one.cost_usd
    return Totals(replies, requests, prompt, completion, estimated, cost, unknown, unknown_requests)


def only_source(records: Iterable[UsageRecord], source: str | None) -> list[UsageRecord]:
    """The records of requests sent from ``source`` (a page: chat, compare); None: all."""
    return [record for record in records if source is None or record.stats.source == source]


def models(records: Iterable[UsageRecord]) -> list[str]:
    """Every model that replied, sorted."""
    return sorted({record.stats.model for record in records})


def only_models(records: Iterable[UsageRecord], wanted: Sequence[str]) -> list[UsageRecord]:
    """The records of the ``wanted`` models (all of them when none is named)."""
    if not wanted:
        return list(records)
    keep = set(wanted)
    return [record for record in records if record.stats.model in keep]


def by_model(records: Iterable[UsageRecord]) -> dict[str, Totals]:
    """Totals per model, models sorted."""
    grouped: dict[str, list[ReplyStats]] = defaultdict(list)
    for record in records:
        grouped[record.stats.model].append(record.stats)
    return {model: add_up(grouped[model]) for model in sorted(grouped)}


@dataclass(frozen=True)
class BinUsage:
    """One model's usage in one hour, day or week (``start``: its first instant, in the zone)."""

    start: datetime
    model: str
    totals: Totals


def unit_for(records: Sequence[UsageRecord], zone: tzinfo) -> Unit:
    """The bin that fits the data's span: hours over a day or two, days, else weeks."""
    days = [record.created_at.astimezone(zone).date() for record in records]
    span = (max(days) - min(days)).days + 1 if days else 1
    return "hour" if span <= HOURLY_DAYS else "day" if span <= DAILY_DAYS else "week"


def bin_start(moment: datetime, zone: tzinfo, unit: Unit) -> datetime:
    """The start of the hour, day or week (from Monday) holding ``moment``, in ``zone``."""
    local = moment.astimezone(zone)
    if unit == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date() - timedelta(days=local.weekday() if unit == "week" else 0)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def by_bin(records: Iterable[UsageRecord], zone: tzinfo, unit: Unit) -> list[BinUsage]:
    """Totals per bin and model, oldest first."""
    grouped: dict[tuple[datetime, str], list[ReplyStats]] = defaultdict(list)
    for record in records:
        grouped[(bin_start(record.created_at, zone, unit), record.stats.model)].append(record.stats)
    return [
        BinUsage(start, model, add_up(grouped[(start, model)])) for start, model in sorted(grouped)
    ]


def bins(records: Sequence[UsageRecord], zone: tzinfo, unit: Unit) -> list[datetime]:
    """Every bin from the first record's to the last's, at least ``SHOWN_AT_LEAST`` of them
    (ending with the last): the axis of the charts, so a single bar does not fill it."""
    starts = [bin_start(record.created_at, zone, unit) for record in records]
    if not starts:
        return []
    first, last = min(starts), max(starts)
    if unit == "hour":  # whole days, midnight to midnight
        first = first.replace(hour=0)
        last = last.replace(hour=23)
    found = []
    moment = first
    while moment <= last:
        found.append(moment)
        moment = _next(moment, zone, unit)
    while len(found) < SHOWN_AT_LEAST[unit]:
        found.insert(0, _previous(found[0], zone, unit))
    return found


def _next(start: datetime, zone: tzinfo, unit: Unit) -> datetime:
    # Hours step in UTC (a day of a clock change has 23 or 25); days and weeks by the calendar.
    if unit == "hour":
        return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return bin_start(start + timedelta(days=1 if unit == "day" else 7, hours=12), zone, unit)


def _previous(start: datetime, zone: tzinfo, unit: Unit) -> datetime:
    if unit == "hour":
        return (start.astimezone(UTC) - timedelta(hours=1)).astimezone(zone)
    return bin_start(
        start - timedelta(days=1 if unit == "day" else 7) + timedelta(hours=12), zone, unit
    )


def values(
    records: Iterable[UsageRecord], measure: Callable[[ReplyStats], float | None]
) -> list[tuple[str, float]]:
    """(model, ``measure``) of each reply where it can be told: the points of a few replies."""
    found = []
    for record in records:
        value = measure(record.stats)
        if value is not None:
            found.append((record.stats.model, value))
    return found


def spreads(
    records: Iterable[UsageRecord], measure: Callable[[ReplyStats], float | None]
) -> list[Spread]:
    """Per model, the spread of ``measure`` over the replies where it can be told."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        value = measure(record.stats)
        if value is not None:
            grouped[record.stats.model].append(value)
    return [spread(model, grouped[model]) for model in sorted(grouped)]


def spread(model: str, values: Sequence[float]) -> Spread:
    """Five numbers of ``values`` (at least one)."""
    if len(values) == 1:
        only = values[0]
        return Spread(model, 1, only, only, only, only, only)
    cuts = statistics.quantiles(values, n=20, method="inclusive")  # every 5th percentile
    return Spread(model, len(values), cuts[0], cuts[4], cuts[9], cuts[14], cuts[18])


def time_to_first_token(stats: ReplyStats) -> float | None:
    """Seconds until the first token (None when no token came)."""
    return stats.time_to_first_token


def tokens_per_second(stats: ReplyStats) -> float | None:
    """Output speed after the first token (None when it cannot be told)."""
    return stats.tokens_per_second


def mean_speeds(records: Iterable[UsageRecord]) -> dict[str, float]:
    """Each model's mean output speed (tokens/s) over the replies where it can be told:
    what Compare's estimate times a run by."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for record in records:
        speed = record.stats.tokens_per_second
        if speed is not None and speed > 0:
            grouped[record.stats.model].append(speed)
    return {model: statistics.fmean(found) for model, found in grouped.items()}


def slowest(records: Iterable[UsageRecord], count: int = SLOWEST) -> list[UsageRecord]:
    """The ``count`` replies that took longest, slowest first."""
    return sorted(records, key=lambda record: record.stats.total_time, reverse=True)[:count]


def period(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants from the start of ``first`` to the end of ``last``, days in ``zone``."""
    since = datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + timedelta(days=1)
    return since, datetime(after.year, after.month, after.day, tzinfo=zone)
