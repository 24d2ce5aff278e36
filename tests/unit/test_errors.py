import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from chatlab.errors import Kind, empty_reply, missing_key, retry_after_seconds, to_chat_error


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
    assert "sidebar" in missing_key().action and not missing_key().retryable
    assert empty_reply().kind == Kind.EMPTY
