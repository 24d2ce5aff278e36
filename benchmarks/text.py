"""Linear time for every text transformation in ``chatlab.markdown``.

Each case times one call on a 100,000-character text (the allowed message size) against
4 calls on its first 25,000 characters, in the same run: the same amount of text down the
same path (both are over ``MAX_MARKDOWN_CHARS``), so linear work gives a ratio near 1 and
quadratic work near 4. A case passes under ``BOUND``, generous for a loaded machine.
Through the parser (blocks up to ``MAX_MARKDOWN_CHARS``), the comparison is one call at
20,000 characters against 10 calls at 2,000.

``python -m benchmarks.text`` runs these alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatlab.markdown import (
    MAX_MARKDOWN_CHARS,
    BlockSplitter,
    plain,
    render_mode,
    safe_markdown,
)

BOUND = 2.5
SIZE = 100_000

# The inputs that were slow, or that are slow for markdown-it-py, and ordinary text.
PATHOLOGICAL = {
    '"![" * n': "![",
    '"[" * n': "[",
    '"*a" * n': "*a",
    '"`" * n': "`",
    '"> " * n': "> ",
    '"- " * n': "- ",
    '"\\\\" * n': "\\",
    '"![a](" * n': "![a](",
    '"![[" * n': "![[",
    '"a\\n" * n': "a\n",
    '":a" * n': ":a",
    '"\\\\(a" * n': "\\(a",
    "image links": "![a](http://203.0.113.5/x.png) ",
    "prose": "The quick brown fox jumps over the lazy dog. ",
}
# Markdown the parser is really handed: within the limits render_mode sets.
PARSED = {
    "prose with an image every 200 chars": "word " * 36 + "![a](http://h/x.png)\n",
    "paragraphs with LaTeX and code": "Let \\(x^2\\) be `code` and \\[y\\] " + "so " * 30 + "\n\n",
    "fences and lists": "- item ![i](u) " + "a " * 80 + "\n\n```py\n![c](d)\n```\n\n",
}


def _stream(text: str) -> None:
    splitter = BlockSplitter()
    for i in range(0, len(text), 7):
        splitter.feed(text[i : i + 7])
    splitter.tail_end(2_000)


FUNCTIONS: dict[str, Callable[[str], object]] = {
    "safe_markdown": safe_markdown,
    "plain": plain,
    "render_mode": lambda text: render_mode(text[:MAX_MARKDOWN_CHARS]),  # longer is O(1)
    "BlockSplitter": _stream,
}


def _seconds(call: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def ratio(
    function: Callable[[str], object], unit: str, size: int, parts: int
) -> tuple[float, float]:
    """Seconds for one ``size`` text, and that over ``parts`` calls on a ``1/parts`` slice."""
    big = (unit * (size // len(unit) + 1))[:size]
    small = big[: size // parts]
    whole = _seconds(lambda: function(big))
    pieces = _seconds(lambda: [function(small) for _ in range(parts)])
    return whole, whole / max(pieces, 1e-9)


def report(name: str, function_name: str, size: int, unit: str, parts: int = 4) -> bool:
    whole, factor = ratio(FUNCTIONS[function_name], unit, size, parts)
    passed = factor < BOUND
    print(
        f"text    {function_name:13} {name:38} {size:,} chars {whole * 1000:8.1f} ms "
        f"-> ratio {factor:5.2f} {'pass' if passed else 'FAIL'}"
    )
    return passed


def main() -> bool:
    results = [
        report(name, function_name, SIZE, unit)
        for function_name in FUNCTIONS
        for name, unit in PATHOLOGICAL.items()
    ]
    results += [
        report(name, "safe_markdown", MAX_MARKDOWN_CHARS, unit, parts=10)
        for name, unit in PARSED.items()
    ]
    print(f"text    linear time: {sum(results)} of {len(results)} cases under ratio {BOUND}")
    return all(results)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
