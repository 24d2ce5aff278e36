"""The session's state: owned by one module, and one of each feature's per browser session."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from chatlab.storage import Store
from components import session
from components.session import (
    ArenaState,
    ChatState,
    CompareState,
    ConnectionState,
    PageState,
    SavingState,
)
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, held, kept, send
from tests.conftest import ROOT

COMPARE_PAGE = "pages/compare.py"
OWNER = Path("components/session.py")
# Values two sessions may hold alike: immutable ones, and the one store every session uses.
SHAREABLE = (str, int, float, bool, tuple, frozenset, Store)


def session_state_uses(source: str) -> list[int]:
    """The lines of ``source`` that name ``session_state`` (as ``st.session_state``, or
    imported or bound under that name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        named = (
            (isinstance(node, ast.Attribute) and node.attr == "session_state")
            or (isinstance(node, ast.Name) and node.id == "session_state")
            or (isinstance(node, ast.alias) and "session_state" in (node.name, node.asname))
        )
        if named:
            found.append(getattr(node, "lineno", 0))
    return found


def test_only_the_session_module_touches_session_state() -> None:
    sources = [ROOT / "app.py", *sorted((ROOT / "components").glob("*.py"))]
    sources += sorted((ROOT / "pages").glob("*.py"))
    uses = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if (lines := session_state_uses(path.read_text()))
    }
    assert uses.pop(str(OWNER)), "the scan finds the owner's own uses"  # the scan works
    assert uses == {}


def test_the_scan_sees_every_way_of_reaching_session_state() -> None:
    assert session_state_uses("import streamlit as st\nst.session_state['k'] = 1\n") == [2]
    assert session_state_uses("from streamlit import session_state\n") == [1]
    assert session_state_uses("from streamlit import session_state as s\n") == [1]
    assert session_state_uses("x = st.sidebar\n") == []


def feature_states() -> list[type[object]]:
    """Every per-feature state ``components.session`` holds (its dataclasses named *State)."""
    return [
        kind
        for kind in vars(session).values()
        if isinstance(kind, type)
        and dataclasses.is_dataclass(kind)
        and kind.__name__.endswith("State")
    ]


def test_each_browser_session_has_its_own_state_of_every_feature(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    alice, bob = make_app().run(), make_app().run()
    fake.enqueue(Reply(text="for alice"))
    send(alice, "alice only")
    for page in (COMPARE_PAGE, "pages/side_by_side.py"):  # every feature's state made
        alice, bob = alice.switch_page(page).run(), bob.switch_page(page).run()
        assert not alice.exception and not bob.exception
    kinds = feature_states()
    assert {ArenaState, ChatState, CompareState, ConnectionState, PageState, SavingState} <= set(
        kinds
    )
    for kind in kinds:
        mine, theirs = held(alice, kind), held(bob, kind)
        assert mine is not theirs, kind.__name__
        for each in dataclasses.fields(mine):  # type: ignore[arg-type]
            value = getattr(mine, each.name)
            if value is not None and not isinstance(value, SHAREABLE):
                assert value is not getattr(theirs, each.name), f"{kind.__name__}.{each.name}"
    assert held(alice, PageState).visitor != held(bob, PageState).visitor
    assert kept(alice) == [("user", "alice only"), ("assistant", "for alice")]
    assert kept(bob) == []
