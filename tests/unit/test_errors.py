import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from chatlab.dialects import server_count
from chatlab.errors import ChatError, ChatLabError, Kind
from chatlab.server_errors import empty_reply, reply_too_long, retry_after_seconds, to_chat_error


def test_retry_after_seconds_forms() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31


def test_malformed_json_is_explained() -> None:
    err = to_chat_error(json.JSONDecodeError("bad", "{x", 1))
    assert err.kind == Kind.MALFORMED and "JSON" in err.message


def test_unknown_exception_is_explained_without_its_text() -> None:
    err = to_chat_error(RuntimeError("internal path /secret"))
    assert err.kind == Kind.UNKNOWN and "/secret" not in str(err)


def test_fixed_errors_have_actions() -> None:
    assert empty_reply().kind == Kind.EMPTY


ABSURD: list[object] = [-1, 1.5, 10**9, float("inf"), float("nan"), True, "12", None, []]
PLAUSIBLE: list[tuple[object, int | None]] = [(0, 0), (12, 12), (12.0, 12), (10**8, 10**8)]


@pytest.mark.parametrize(("value", "expected"), PLAUSIBLE + [(v, None) for v in ABSURD])
def test_server_counts_are_plausible_whole_numbers_or_unknown(
    value: object, expected: object
) -> None:
    assert server_count(value) == expected


def test_chat_errors_are_chatlab_errors_that_read_as_words() -> None:
    err = reply_too_long(5000)
    assert isinstance(err, ChatError) and isinstance(err, ChatLabError)
    assert str(err) == f"{err.message} {err.action}" and "5,000" in str(err)
    assert not err.retryable
