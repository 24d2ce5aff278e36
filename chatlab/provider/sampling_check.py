"""The sampling check: does the server honour the sliders?

"Check this server" says what an endpoint supports; this says whether the sampling
parameters it accepts change anything. It is opt-in (a button of its own that says first
how many requests it sends): ``REQUESTS`` tiny requests, at most ``MAX_TOKENS`` tokens
each, not streamed, one at a time.

Three parts, so the judgement can be tested without a server:

- the probes, as data (``PROBES``): each one request's prompt and fields. Two take
  something from the first reply at temperature 0 (``greedy``): the stop probe a word
  of it to stop at (``stop_word``), the prefill probe its first half as a final
  assistant message to continue (``prefix_of``);
- the verdicts, a pure function of the recorded answers (``verdicts``): one ``Row`` per
  question, honoured / ignored / rejected / inconclusive / failed, with the evidence in
  words (the replies' first words, token counts);
- the runner (``check_sampling``), which sends the probes and records the ``Answer``s.

What a test can conclude is said honestly. Two equal replies prove nothing when every
reply is the same anyway (a model sure of its answer, or a server that samples greedily
whatever it is told), so such rows are "inconclusive", never "honoured"; a difference
proves nothing where temperature 0 does not repeat itself. "Rejected" means the server
refused the request with a 400 (or 422) that names the parameter; any other error is
"failed", with the server's words. A row whose request was never sent (the time ran out,
the visitor's rate was spent, an earlier reply gave nothing to build it from) is
"inconclusive" and says why.

The requests go out as "Check this server"'s do: through ``http_client`` (the SSRF
policy's guarded transport for a Base URL a visitor typed; from such a server only an
error object's message is read, ``server_said``), each held by ``admit`` (the visitor's
rate and the process's in-flight bound; over the rate, nothing more is sent) and each
under a ``Watch`` deadline a trickling server cannot stretch (8 s), no request started
after the check's budget (45 s). So it ends within a minute whatever the server does, and
runs on the script thread under a spinner, as "Check this server" does, with no Stop; a
slow CPU server may leave the last rows unsent ("the check's time ran out"), and they say so.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx2

from chatlab.config import OPENAI_BASE_URL, Endpoint
from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.provider.background import Admit
from chatlab.provider.server_check import once_more_if_closed, server_said, transport_problem
from chatlab.provider.servers import http_client
from chatlab.url_policy import openai_error_fields

__all__ = [
    "MAX_TOKENS",
    "PROBES",
    "REQUESTS",
    "Answer",
    "Probe",
    "Row",
    "SamplingReport",
    "Verdict",
    "check_sampling",
    "prefix_of",
    "report_key",
    "request_body",
    "stop_word",
    "verdicts",
]

Verdict = Literal["honoured", "ignored", "rejected", "inconclusive", "failed"]
Outcome = Literal["answered", "refused", "failed", "not sent"]

MAX_TOKENS = 16  # each reply's cap: a sentence's start is enough to compare
CAP = 3  # the max-tokens probe's cap, well under what its prompt asks for
PENALTY = 2.0  # the strongest penalty the API takes
SMALL_TOP_P = 0.01  # keeps the likeliest token only: greedy, whatever the temperature
_KEPT_CHARS = 4_000  # of a reply's text: far more than any verdict reads

OPEN = "Write one short sentence about a cat."
COUNT = "Count from 1 to 50, separated by commas."
REPEAT = "Repeat this word again and again: la la la la la la la la la la la la"


@dataclass(frozen=True)
class Probe:
    """One request: its prompt, the fields it sets, and what it takes from ``greedy``."""

    key: str
    label: str  # the request, as a row's evidence names it
    prompt: str
    fields: Mapping[str, Any]
    max_tokens: int = MAX_TOKENS
    derived: Literal["stop", "prefix"] | None = None


_GREEDY = {"temperature": 0}
_SEEDED = {"temperature": 1}
_LOGPROBS = {"logprobs": True, "top_logprobs": 2}
PROBES: tuple[Probe, ...] = (
    Probe("greedy", "the reply at temperature 0", OPEN, _GREEDY),
    Probe("greedy_again", "its repeat", OPEN, _GREEDY),
    Probe("seed_1", "the reply with seed 1", OPEN, {**_SEEDED, "seed": 1}),
    Probe("seed_1_again", "its repeat", OPEN, {**_SEEDED, "seed": 1}),
    Probe("seed_2", "the reply with seed 2", OPEN, {**_SEEDED, "seed": 2}),
    Probe("seed_3", "the reply with seed 3", OPEN, {**_SEEDED, "seed": 3}),
    Probe("top_p", "the reply at top_p", OPEN, {**_SEEDED, "top_p": SMALL_TOP_P}),
    Probe("top_p_again", "its repeat", OPEN, {**_SEEDED, "top_p": SMALL_TOP_P}),
    Probe("stop", "the reply with a stop", OPEN, _GREEDY, derived="stop"),
    Probe("cap", f"the reply capped at {CAP} tokens", COUNT, _GREEDY, max_tokens=CAP),
    Probe("logprobs", "the reply with logprobs", OPEN, {**_GREEDY, **_LOGPROBS}),
    Probe("repeat", "the reply without a penalty", REPEAT, _GREEDY),
    Probe("presence", "the reply with it", REPEAT, {**_GREEDY, "presence_penalty": PENALTY}),
    Probe("frequency", "the reply with it", REPEAT, {**_GREEDY, "frequency_penalty": PENALTY}),
    Probe("prefix", "the reply to a prefix", OPEN, _GREEDY, derived="prefix"),
)
REQUESTS = len(PROBES)
_LABELS = {probe.key: probe.label for probe in PROBES}


@dataclass(frozen=True)
class Answer:
    """What one probe got: the reply, or the refusal or failure in the server's words."""

    outcome: Outcome = "answered"
    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int | None = None
    logprobs: bool = False
    status: int = 200
    said: str = ""  # the server's words (or why there was no answer)
    param: str | None = None  # the refusal's ``error.param``


NOT_RUN = Answer("not sent", said="not run")


@dataclass(frozen=True)
class Row:
    """One question's verdict, the parameter it is about, and the evidence in words."""

    name: str
    param: str | None  # the ChatSettings parameter (None: not a sidebar control)
    verdict: Verdict
    evidence: str


@dataclass(frozen=True)
class SamplingReport:
    """What the sampling check found for one endpoint and model, and when."""

    base_url: str
    model: str
    rows: tuple[Row, ...]
    checked_at: datetime

    def notes(self) -> dict[str, str]:
        """A line for each parameter the server ignored or rejected, by parameter name."""
        found: dict[str, str] = {}
        day = f"{self.checked_at.day} {self.checked_at:%b %Y}"
        for row in self.rows:
            if row.param and row.param not in found and row.verdict in ("ignored", "rejected"):
                found[row.param] = (
                    f"This server {row.verdict} {row.param} in the sampling check ({day})."
                )
        return found


def report_key(endpoint: Endpoint, model: str) -> tuple[str, str]:
    """Which endpoint and model a report is about (the session keeps one per key)."""
    return (endpoint.base_url or OPENAI_BASE_URL).rstrip("/"), model


# -- the requests ----------------------------------------------------------------------------


def stop_word(text: str) -> str | None:
    """A word of ``text`` to stop at: not its first, and not said before it appears."""
    for match in re.finditer(r"[^\W\d_]{3,}", text):
        before = text[: match.start()]
        if before.strip() and match.group() not in before:
            return match.group()
    return None


def prefix_of(text: str) -> str | None:
    """The first half of ``text``'s words (None under four words): a reply to continue."""
    words = list(re.finditer(r"\S+", text))
    if len(words) < 4:
        return None
    return text[: words[len(words) // 2 - 1].end()]


def request_body(
    probe: Probe, model: str, answers: Mapping[str, Answer], extra: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The JSON body of ``probe``; None when the reply it builds on gave nothing to use.
    ``extra``: the fields the server needs to continue a final assistant message
    (``chatlab.provider.prefill.prefix_fields``), sent with the prefill probe only."""
    messages: list[dict[str, str]] = [{"role": "user", "content": probe.prompt}]
    body: dict[str, Any] = {"model": model, "max_tokens": probe.max_tokens, **probe.fields}
    greedy = answers.get("greedy", NOT_RUN)
    if probe.derived == "stop":
        word = stop_word(greedy.text) if greedy.outcome == "answered" else None
        if word is None:
            return None
        body["stop"] = [word]
    elif probe.derived == "prefix":
        prefix = prefix_of(greedy.text) if greedy.outcome == "answered" else None
        if prefix is None:
            return None
        messages.append({"role": "assistant", "content": prefix})
        body.update(extra)
    return {**body, "messages": messages, "stream": False}


# -- the verdicts ------------------------------------------------------------------------------


def verdicts(answers: Mapping[str, Answer]) -> tuple[Row, ...]:
    """One row per question, judged from the recorded answers alone (a missing one: not run)."""
    got = _Answers(answers)
    return (
        _temperature(got),
        _same_seed(got),
        _different_seeds(got),
        _top_p(got),
        _stop(got),
        _max_tokens(got),
        _logprobs(got),
        _penalty(got, "presence", "presence_penalty", "Presence penalty changes the reply"),
        _penalty(got, "frequency", "frequency_penalty", "Frequency penalty changes the reply"),
        _prefill(got),
    )


@dataclass(frozen=True)
class _Answers:
    recorded: Mapping[str, Answer]

    def __getitem__(self, key: str) -> Answer:
        return self.recorded.get(key, NOT_RUN)

    def texts(self, *keys: str) -> list[str]:
        return [self[key].text.strip() for key in keys]

    def greedy_repeats(self) -> bool:
        first, second = self.texts("greedy", "greedy_again")
        return first == second


@dataclass(frozen=True)
class _Judge:
    """Builds one row: the troubles first (a refusal naming ``names``, a failure, a probe
    not sent), then the verdict."""

    name: str
    param: str | None
    names: tuple[str, ...] = ()

    def trouble(self, got: _Answers, *keys: str) -> Row | None:
        for key in keys:
            answer, label = got[key], _LABELS.get(key, "a request")
            if answer.outcome == "not sent":
                return self.row("inconclusive", f"{label} was not sent: {answer.said}")
            if answer.outcome == "refused" and self._named(answer):
                return self.row("rejected", f"HTTP {answer.status}: {answer.said}")
            if answer.outcome != "answered":
                where = f"HTTP {answer.status}: " if answer.status != 200 else ""
                return self.row("failed", f"{label} failed: {where}{answer.said}")
        return None

    def _named(self, answer: Answer) -> bool:
        param = (answer.param or "").split("[", 1)[0].split(".", 1)[0]
        mentioned = any(re.search(rf"\b{re.escape(n)}\b", answer.said) for n in self.names)
        return param in self.names or mentioned

    def row(self, verdict: Verdict, evidence: str) -> Row:
        return Row(self.name, self.param, verdict, evidence)


_EMPTY = f"the replies were empty (a thinking model may spend all {MAX_TOKENS} tokens thinking)"
_NOT_REPEATABLE = "temperature 0 does not repeat itself here, so a difference proves nothing"


def _temperature(got: _Answers) -> Row:
    judge = _Judge("Temperature 0 repeats itself", "temperature", ("temperature",))
    trouble = judge.trouble(got, "greedy", "greedy_again")
    if trouble:
        return trouble
    first, second = got["greedy"], got["greedy_again"]
    if not first.text.strip() and not second.text.strip():
        return judge.row("inconclusive", _EMPTY)
    if got.greedy_repeats():
        return judge.row("honoured", f"the same reply twice: {_gist(first)}")
    return judge.row("ignored", f"two different replies: {_gist(first)} and {_gist(second)}")


_SEEDS = ("seed_1", "seed_1_again", "seed_2", "seed_3")


def _same_seed(got: _Answers) -> Row:
    judge = _Judge("The same seed repeats (temperature 1)", "seed", ("seed",))
    trouble = judge.trouble(got, *_SEEDS)
    if trouble:
        return trouble
    texts = got.texts(*_SEEDS)
    first, again = got["seed_1"], got["seed_1_again"]
    if not any(texts):
        return judge.row("inconclusive", _EMPTY)
    if texts[0] != texts[1]:
        return judge.row("ignored", f"seed 1 twice gave {_gist(first)} and {_gist(again)}")
    if len(set(texts)) == 1:
        return judge.row("inconclusive", _ALL_SAME)
    return judge.row("honoured", f"seed 1 twice gave {_gist(first)}; other seeds differ")


_ALL_SAME = (
    "seeds 1, 2 and 3 at temperature 1 all gave the same reply: the model is sure of it, "
    "or the server samples greedily, so the seed's effect cannot be seen"
)


def _different_seeds(got: _Answers) -> Row:
    judge = _Judge("Different seeds differ", "seed", ("seed",))
    trouble = judge.trouble(got, *_SEEDS)
    if trouble:
        return trouble
    texts = got.texts(*_SEEDS)
    if not any(texts):
        return judge.row("inconclusive", _EMPTY)
    if texts[0] != texts[1]:
        return judge.row(
            "inconclusive", "replies vary even with one seed, so seeds differing proves nothing"
        )
    distinct = len({texts[0], texts[2], texts[3]})
    if distinct == 1:
        return judge.row("inconclusive", _ALL_SAME)
    gists = ", ".join(_gist(got[key]) for key in ("seed_1", "seed_2", "seed_3"))
    return judge.row("honoured", f"{distinct} different replies from 3 seeds: {gists}")


def _top_p(got: _Answers) -> Row:
    judge = _Judge(f"top_p {SMALL_TOP_P} is greedy (temperature 1)", "top_p", ("top_p",))
    trouble = judge.trouble(got, "greedy", "greedy_again", "top_p", "top_p_again")
    if trouble:
        return trouble
    greedy, narrow = got.texts("greedy", "top_p")
    if not greedy and not narrow:
        return judge.row("inconclusive", _EMPTY)
    if not got.greedy_repeats():
        return judge.row("inconclusive", _NOT_REPEATABLE)
    if got.texts("top_p", "top_p_again") != [greedy, greedy]:
        other = got["top_p"] if narrow != greedy else got["top_p_again"]
        evidence = (
            f"at top_p {SMALL_TOP_P}: {_gist(other)}; at temperature 0: {_gist(got['greedy'])}"
        )
        return judge.row("ignored", evidence)
    sampled = [got[key].text.strip() for key in _SEEDS if got[key].outcome == "answered"]
    if all(text == greedy for text in sampled):  # (none: nothing to tell them apart by)
        return judge.row(
            "inconclusive", "temperature 1 gave the greedy reply anyway, with top_p or without"
        )
    return judge.row("honoured", f"twice the reply at temperature 0: {_gist(got['greedy'])}")


def _stop(got: _Answers) -> Row:
    judge = _Judge("A stop sequence ends the reply", "stop", ("stop",))
    trouble = judge.trouble(got, "greedy")
    word = stop_word(got["greedy"].text)
    if trouble:
        return trouble
    if word is None:
        return judge.row("inconclusive", "the reply at temperature 0 had no word to stop at")
    trouble = judge.trouble(got, "stop")
    if trouble:
        return trouble
    reply, plain_reply = got["stop"], got["greedy"]
    if word in reply.text:
        return judge.row("ignored", f"asked to stop at {word!r}, it went on: {_gist(reply)}")
    if len(reply.text.strip()) < len(plain_reply.text.strip()):
        return judge.row(
            "honoured", f"ended before {word!r}: {_gist(reply)}; without: {_gist(plain_reply)}"
        )
    return judge.row("inconclusive", f"no {word!r}, but no shorter either: {_gist(reply)}")


def _max_tokens(got: _Answers) -> Row:
    judge = _Judge("Max tokens is respected", "max_tokens", ("max_tokens",))
    trouble = judge.trouble(got, "cap")
    if trouble:
        return trouble
    reply = got["cap"]
    tokens, finish = reply.completion_tokens, reply.finish_reason
    counted = "no token count" if tokens is None else f"{tokens} completion tokens"
    evidence = f"cap {CAP}: {counted}, finish reason {finish or 'none'}: {_gist(reply)}"
    if tokens is not None and tokens > CAP:
        return judge.row("ignored", evidence)
    if finish == "length":
        return judge.row("honoured", evidence)
    return judge.row("inconclusive", f"{evidence} (the reply may have ended by itself)")


def _logprobs(got: _Answers) -> Row:
    judge = _Judge("Logprobs come back", "logprobs", ("logprobs", "top_logprobs"))
    trouble = judge.trouble(got, "logprobs")
    if trouble:
        return trouble
    if got["logprobs"].logprobs:
        return judge.row("honoured", "token log-probabilities came with the reply")
    return judge.row("ignored", "accepted, but the reply carried no log-probabilities")


def _penalty(got: _Answers, key: str, param: str, name: str) -> Row:
    judge = _Judge(name, param, (param,))
    trouble = judge.trouble(got, "greedy", "greedy_again", "repeat", key)
    if trouble:
        return trouble
    plain_reply, penalised = got["repeat"], got[key]
    if not plain_reply.text.strip() and not penalised.text.strip():
        return judge.row("inconclusive", _EMPTY)
    evidence = f"at {PENALTY:g}: {_gist(penalised)}; at 0: {_gist(plain_reply)}"
    if penalised.text.strip() != plain_reply.text.strip():
        if not got.greedy_repeats():
            return judge.row("inconclusive", _NOT_REPEATABLE)
        return judge.row("honoured", _parting(penalised.text, plain_reply.text))
    words = _words(plain_reply.text)
    if len(words) == len(set(words)):
        return judge.row("inconclusive", f"{evidence}: no word repeated, nothing to penalise")
    return judge.row("ignored", f"the same repetitive reply {evidence}")


_PREFILL_WORDS = ("assistant", "continue_final_message", "add_generation_prompt", "prefill")


def _prefill(got: _Answers) -> Row:
    judge = _Judge("A final assistant message is continued", None, _PREFILL_WORDS)
    trouble = judge.trouble(got, "greedy")
    prefix = prefix_of(got["greedy"].text)
    if trouble:
        return trouble
    if prefix is None:
        return judge.row("inconclusive", "the reply at temperature 0 was too short to cut")
    trouble = judge.trouble(got, "prefix")
    if trouble:
        return trouble
    start, went_on, whole = _words(prefix), _words(got["prefix"].text), _words(got["greedy"].text)
    reply = _gist(got["prefix"])
    if not went_on:
        return judge.row("inconclusive", _EMPTY)
    if went_on[:2] == start[:2]:
        return judge.row("ignored", f"answered anew: {reply}, as if no prefix were there")
    if whole[len(start) : len(start) + 1] == went_on[:1]:
        return judge.row("honoured", f"went on from “…{_tail(prefix)}”: {reply}")
    return judge.row("inconclusive", f"neither began again nor went on as before: {reply}")


# -- words -------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _gist(answer: Answer, most: int = 6) -> str:
    """A reply's first words in quotes, and its token count when the server said it."""
    words = answer.text.split()
    text = " ".join(words[:most]) + ("…" if len(words) > most else "")
    tokens = "" if answer.completion_tokens is None else f" ({answer.completion_tokens} tokens)"
    return f"“{text}”{tokens}" if text else f"an empty reply{tokens}"


def _parting(penalised: str, plain_reply: str) -> str:
    """Where the reply at the penalty parts from the one without: a few words of each."""
    mine, theirs = penalised.split(), plain_reply.split()
    at = next(
        (i for i, pair in enumerate(zip(mine, theirs, strict=False)) if len(set(pair)) > 1), None
    )
    at = min(len(mine), len(theirs)) if at is None else at
    start = max(at - 2, 0)
    lead = "…" if start else ""

    def words(found: list[str]) -> str:
        return " ".join(found[start : at + 3]) or "nothing more"

    return (
        f"at {PENALTY:g} from word {at + 1}: “{lead}{words(mine)}…”; at 0: “{lead}{words(theirs)}…”"
    )


def _tail(text: str, most: int = 3) -> str:
    return " ".join(text.split()[-most:])


# -- the runner ----------------------------------------------------------------------------------


def check_sampling(
    endpoint: Endpoint,
    model: str,
    *,
    prefix_fields: Mapping[str, Any] | None = None,
    timeout: float = 8.0,
    budget: float = 45.0,
    clock: Callable[[], float] = time.monotonic,
    admit: Admit | None = None,
    probes: Sequence[Probe] = PROBES,
) -> SamplingReport:
    """Send ``probes`` to ``endpoint`` for ``model``, one at a time, and judge the answers.

    Never raises for what a server does: a refusal, a failure or an unsent request is in
    its row. ``prefix_fields``: what the prefill probe needs on this server's kind.
    """
    base_url, _ = report_key(endpoint, model)
    limits = httpx2.Timeout(timeout, connect=min(timeout, 3.0))
    answers: dict[str, Answer] = {}
    with http_client(endpoint.api_key, limits, policy=endpoint.policy, base_url=base_url) as client:
        url, typed = f"{base_url}/chat/completions", endpoint.policy is not None
        sender = _Sender(client, url, typed, timeout=timeout, admit=admit)
        deadline, halted = clock() + budget, ""
        for probe in probes:
            body = request_body(probe, model, answers, prefix_fields or {})
            if halted or clock() > deadline or body is None:
                why = halted or ("the check's time ran out" if body else "nothing to build it on")
                answers[probe.key] = Answer("not sent", said=why)
                continue
            answers[probe.key] = answer = sender.send(body)
            if answer.outcome == "not sent":  # the gate refused: nothing more is sent
                halted = answer.said
    return SamplingReport(base_url, model, verdicts(answers), datetime.now(UTC))


@dataclass
class _Sender:
    client: httpx2.Client
    url: str
    typed: bool  # a Base URL a visitor typed: only an error object's message is read
    timeout: float = 8.0
    admit: Admit | None = None
    _never: threading.Event = field(default_factory=threading.Event)  # nothing cancels it

    def send(self, body: dict[str, Any]) -> Answer:
        """One request under its own deadline; what came back, as an ``Answer``."""
        watch = Watch()
        watch.start(self.timeout, self.timeout)
        held = self.admit(self._never) if self.admit else contextlib.nullcontext()
        try:
            with held, watch.active():
                response = once_more_if_closed(lambda: self.client.post(self.url, json=body))
        except ChatError as err:  # the gate, or a typed Base URL the policy refuses
            return Answer("not sent" if err.kind == Kind.RATE_LIMIT else "failed", said=err.message)
        except httpx2.HTTPError as exc:
            return Answer("failed", status=0, said=transport_problem(exc))
        return _read_answer(response, typed=self.typed)


def _read_answer(response: httpx2.Response, *, typed: bool) -> Answer:
    """A chat completion's text, finish reason, token count and logprobs; or the refusal."""
    status = response.status_code
    if status != 200:
        error = openai_error_fields(response.content) or {}
        param = error.get("param")
        outcome: Outcome = "refused" if status in (400, 422) else "failed"
        said = server_said(response, typed=typed)
        return Answer(outcome, status=status, said=said, param=str(param) if param else None)
    try:
        payload = response.json()
        choice = payload["choices"][0]
        content = choice["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Answer("failed", said="the answer is not a chat completion")
    usage = payload.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    logprobs = choice.get("logprobs")
    finish = choice.get("finish_reason")
    counted = isinstance(tokens, int) and not isinstance(tokens, bool)
    return Answer(
        text=content[:_KEPT_CHARS] if isinstance(content, str) else "",
        finish_reason=finish if isinstance(finish, str) else None,
        completion_tokens=tokens if counted else None,
        logprobs=isinstance(logprobs, dict) and bool(logprobs.get("content")),
    )
