"""Token probabilities: what a server sent with ``logprobs``, and the arithmetic on them.

A server asked for ``logprobs`` / ``top_logprobs`` sends, with each streamed token, its
natural-log probability and up to 20 likelier-or-not alternatives. ``token_logprob``
checks one such entry at the boundary (a compatible server can send anything); the rest
is plain math: the mean log-probability, perplexity (exp of minus the mean), and the
alternatives re-weighted at another temperature.

Re-weighting is an approximation: softmax(logprob / T) over the top-k alternatives only,
as if the rest of the vocabulary had no mass. It shows the direction and rough size of
temperature's effect, not the exact distribution the server samples from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_TOP_LOGPROBS = 20  # OpenAI's limit on ``top_logprobs``
MAX_TOKEN_CHARS = 200  # a token longer than this is not one
MAX_TOKENS = 100_000  # tokens recorded per reply; beyond this the rest are dropped
REWEIGHT_TEMPERATURES = (0.3, 0.7, 1.0, 1.5)
MAX_EXPONENT = 700.0  # math.exp overflows a float just above 709
NO_LOGPROBS = (
    "This server sent no token probabilities for this reply: the Probabilities setting "
    "has no effect with this model."
)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability, and the top alternatives the server sent."""

    token: str
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()

    @property
    def probability(self) -> float:
        """exp(logprob), from 0 to 1."""
        return math.exp(self.logprob)


def _get(obj: object, name: str) -> object:
    """``obj.name`` or ``obj[name]``: the SDK leaves shapes it cannot build as dicts."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def valid_logprob(value: object) -> float | None:
    """A finite number ≤ 0 as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value <= 0 else None


def _token_text(value: object) -> str | None:
    """A token's text (lone surrogates, which cannot be stored, replaced), or None."""
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
        return None
    return _SURROGATE.sub("\ufffd", value)


def token_logprob(entry: object) -> TokenLogprob | None:
    """One ``logprobs.content`` entry, or None when its token or logprob is implausible.

    Implausible alternatives are left out; at most ``MAX_TOP_LOGPROBS`` are kept.
    """
    token = _token_text(_get(entry, "token"))
    logprob = valid_logprob(_get(entry, "logprob"))
    if token is None or logprob is None:
        return None
    listed = _get(entry, "top_logprobs")
    alternatives: list[tuple[str, float]] = []
    for item in listed[:MAX_TOP_LOGPROBS] if isinstance(listed, list) else []:
        alt_token = _token_text(_get(item, "token"))
        alt_logprob = valid_logprob(_get(item, "logprob"))
        if alt_token is not None and alt_logprob is not None:
            alternatives.append((alt_token, alt_logprob))
    return TokenLogprob(token, logprob, tuple(alternatives))


def mean_logprob(tokens: Sequence[TokenLogprob]) -> float | None:
    """The mean log-probability of the tokens, or None when there are none."""
    if not tokens:
        return None
    return sum(t.logprob for t in tokens) / len(tokens)


def perplexity(mean: float | None) -> float | None:
    """exp(-mean log-probability): 1 is certain, higher is more surprised."""
    # Capped where exp overflows: a mean below -700 is "astronomically surprised" anyway.
    return None if mean is None else math.exp(min(-mean, MAX_EXPONENT))


def summary(mean: float) -> str:
    """``mean logprob -0.42 · perplexity 1.52`` (true minus signs), as telemetry shows it."""
    text = f"mean logprob {mean:.2f} · perplexity {perplexity(mean):.2f}"
    return text.replace("-", "\u2212")


def reweighted(alternatives: Sequence[tuple[str, float]], temperature: float) -> list[float]:
    """Softmax of logprob / temperature over the alternatives (top-k only: an approximation)."""
    if not alternatives:
        return []
    if temperature <= 0:  # greedy: all the weight on the likeliest
        best = max(range(len(alternatives)), key=lambda i: alternatives[i][1])
        return [1.0 if i == best else 0.0 for i in range(len(alternatives))]
    scaled = [logprob / temperature for _, logprob in alternatives]
    top = max(scaled)
    weights = [math.exp(value - top) for value in scaled]  # shifted: no overflow
    total = sum(weights)
    return [weight / total for weight in weights]


def reweighting_rows(
    token: TokenLogprob, temperatures: Sequence[float] = REWEIGHT_TEMPERATURES
) -> list[dict[str, str | float]]:
    """A token's alternatives re-weighted at each temperature, one row per (T, alternative)."""
    rows: list[dict[str, str | float]] = []
    for temperature in temperatures:
        weights = reweighted(token.alternatives, temperature)
        for (alternative, _), weight in zip(token.alternatives, weights, strict=True):
            rows.append(
                {"temperature": temperature, "token": visible(alternative), "probability": weight}
            )
    return rows


_SHOWN_AS = {" ": "␣", "\n": "↵", "\t": "⇥"}


def visible(token: str) -> str:
    """A token with its spaces, newlines and tabs drawn (``" you"`` -> ``"␣you"``)."""
    return "".join(_SHOWN_AS.get(char, char) for char in token) or "∅"


def logprobs_json(tokens: Sequence[TokenLogprob]) -> list[list[object]] | None:
    """Tokens as stored, compactly: ``[token, logprob, [[alternative, logprob], ...]]`` each."""
    if not tokens:
        return None
    return [[t.token, t.logprob, [list(alt) for alt in t.alternatives]] for t in tokens]


def logprobs_from(data: object) -> tuple[TokenLogprob, ...]:
    """Stored tokens read back, each checked as at the stream's boundary; bad ones left out."""
    if not isinstance(data, list):
        return ()
    found = (token_logprob(_as_entry(item)) for item in data[:MAX_TOKENS])
    return tuple(token for token in found if token is not None)


def _as_entry(item: object) -> dict[str, object] | None:
    """A stored ``[token, logprob, alternatives]`` in the wire's shape."""
    if not isinstance(item, list) or len(item) != 3 or not isinstance(item[2], list):
        return None
    alternatives = [
        {"token": alt[0], "logprob": alt[1]}
        for alt in item[2]
        if isinstance(alt, list) and len(alt) == 2
    ]
    return {"token": item[0], "logprob": item[1], "top_logprobs": alternatives}
