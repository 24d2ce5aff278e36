"""Usage over time: stored telemetry read in one query and added up per model and day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from chatlab import usage
from chatlab.messages import ChatMessage, ReplyStats, Usage
from chatlab.storage import Store
from chatlab.transfer import stats_json
from chatlab.usage import StoredUsage, UsageRecord

pytest_plugins = ["tests.postgres"]

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def stats(
    model: str = "gpt-4o-mini",
    prompt: int = 10,
    completion: int = 20,
    cost: float | None = 0.001,
    total: float = 2.0,
    first_token: float | None = 0.5,
    *,
    parts: int = 1,
    estimated: bool = False,
) -> ReplyStats:
    return ReplyStats(
        model=model,
        usage=Usage(prompt, completion, estimated),
        finish_reason="stop",
        time_to_first_token=first_token,
        total_time=total,
        cost_usd=cost,
        parts=parts,
    )


def record(one: ReplyStats, at: datetime = NOON, conversation: str = "c1") -> UsageRecord:
    return UsageRecord(conversation, "a title", at, one)


def stored(raw: object, conversation: str = "c1") -> StoredUsage:
    return StoredUsage(conversation, "a title", NOON, raw)


# -- reading rows --------------------------------------------------------------------------


def test_rows_are_read_with_the_import_rules_and_bad_ones_skipped_and_counted() -> None:
    good = json.dumps(stats_json(stats()))
    bad_rows = [
        "{not json",
        json.dumps({"model": "m"}),  # no usage, no total_time
        json.dumps({**(stats_json(stats()) or {}), "total_time": -1}),
        json.dumps({**(stats_json(stats()) or {}), "model": 42}),
        "[1, 2]",
        "[" * 100_000,  # deeper than the JSON parser goes
    ]
    found = usage.records_from([stored(good), *map(stored, bad_rows), stored(good, "c2")])
    assert [r.conversation_id for r in found.records] == ["c1", "c2"]
    assert found.records[0].stats == stats()
    assert found.skipped == len(bad_rows)


def test_a_json_null_is_a_reply_without_telemetry_not_a_bad_row() -> None:
    found = usage.records_from([stored("null"), stored(None)])
    assert found.records == [] and found.skipped == 0


# -- adding up -------------------------------------------------------------------------


def test_totals_count_each_part_of_a_continued_reply_as_a_request() -> None:
    totals = usage.add_up([stats(parts=3), stats()])
    assert (totals.replies, totals.requests) == (2, 4)


def test_totals_add_known_cost_only_and_say_how_much_is_unknown() -> None:
    totals = usage.add_up(
        [stats(cost=0.25), stats(cost=None, parts=2), stats(cost=0.5), stats(cost=None)]
    )
    assert totals.cost_usd == pytest.approx(0.75)
    assert (totals.unknown_cost_replies, totals.unknown_cost_requests) == (2, 3)
    assert totals.cost_known


def test_cost_is_unknown_not_zero_when_no_reply_has_one() -> None:
    totals = usage.add_up([stats(cost=None), stats(cost=None)])
    assert not totals.cost_known
    assert usage.add_up([stats(cost=0.0)]).cost_known  # a free reply is known: $0


def test_totals_add_tokens_and_count_estimates() -> None:
    totals = usage.add_up(
        [stats(prompt=5, completion=7), stats(prompt=9, completion=11, estimated=True)]
    )
    assert (totals.prompt_tokens, totals.completion_tokens) == (14, 18)
    assert totals.estimated_replies == 1


def test_usage_per_day_and_model_in_the_browsers_zone() -> None:
    def by_day(zone: tzinfo) -> list[tuple[date, str, usage.Totals]]:
        found = usage.by_bin(records, zone, "day")
        return [(b.start.date(), b.model, b.totals) for b in found]

    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already 11 March in Berlin
    records = [
        record(stats("b", cost=None), NOON),
        record(stats("a", completion=5), NOON),
        record(stats("a", completion=7), NOON + timedelta(hours=1)),
        record(stats("a"), late),
    ]
    in_utc = by_day(UTC)
    assert [(day, model, totals.completion_tokens) for day, model, totals in in_utc] == [
        (date(2026, 3, 10), "a", 32),
        (date(2026, 3, 10), "b", 20),
    ]
    assert not in_utc[1][2].cost_known
    berlin = by_day(ZoneInfo("Europe/Berlin"))
    assert [(day, model, totals.replies) for day, model, totals in berlin] == [
        (date(2026, 3, 10), "a", 2),
        (date(2026, 3, 10), "b", 1),
        (date(2026, 3, 11), "a", 1),
    ]


def test_the_bin_fits_the_span_and_the_axis_is_wider_than_the_data() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    one = [record(stats("a"), NOON)]
    assert usage.unit_for(one, berlin) == "hour"
    hours = usage.bins(one, berlin, "hour")
    assert len(hours) == 24 and hours[0].hour == 0 and hours[-1].hour == 23
    month = [*one, record(stats("a"), NOON - timedelta(days=20))]
    assert usage.unit_for(month, berlin) == "day"
    assert len(usage.bins(month, berlin, "day")) == 21
    assert len(usage.bins(one, berlin, "day")) == 7  # a week at least, ending that day
    year = [*one, record(stats("a"), NOON - timedelta(days=200))]
    assert usage.unit_for(year, berlin) == "week"
    weeks = usage.bins(year, berlin, "week")
    assert all(start.weekday() == 0 and start.hour == 0 for start in weeks)
    (found,) = usage.by_bin(one, berlin, "week")
    assert found.start == weeks[-1]


def test_hours_are_counted_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    change = datetime(2026, 3, 29, 5, tzinfo=UTC)  # clocks went forward at 01:00 UTC
    starts = usage.bins([record(stats("a"), change)], berlin, "hour")
    assert len({start.astimezone(UTC) for start in starts}) == len(starts)  # none twice
    (found,) = usage.by_bin([record(stats("a"), change)], berlin, "hour")
    assert found.start in starts and found.start.hour == 7


def test_the_source_filter_keeps_one_page_s_requests() -> None:
    chat, compare = stats("a"), replace(stats("a", completion=3), source="compare")
    records = [record(chat), record(compare)]
    assert usage.only_source(records, None) == records
    assert [r.stats for r in usage.only_source(records, "compare")] == [compare]
    total = usage.add_up(r.stats for r in records)
    parts = [
        usage.add_up(r.stats for r in usage.only_source(records, s)) for s in ("chat", "compare")
    ]
    assert total.completion_tokens == sum(p.completion_tokens for p in parts)


def test_totals_per_model_and_the_model_filter() -> None:
    records = [record(stats("b", parts=2)), record(stats("a")), record(stats("b"))]
    assert {m: t.requests for m, t in usage.by_model(records).items()} == {"a": 1, "b": 3}
    assert list(usage.by_model(records)) == usage.models(records) == ["a", "b"]
    assert [r.stats.model for r in usage.only_models(records, ["a"])] == ["a"]
    assert usage.only_models(records, []) == records  # nothing chosen: every model


def test_spreads_per_model_leave_out_replies_that_cannot_tell() -> None:
    records = [
        *(record(stats("a", first_token=float(s))) for s in range(1, 22)),  # 1..21 s
        record(stats("b", first_token=0.3)),
        record(stats("b", first_token=None)),  # no token came
    ]
    a, b = usage.spreads(records, usage.time_to_first_token)
    assert (a.model, a.count, a.low, a.q1, a.median, a.q3, a.high) == ("a", 21, 2, 6, 11, 16, 20)
    assert (b.model, b.count, b.low, b.median, b.high) == ("b", 1, 0.3, 0.3, 0.3)


def test_tokens_per_second_spread_is_measured_after_the_first_token() -> None:
    fast = stats(completion=101, total=2.5, first_token=0.5)  # 100 tokens in 2 s
    (spread,) = usage.spreads([record(fast), record(fast)], usage.tokens_per_second)
    assert spread.median == pytest.approx(50)


def test_slowest_replies_come_first() -> None:
    records = [record(stats(total=t), conversation=f"c{t}") for t in (3, 9, 1, 7)]
    assert [r.conversation_id for r in usage.slowest(records, 3)] == ["c9", "c7", "c3"]


def test_period_runs_from_the_first_days_start_to_the_last_days_end() -> None:
    zone = ZoneInfo("America/New_York")
    since, until = usage.period(date(2026, 3, 7), date(2026, 3, 8), zone)
    assert since == datetime(2026, 3, 7, 5, tzinfo=UTC)
    assert until == datetime(2026, 3, 9, 4, tzinfo=UTC)  # clocks went forward on the 8th


# -- the store's query, on both backends --------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def conversation_with(store: Store, owner: str, *replies: ReplyStats | None) -> str:
    """A conversation of one question and one reply per item (None: no telemetry)."""
    conversation_id = store.create_conversation(owner)
    parent: ChatMessage | None = None
    for one in replies:
        question = ChatMessage("user", "q", parent_id=parent.id if parent else None)
        parent = ChatMessage("assistant", "a", parent_id=question.id, stats=one)
        store.save_message(owner, conversation_id, question)
        store.save_message(owner, conversation_id, parent)
    return conversation_id


def set_created_at(database_url: str, when: dict[str, datetime]) -> None:
    """Move messages in time, behind the store's back, by conversation id."""
    engine = sa.create_engine(database_url)
    table = sa.table(
        "messages", sa.column("conversation_id"), sa.column("created_at", sa.DateTime())
    )
    sqlite_db = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        for conversation_id, at in when.items():
            value = at.replace(tzinfo=None) if sqlite_db else at
            conn.execute(
                sa.update(table)
                .where(table.c.conversation_id == conversation_id)
                .values(created_at=value)
            )
    engine.dispose()


def test_usage_records_are_the_owners_replies_with_telemetry_in_the_period(
    store: Store, database_url: str
) -> None:
    march = conversation_with(store, "alice", stats("a"), None, stats("b", parts=2))
    april = conversation_with(store, "alice", stats("c"))
    theirs = conversation_with(store, "bob", stats("secret"))
    set_created_at(
        database_url,
        {march: NOON, april: NOON + timedelta(days=30), theirs: NOON},
    )
    since, until = usage.period(date(2026, 3, 1), date(2026, 3, 31), UTC)
    found = store.usage_records("alice", since=since, until=until)
    assert sorted((r.conversation_id, r.stats.model, r.stats.parts) for r in found.records) == [
        (march, "a", 1),
        (march, "b", 2),
    ]
    assert {(r.created_at, r.title) for r in found.records} == {(NOON, "q")}
    assert found.skipped == 0
    everything = store.usage_records("alice")
    assert [r.stats.model for r in everything.records][-1] == "c"  # oldest first
    assert sorted(r.stats.model for r in everything.records) == ["a", "b", "c"]
    assert [r.stats.model for r in store.usage_records("bob").records] == ["secret"]
    assert store.usage_records("carol").records == []


def test_a_damaged_stats_row_is_skipped_and_counted(store: Store, database_url: str) -> None:
    kept = conversation_with(store, "alice", stats("a"))
    damaged = conversation_with(store, "alice", stats("b"), stats("b"))
    engine = sa.create_engine(database_url)
    table = sa.table(
        "messages", sa.column("conversation_id"), sa.column("role"), sa.column("stats", sa.JSON())
    )
    bad: dict[str, Any] = {"model": "b", "usage": {"prompt_tokens": "lots"}, "total_time": 1}
    with engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.conversation_id == damaged, table.c.role == "assistant")
            .values(stats=bad)
        )
    engine.dispose()
    found = store.usage_records("alice")
    assert [(r.conversation_id, r.stats.model) for r in found.records] == [(kept, "a")]
    assert found.skipped == 2


def test_mean_speeds_are_per_model_over_the_replies_whose_speed_is_known() -> None:
    found = usage.mean_speeds(
        [
            record(stats(completion=21, total=2.5, first_token=0.5)),  # 20 tokens in 2 s
            record(stats(completion=41, total=2.5, first_token=0.5)),  # 40 tokens in 2 s
            record(stats(first_token=None)),  # no first token: not told
            record(stats("local", completion=11, total=1.5, first_token=0.5)),
        ]
    )
    assert found == {"gpt-4o-mini": 15.0, "local": 10.0}
