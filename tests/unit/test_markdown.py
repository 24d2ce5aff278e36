import random

from hypothesis import given
from hypothesis import strategies as st

from chatlab.markdown import BlockSplitter, safe_markdown


def test_images_become_links_so_the_browser_fetches_nothing() -> None:
    out = safe_markdown("see ![cat](http://203.0.113.5/cat.png) and ![](x.png)")
    assert "![" not in out
    assert "[🖼 cat](http://203.0.113.5/cat.png)" in out
    assert "[🖼 image](x.png)" in out


def test_reference_images_become_links() -> None:
    assert (
        safe_markdown("![logo][1]\n\n[1]: http://x/y.png") == "[🖼 logo][1]\n\n[1]: http://x/y.png"
    )


def test_code_is_left_as_written() -> None:
    text = "`![a](b)` and\n```\n![c](d) \\(x\\)\n```\n"
    assert safe_markdown(text) == text


def test_latex_delimiters_become_dollars() -> None:
    assert safe_markdown(r"inline \(a^2\) and \[b^2\]") == "inline $a^2$ and $$b^2$$"


def _split(text: str, sizes: list[int]) -> tuple[list[str], str]:
    splitter, blocks, i = BlockSplitter(), [], 0
    for size in sizes:
        blocks += splitter.feed(text[i : i + size])
        i += size
    blocks += splitter.feed(text[i:])
    return blocks, splitter.tail


def test_paragraphs_finish_when_the_next_begins() -> None:
    blocks, tail = _split("one\ntwo\n\nthree\n\nfour\n", [3, 5, 7])
    assert blocks == ["one\ntwo", "three"]
    assert tail == "four"


def test_code_fence_with_blank_lines_is_one_block() -> None:
    blocks, tail = _split("```py\na\n\n\nb\n```\nafter", [2, 2, 2])
    assert blocks == ["```py\na\n\n\nb\n```"]
    assert tail == "after"


def test_open_fence_stays_in_the_tail() -> None:
    blocks, tail = _split("intro\n\n```\ncode\n\nmore", [4])
    assert blocks == ["intro"]
    assert tail == "```\ncode\n\nmore"


def test_indented_continuation_stays_with_its_list_item() -> None:
    blocks, tail = _split("- a\n\n  still a\n\nnext\n", [1])
    assert blocks == ["- a\n\n  still a"]
    assert tail == "next"


@given(st.text(alphabet="ab \n`~#-", max_size=300), st.randoms())
def test_blocks_and_tail_keep_every_non_blank_line(text: str, rnd: random.Random) -> None:
    sizes = [rnd.randint(1, 7) for _ in range(len(text))]
    blocks, tail = _split(text, sizes)
    rebuilt = "\n".join([*blocks, tail]).split("\n")
    assert [line for line in rebuilt if line.strip()] == [
        line for line in text.split("\n") if line.strip()
    ]
