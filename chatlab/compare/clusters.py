"""A cell's samples grouped into clusters: the same answer said once, with its count.

Two outputs are the same answer when their normalised texts are equal (``normalise``:
case folded, runs of whitespace made one space, outer spaces and trailing punctuation
dropped), or near-identical: rapidfuzz's ``fuzz.ratio`` (0-100, an edit-distance
similarity) of the normalised texts is at least ``SIMILARITY_THRESHOLD``.

Grouping is greedy and deterministic: the identical groups, largest first (ties: the one
seen first), each join the first cluster whose representative is near-identical, or start
one. A cluster's representative is the first output of its largest identical group, as
written. Clusters come largest first, ties by their first member. Near-identity is not
transitive, so another order could group differently; this one is fixed, so the same
samples always give the same clusters. Identity reads the whole text; near-identity reads
the first ``MAX_COMPARED`` characters of each, so two long replies that differ only
after that are one cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

__all__ = ["MAX_COMPARED", "SIMILARITY_THRESHOLD", "Cluster", "cluster", "describe", "normalise"]

SIMILARITY_THRESHOLD = 90.0  # fuzz.ratio of normalised texts, 0-100
# Near-identity compares the first this-many characters (ratio's cost grows with the
# product of both lengths: two 200,000-character replies would take seconds).
MAX_COMPARED = 5_000
_TRAILING = ".,;:!?…。！？"


@dataclass(frozen=True)
class Cluster:
    """Outputs that give the same answer: one shown, the indexes of all of them."""

    representative: str
    members: tuple[int, ...]  # indexes into the outputs, ascending

    @property
    def count(self) -> int:
        return len(self.members)


def normalise(text: str) -> str:
    """``text`` as compared: case folded, spaces collapsed, trailing punctuation dropped."""
    # split() and join: the same whitespace as the regex ``\s+``, several times faster.
    return " ".join(text.casefold().split()).rstrip(_TRAILING).rstrip()


def cluster(outputs: Sequence[str], threshold: float = SIMILARITY_THRESHOLD) -> list[Cluster]:
    """``outputs`` grouped into clusters, largest first (see the module docstring)."""
    identical: dict[str, list[int]] = {}
    for index, text in enumerate(outputs):
        identical.setdefault(normalise(text), []).append(index)
    groups = sorted(identical.items(), key=lambda item: (-len(item[1]), item[1][0]))
    founded: list[tuple[str, list[int]]] = []  # (representative's compared head, members)
    for key, members in groups:
        head = key[:MAX_COMPARED]
        home = next(
            (found for found in founded if fuzz.ratio(head, found[0], score_cutoff=threshold)),
            None,
        )
        if home is None:
            founded.append((head, list(members)))
        else:
            home[1].extend(members)
    made = [Cluster(outputs[members[0]], tuple(sorted(members))) for _, members in founded]
    return sorted(made, key=lambda found: (-found.count, found.members[0]))


def describe(clusters: Sequence[Cluster]) -> str:
    """In words: ``1 answer`` and its count when repeated, ``3 answers`` when they differ."""
    if not clusters:
        return "no answers"
    if len(clusters) == 1:
        count = clusters[0].count
        return "1 answer" + (f" ×{count}" if count > 1 else "")
    return f"{len(clusters)} answers"
