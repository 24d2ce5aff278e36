"""How varied a set of samples is: distinct n-grams and mean pairwise similarity.

Both are computed over lower-cased words (runs of letters and digits), so punctuation
and capitals do not count as variety. ``distinct_n`` is the share of n-grams across all
samples that are unique (Li et al., 2016, "A Diversity-Promoting Objective"): 1.0 when
no n-gram repeats, lower as the samples say the same things. ``mean_similarity`` is the
mean Jaccard overlap of the samples' word-bigram sets over every pair: 1.0 for identical
samples, 0.0 when no two share a bigram. Higher temperature should raise the first and
lower the second.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Diversity:
    """The variety of one setting's samples (None where too few words or samples)."""

    distinct_1: float | None
    distinct_2: float | None
    mean_similarity: float | None


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``."""
    return _WORD.findall(text.casefold())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Consecutive ``n``-word runs of ``tokens``."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Sequence[str], n: int) -> float | None:
    """Distinct n-grams ÷ all n-grams over the samples; None when they hold none."""
    grams = [gram for sample in samples for gram in ngrams(words(sample), n)]
    if not grams:
        return None
    return len(set(grams)) / len(grams)


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Shared items over all items of the two sets; two empty sets are identical (1.0)."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def mean_similarity(samples: Sequence[str], n: int = 2) -> float | None:
    """Mean Jaccard similarity of the samples' n-gram sets over all pairs; None below two."""
    if len(samples) < 2:
        return None
    sets = [set(ngrams(words(sample), n)) for sample in samples]
    pairs = list(itertools.combinations(sets, 2))
    return sum(jaccard(a, b) for a, b in pairs) / len(pairs)


def diversity(samples: Sequence[str]) -> Diversity:
    """All three measures of one setting's samples."""
    return Diversity(
        distinct_1=distinct_n(samples, 1),
        distinct_2=distinct_n(samples, 2),
        mean_similarity=mean_similarity(samples),
    )
