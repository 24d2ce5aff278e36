"""The sampling check: its verdicts from recorded answers, and its runner against the fake."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chatlab.config import Endpoint
from chatlab.guard.limits import rate_limited
from chatlab.provider import prefix_fields
from chatlab.provider.sampling_check import (
    CAP,
    MAX_TOKENS,
    PROBES,
    REQUESTS,
    Answer,
    Row,
    SamplingReport,
    check_sampling,
    prefix_of,
    request_body,
    stop_word,
    verdicts,
)
from chatlab.url_policy import UrlPolicy
from testing.fake_openai import Dialect, FakeOpenAI, Reply, Sampler
from testing.internal_service import InternalService

GREEDY = "Whiskers the cat sat on the warm mat."
TEMPERATURE = "Temperature 0 repeats itself"
SAME_SEED = "The same seed repeats (temperature 1)"
SEEDS_DIFFER = "Different seeds differ"
TOP_P = "top_p 0.01 is greedy (temperature 1)"
STOP = "A stop sequence ends the reply"
MAX = "Max tokens is respected"
LOGPROBS = "Logprobs come back"
PRESENCE = "Presence penalty changes the reply"
FREQUENCY = "Frequency penalty changes the reply"
PREFILL = "A final assistant message is continued"


def said(
    text: str, tokens: int | None = None, finish: str = "stop", logprobs: bool = False
) -> Answer:
    return Answer(text=text, completion_tokens=tokens, finish_reason=finish, logprobs=logprobs)


def refused(param: str | None, message: str, status: int = 400) -> Answer:
    return Answer("refused", status=status, said=message, param=param)


def honest() -> dict[str, Answer]:
    """What a server that honours everything answers (a model that varies at temperature 1)."""
    return {
        "greedy": said(GREEDY, 9),
        "greedy_again": said(GREEDY, 9),
        "seed_1": said("A tabby naps in the sun."),
        "seed_1_again": said("A tabby naps in the sun."),
        "seed_2": said("Cats purr when content."),
        "seed_3": said("The kitten chased a moth."),
        "top_p": said(GREEDY),
        "top_p_again": said(GREEDY),
        "stop": said("Whiskers "),  # stopped before "the"
        "cap": said("1, 2,", tokens=CAP, finish="length"),
        "logprobs": said(GREEDY, logprobs=True),
        "repeat": said("la la la la la la"),
        "presence": said("la and then something new"),
        "frequency": said("la la, then other words"),
        "prefix": said(" on the warm mat."),  # after "Whiskers the cat sat"
    }


def judged(changes: dict[str, Answer]) -> dict[str, Row]:
    return {row.name: row for row in verdicts({**honest(), **changes})}


def test_a_server_that_honours_everything_gets_every_row_honoured() -> None:
    rows = verdicts(honest())
    assert [row.verdict for row in rows] == ["honoured"] * len(rows)
    assert {row.name for row in rows} == {
        TEMPERATURE,
        SAME_SEED,
        SEEDS_DIFFER,
        TOP_P,
        STOP,
        MAX,
        LOGPROBS,
        PRESENCE,
        FREQUENCY,
        PREFILL,
    }
    by_name = {row.name: row for row in rows}
    assert "“Whiskers the cat sat on the…” (9 tokens)" in by_name[TEMPERATURE].evidence
    assert "ended before 'the'" in by_name[STOP].evidence
    assert f"cap {CAP}: {CAP} completion tokens, finish reason length" in by_name[MAX].evidence
    assert "from word 2" in by_name[PRESENCE].evidence  # where the replies part


OTHER = said("Something else entirely, every time.")
EMPTY = said("")


@pytest.mark.parametrize(
    ("row", "changes", "verdict", "evidence"),
    [
        (TEMPERATURE, {"greedy_again": OTHER}, "ignored", "two different replies"),
        (
            TEMPERATURE,
            {"greedy": refused("temperature", "Unsupported value: 'temperature'")},
            "rejected",
            "HTTP 400: Unsupported value: 'temperature'",
        ),
        (TEMPERATURE, {"greedy": EMPTY, "greedy_again": EMPTY}, "inconclusive", "empty"),
        (
            TEMPERATURE,
            {"greedy": Answer("failed", status=500, said="CUDA out of memory")},
            "failed",
            "failed: HTTP 500: CUDA out of memory",
        ),
        (
            TEMPERATURE,
            {"greedy": Answer("not sent", said="the check's time ran out")},
            "inconclusive",
            "was not sent: the check's time ran out",
        ),
        (SAME_SEED, {"seed_1_again": OTHER}, "ignored", "seed 1 twice gave"),
        (SEEDS_DIFFER, {"seed_1_again": OTHER}, "inconclusive", "vary even with one seed"),
        (
            SAME_SEED,
            {
                "seed_2": said("A tabby naps in the sun."),
                "seed_3": said("A tabby naps in the sun."),
            },
            "inconclusive",
            "all gave the same reply",
        ),
        (
            SEEDS_DIFFER,
            {
                "seed_2": said("A tabby naps in the sun."),
                "seed_3": said("A tabby naps in the sun."),
            },
            "inconclusive",
            "all gave the same reply",
        ),
        (
            SEEDS_DIFFER,
            {"seed_2": refused("seed", "Unsupported parameter: 'seed'")},
            "rejected",
            "'seed'",
        ),
        (TOP_P, {"top_p_again": OTHER}, "ignored", "at top_p 0.01"),
        (
            TOP_P,
            {key: said(GREEDY) for key in ("seed_1", "seed_1_again", "seed_2", "seed_3")},
            "inconclusive",
            "greedy reply anyway",
        ),
        (TOP_P, {"greedy_again": OTHER}, "inconclusive", "does not repeat itself"),
        (STOP, {"stop": said(GREEDY)}, "ignored", "asked to stop at 'the', it went on"),
        (STOP, {"greedy": said("OK."), "greedy_again": said("OK.")}, "inconclusive", "no word"),
        (STOP, {"stop": refused("stop[0]", "bad stop")}, "rejected", "bad stop"),
        (MAX, {"cap": said("1, 2, 3, 4, 5", tokens=40)}, "ignored", "40 completion tokens"),
        (MAX, {"cap": said("1", tokens=1)}, "inconclusive", "ended by itself"),
        (MAX, {"cap": said("1, 2, 3, 4, 5")}, "inconclusive", "no token count"),
        (
            MAX,
            {"cap": refused(None, "Unsupported parameter: 'max_tokens'")},
            "rejected",
            "'max_tokens'",
        ),
        (LOGPROBS, {"logprobs": said(GREEDY)}, "ignored", "no log-probabilities"),
        (LOGPROBS, {"logprobs": refused("logprobs", "no")}, "rejected", "HTTP 400: no"),
        (PRESENCE, {"presence": said("la la la la la la")}, "ignored", "same repetitive reply"),
        (
            FREQUENCY,
            {"repeat": said("one two three"), "frequency": said("one two three")},
            "inconclusive",
            "nothing to penalise",
        ),
        (PRESENCE, {"greedy_again": OTHER}, "inconclusive", "does not repeat itself"),
        (
            PRESENCE,
            {"presence": refused("logit_bias", "a 400 about something else")},
            "failed",
            "a 400 about something else",
        ),
        (PREFILL, {"prefix": said(GREEDY)}, "ignored", "answered anew"),
        (PREFILL, {"prefix": said("Dogs bark loudly.")}, "inconclusive", "neither"),
        (
            PREFILL,
            {"prefix": refused(None, "the last message must be from the user, not assistant")},
            "rejected",
            "must be from the user",
        ),
        (PREFILL, {"greedy": said("Short."), "greedy_again": said("Short.")}, "inconclusive", ""),
    ],
)
def test_each_row_judges_what_was_recorded(
    row: str, changes: dict[str, Answer], verdict: str, evidence: str
) -> None:
    found = judged(changes)[row]
    assert (found.verdict, evidence in found.evidence) == (verdict, True), found


def test_a_missing_answer_is_not_run_never_honoured() -> None:
    rows = verdicts({})
    assert {row.verdict for row in rows} == {"inconclusive"}


def test_the_notes_name_each_parameter_ignored_or_rejected_once_with_the_day() -> None:
    rows = verdicts(
        {
            **honest(),
            "seed_1_again": OTHER,
            "logprobs": refused("logprobs", "no"),
        }
    )
    report = SamplingReport("http://x/v1", "m", rows, datetime(2026, 12, 5, 2, 30, tzinfo=UTC))
    assert report.notes() == {
        "seed": "This server ignored seed in the sampling check (5 Dec 2026).",
        "logprobs": "This server rejected logprobs in the sampling check (5 Dec 2026).",
    }


def test_the_stop_word_and_the_prefix_come_from_the_greedy_reply() -> None:
    assert stop_word(GREEDY) == "the"
    assert stop_word("cat cat cat") is None  # every later word was said before
    assert stop_word("OK.") is None
    assert prefix_of(GREEDY) == "Whiskers the cat sat"
    assert prefix_of("Too short here.") is None
    answers = {"greedy": said(GREEDY)}
    stop, prefix = (next(p for p in PROBES if p.key == key) for key in ("stop", "prefix"))
    assert request_body(stop, "m", answers, {})["stop"] == ["the"]  # type: ignore[index]
    flags = {"continue_final_message": True}
    body = request_body(prefix, "m", answers, flags)
    assert body is not None and body["continue_final_message"] is True
    assert body["messages"][-1] == {"role": "assistant", "content": "Whiskers the cat sat"}
    assert request_body(stop, "m", {"greedy": said("OK.")}, {}) is None


def test_every_probe_is_tiny_and_not_streamed() -> None:
    assert len(PROBES) == REQUESTS == len({p.key for p in PROBES})
    for probe in PROBES:
        body = request_body(probe, "m", {"greedy": said(GREEDY)}, {})
        assert body is not None
        assert body["max_tokens"] <= MAX_TOKENS and body["stream"] is False


# -- the runner, against the fake over HTTP ---------------------------------------------------


def run(fake: FakeOpenAI, **kwargs: object) -> dict[str, Row]:
    endpoint = Endpoint(None, fake.base_url, "sidebar")
    options: dict[str, object] = {"timeout": 2.0, **kwargs}
    report = check_sampling(endpoint, "gpt-4o-mini", **options)  # type: ignore[arg-type]
    return {row.name: row for row in report.rows}


def test_the_fake_that_honours_everything_is_found_to(fake: FakeOpenAI) -> None:
    fake.sampler = Sampler()
    fake.dialect = Dialect(name="llamacpp")  # it continues a final assistant message
    rows = run(fake)
    assert {name: row.verdict for name, row in rows.items()} == dict.fromkeys(rows, "honoured")
    sent = fake.chat_requests
    assert len(sent) == REQUESTS
    assert all(r.body["max_tokens"] <= MAX_TOKENS and not r.body["stream"] for r in sent)


@pytest.mark.parametrize(("flags", "verdict"), [(True, "honoured"), (False, "ignored")])
def test_vllm_continues_a_prefix_only_with_its_flags(
    fake: FakeOpenAI, flags: bool, verdict: str
) -> None:
    fake.sampler = Sampler()
    fake.dialect = Dialect(name="vllm")
    rows = run(fake, prefix_fields=prefix_fields("vLLM") if flags else {})
    assert rows[PREFILL].verdict == verdict
    (sent,) = [r.body for r in fake.chat_requests if r.body["messages"][-1]["role"] == "assistant"]
    assert ("continue_final_message" in sent) == flags  # the flags go with that probe alone
    others = [r.body for r in fake.chat_requests if r.body is not sent]
    assert not any("continue_final_message" in body for body in others)


def test_a_fake_that_ignores_the_parameters_is_found_out(fake: FakeOpenAI) -> None:
    fake.sampler = Sampler(ignores=frozenset({"seed", "top_p", "stop", "penalties", "max_tokens"}))
    rows = run(fake)
    for name in (SAME_SEED, TOP_P, STOP, MAX, PRESENCE, FREQUENCY, PREFILL):
        assert rows[name].verdict == "ignored", rows[name]
    assert rows[SEEDS_DIFFER].verdict == "inconclusive"
    assert rows[TEMPERATURE].verdict == rows[LOGPROBS].verdict == "honoured"


def test_a_refused_parameter_is_rejected_and_the_rest_still_judged(fake: FakeOpenAI) -> None:
    fake.sampler = Sampler()
    fake.reject_params = {"seed", "logprobs"}
    rows = run(fake)
    assert rows[SAME_SEED].verdict == rows[SEEDS_DIFFER].verdict == "rejected"
    assert "'seed' is not supported" in rows[SAME_SEED].evidence
    assert rows[LOGPROBS].verdict == "rejected"
    assert rows[STOP].verdict == rows[MAX].verdict == "honoured"


def test_a_server_error_mid_check_fails_that_row_in_the_servers_words(fake: FakeOpenAI) -> None:
    fake.sampler = Sampler()
    fake.enqueue(Reply(status=500, error={"message": "llama_decode failed"}))  # the first
    rows = run(fake)
    assert rows[TEMPERATURE].verdict == "failed"
    assert "HTTP 500: llama_decode failed" in rows[TEMPERATURE].evidence
    assert rows[STOP].verdict == "failed"  # its stop word was to come from that reply
    assert rows[MAX].verdict == rows[SAME_SEED].verdict == "honoured"  # the rest went on


def test_a_hanging_server_costs_one_deadline_per_request(fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(fault="hang"))
    rows = run(fake, timeout=0.3)
    assert rows[TEMPERATURE].verdict == "failed"
    assert "no answer in time" in rows[TEMPERATURE].evidence
    fake.release()


def test_over_the_rate_nothing_more_is_sent(fake: FakeOpenAI) -> None:
    taken = itertools.count()

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        if next(taken) >= 3:
            raise rate_limited(60, 30.0)
        yield

    rows = run(fake, admit=lambda _cancelled: hold())
    assert len(fake.chat_requests) == 3
    assert rows[MAX].verdict == "inconclusive"
    assert "was not sent: You have sent 60 requests" in rows[MAX].evidence


def test_out_of_time_the_rest_is_not_sent(fake: FakeOpenAI) -> None:
    ticks = itertools.count(step=10.0)
    rows = run(fake, budget=25.0, clock=lambda: next(ticks))
    assert 1 <= len(fake.chat_requests) < REQUESTS
    assert "the check's time ran out" in rows[PREFILL].evidence


def test_a_typed_base_url_the_policy_refuses_is_never_reached(fake: FakeOpenAI) -> None:
    visitors = UrlPolicy(allow_custom=True)  # a shared app: no private addresses
    report = check_sampling(Endpoint(None, fake.base_url, "sidebar", visitors), "m", timeout=2)
    assert fake.chat_requests == []
    assert {row.verdict for row in report.rows} <= {"failed", "inconclusive"}
    assert "failed" in {row.verdict for row in report.rows}


@pytest.mark.parametrize(
    "answer", [(400, "text/plain", "bad: {secret}"), (500, "application/json", '{"x": "{secret}"}')]
)
def test_a_typed_urls_error_bodies_never_show_in_the_rows(answer: tuple[int, str, str]) -> None:
    with InternalService() as internal:
        internal.answers[("POST", "/v1/chat/completions")] = answer
        local = UrlPolicy(allow_custom=True, local=True)
        endpoint = Endpoint(None, internal.base_url, "sidebar", local)
        report = check_sampling(endpoint, "m", timeout=2)
    shown = " ".join(row.evidence for row in report.rows)
    assert internal.secret not in shown
    assert f"HTTP {answer[0]}" in shown and "not an OpenAI-compatible server" in shown


def test_the_fake_sampler_knows_its_parameters() -> None:
    with pytest.raises(ValueError, match="seeds"):
        Sampler(ignores=frozenset({"seeds"}))
    both = Sampler(ignores=frozenset({"penalties"})).ignores
    assert both == {"presence_penalty", "frequency_penalty"}
