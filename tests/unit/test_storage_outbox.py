"""Saving behind the page (chatlab.storage.outbox): a store that fails, then heals.

The store fails in these ways here: injected (every save point, at random, under
Hypothesis; before a write, or after it committed with the answer lost), another session
holding PostgreSQL's tables, a real PostgreSQL server stopped and started again (its own
cluster, so the other storage tests are unaffected), and a real full disk (a small tmpfs,
where the machine lets us mount one).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatlab.conversation import Conversation
from chatlab.messages import ChatMessage, Status
from chatlab.storage import Outbox, StorageError, Store, Writer
from chatlab.storage import engine as engines

if TYPE_CHECKING:
    from tests.postgres import PostgresCluster

pytest_plugins = ["tests.postgres"]

OWNER = "alice"
FAST = (0.01,)  # seconds between retries: the tests wait on state, this only saves time


class FlakyStore(Store):
    """A real store that fails every write (and read) while ``down``; while ``lost`` it
    does each one and then reports it failed (committed, but the answer never came back:
    a dropped connection), so the retry writes what is already there."""

    down = False
    lost = False

    def _check(self) -> None:
        if self.down:
            raise StorageError("The database is unreachable (injected).", "Wait.")

    def _answer(self, result: Any) -> Any:
        if self.lost:
            raise StorageError("The connection dropped before the answer (injected).", "Wait.")
        return result

    def save_message(self, *args: Any, **kwargs: Any) -> int:
        self._check()
        return int(self._answer(super().save_message(*args, **kwargs)))

    def set_current_leaf(self, *args: Any, **kwargs: Any) -> int:
        self._check()
        return int(self._answer(super().set_current_leaf(*args, **kwargs)))

    def delete_message(self, *args: Any, **kwargs: Any) -> bool:
        self._check()
        return bool(self._answer(super().delete_message(*args, **kwargs)))

    def conversation_version(self, *args: Any, **kwargs: Any) -> int | None:
        self._check()
        version: int | None = self._answer(super().conversation_version(*args, **kwargs))
        return version


@pytest.fixture
def flaky(database_url: str) -> Iterator[FlakyStore]:
    with FlakyStore.open(database_url) as store:
        yield store  # type: ignore[misc]


def shown(conversation: Conversation) -> list[tuple[str, str | None, str, str, Status]]:
    """What the page holds: every message of every branch."""
    return sorted(
        (m.id, m.parent_id, m.role, m.content, m.status) for m in conversation.messages.values()
    )


def stored(
    store: Store, conversation: Conversation
) -> list[tuple[str, str | None, str, str, Status]]:
    tree = store.load_tree(OWNER, conversation.id or "")
    assert tree is not None, "the conversation was never stored"
    return sorted((m.id, m.parent_id, m.role, m.content, m.status) for m in tree.messages)


def ask(conversation: Conversation, outbox: Outbox, text: str) -> ChatMessage:
    leaf = conversation.leaf
    question = ChatMessage("user", text, parent_id=leaf.id if leaf else None)
    conversation.add(question)
    outbox.keep(OWNER, conversation, question)
    return question


def answer(
    conversation: Conversation, outbox: Outbox, parent: ChatMessage, parts: list[str]
) -> None:
    """A reply that streams: saved as it grows, then once more as it ends."""
    reply = ChatMessage("assistant", "", status=Status.STREAMING, parent_id=parent.id)
    conversation.add(reply)
    for part in parts:
        reply.content += part
        outbox.keep(OWNER, conversation, reply)
    reply.status = Status.COMPLETE
    outbox.keep(OWNER, conversation, reply)


def heal(store: FlakyStore, outbox: Outbox) -> None:
    store.down = store.lost = False
    outbox.kick()
    assert outbox.flush(30), "the writer did not catch up"


# -- a first save whose answer was lost ----------------------------------------------------


def test_a_deletion_after_a_first_save_whose_answer_was_lost_is_written(
    flaky: FlakyStore,
) -> None:
    """Found by the test below (one run in ten): the conversation was stored, but the
    outbox still took it for one never stored and skipped the deletion as a no-op."""
    conversation, outbox = Conversation(), Outbox()  # no writer: drained here, in order
    question = ask(conversation, outbox, "delete me")
    flaky.lost = True
    with pytest.raises(StorageError):
        outbox.drain(flaky)  # committed; the answer never came
    flaky.lost = False
    conversation.remove_branch(question.id)
    outbox.delete(OWNER, conversation, question.id)
    outbox.drain(flaky)
    assert stored(flaky, conversation) == []  # the store holds what the page shows
    assert not outbox.waiting()


def test_a_deletion_in_a_conversation_never_stored_leaves_its_first_save_to_make_it(
    flaky: FlakyStore,
) -> None:
    conversation, outbox = Conversation(), Outbox()
    first = ask(conversation, outbox, "gone before it was stored")
    conversation.remove_branch(first.id)
    outbox.delete(OWNER, conversation, first.id)  # drops the waiting save too
    outbox.drain(flaky)
    ask(conversation, outbox, "kept")
    outbox.drain(flaky)  # made now: not taken for deleted elsewhere
    assert not conversation.orphaned
    assert stored(flaky, conversation) == shown(conversation)


# -- injected failures ---------------------------------------------------------------------

# (what the user does, which message, how the store fails meanwhile: not, before each
# write, or after each write committed)
Step = tuple[str, int, str]
steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "send", "regenerate", "select", "delete"]),
        st.integers(0, 50),
        st.sampled_from(["up", "down", "lost"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_after_random_failures_the_store_holds_what_the_page_showed(
    flaky: FlakyStore, steps: list[Step]
) -> None:
    conversation, outbox = Conversation(), Outbox()
    outbox.attach(Writer(flaky, backoff=FAST))
    for number, (kind, pick, fault) in enumerate(steps):
        flaky.down, flaky.lost = fault == "down", fault == "lost"
        messages = list(conversation.messages.values())
        if kind == "send" or not messages:
            question = ask(conversation, outbox, f"question {number}")
            answer(conversation, outbox, question, ["an ", "answer ", str(number)])
        elif kind == "regenerate":
            questions = [m for m in messages if m.role == "user"]
            question = questions[pick % len(questions)]
            answer(conversation, outbox, question, [f"another answer {number}"])
        elif kind == "select":
            leaf = conversation.select(messages[pick % len(messages)].id)
            if leaf is not None:
                outbox.select(OWNER, conversation, leaf)
        else:
            target = messages[pick % len(messages)]
            leaf = conversation.remove_branch(target.id)
            outbox.delete(OWNER, conversation, target.id)
            if leaf is not None:
                outbox.select(OWNER, conversation, leaf)
    heal(flaky, outbox)
    if conversation.messages:
        assert stored(flaky, conversation) == shown(conversation)
        tree = flaky.load_tree(OWNER, conversation.id or "")
        assert tree is not None and tree.leaf_id == conversation.leaf_id
    assert not outbox.unsaved() and outbox.outage is None


def test_a_message_after_one_not_stored_yet_is_not_refused(flaky: FlakyStore) -> None:
    conversation, outbox = Conversation(), Outbox()
    outbox.attach(Writer(flaky, backoff=FAST))
    flaky.down = True
    first = ask(conversation, outbox, "first, while the store is down")
    answer(conversation, outbox, first, ["kept"])
    second = ask(conversation, outbox, "second, still down")
    assert [m.content for m in outbox.unsaved()] == [first.content, "kept", second.content]
    heal(flaky, outbox)
    assert [m.content for m in flaky.load_messages(OWNER, conversation.id or "") or []] == [
        first.content,
        "kept",
        second.content,
    ]
    assert outbox.take_problems() == []


def test_the_outage_is_one_error_until_the_store_answers(flaky: FlakyStore) -> None:
    conversation, outbox = Conversation(), Outbox()
    writer = Writer(flaky, backoff=FAST)
    outbox.attach(writer)
    flaky.down = True
    ask(conversation, outbox, "hello")
    assert not writer.wait_idle(0.2)  # still trying
    # Reported once the first write has failed: a state to wait for (the window above
    # only shows the writer is not done; on a loaded machine the report came after it).
    assert wait_until(30, lambda: outbox.outage is not None)
    assert outbox.outage is not None and "unreachable" in outbox.outage.message
    heal(flaky, outbox)
    assert outbox.outage is None


def test_a_write_that_committed_but_reported_failure_is_retried_as_one_row(
    flaky: FlakyStore,
) -> None:
    conversation, outbox = Conversation(), Outbox()
    writer = Writer(flaky, backoff=FAST)
    outbox.attach(writer)
    flaky.lost = True
    question = ask(conversation, outbox, "stored, but the answer was lost")
    answer(conversation, outbox, question, ["and ", "its reply"])
    assert not writer.wait_idle(0.2)  # retrying what is already stored
    assert wait_until(30, lambda: outbox.outage is not None)  # a state, not the window above
    assert outbox.outage is not None and "dropped" in outbox.outage.message
    heal(flaky, outbox)
    assert stored(flaky, conversation) == shown(conversation)
    assert len(flaky.list_conversations(OWNER)) == 1


def test_saving_the_same_message_twice_is_one_row(flaky: FlakyStore) -> None:
    message = ChatMessage("user", "once")
    conversation_id = "c-twice"
    for _ in range(2):
        flaky.save_message(OWNER, conversation_id, message, create=True)
    assert [m.content for m in flaky.load_messages(OWNER, conversation_id) or []] == ["once"]
    assert len(flaky.list_conversations(OWNER)) == 1


def test_a_conversation_is_created_with_its_first_message_or_not_at_all(flaky: FlakyStore) -> None:
    bad = ChatMessage("user", "orphan", parent_id="no-such-parent")
    with pytest.raises(StorageError):
        flaky.save_message(OWNER, "c-new", bad, create=True)
    assert flaky.list_conversations(OWNER) == []


def test_what_is_not_saved_downloads_as_an_importable_conversation(flaky: FlakyStore) -> None:
    conversation, outbox = Conversation(), Outbox()
    outbox.attach(Writer(flaky, backoff=FAST))
    flaky.down = True
    question = ask(conversation, outbox, "keep me")
    answer(conversation, outbox, question, ["kept too"])
    (document,) = outbox.export()
    heal(flaky, outbox)
    imported = flaky.import_json("bob", document)
    assert [m.content for m in flaky.load_messages("bob", imported) or []] == [
        "keep me",
        "kept too",
    ]


def test_someone_elses_conversation_id_is_never_written(flaky: FlakyStore) -> None:
    flaky.save_message("bob", "c-bob", ChatMessage("user", "bob's"), create=True)
    with pytest.raises(StorageError):
        flaky.save_message(OWNER, "c-bob", ChatMessage("user", "alice's"), create=True)
    assert [m.content for m in flaky.load_messages("bob", "c-bob") or []] == ["bob's"]


# -- a real PostgreSQL server, stopped and started again -------------------------------------


@pytest.fixture
def pg(own_cluster: PostgresCluster) -> Iterator[tuple[PostgresCluster, Store]]:
    with own_cluster.database() as url, Store.open(url) as store:
        yield own_cluster, store


@pytest.mark.postgres
def test_postgres_stopped_while_idle_then_started(pg: tuple[PostgresCluster, Store]) -> None:
    cluster, store = pg
    conversation, outbox = Conversation(), Outbox()
    writer = Writer(store, backoff=FAST)
    outbox.attach(writer)
    first = ask(conversation, outbox, "before")
    answer(conversation, outbox, first, ["stored at once"])
    assert writer.wait_idle(30)
    cluster.pause()
    try:
        second = ask(conversation, outbox, "while it is stopped")
        answer(conversation, outbox, second, ["kept ", "here"])
        third = ask(conversation, outbox, "and another")
        assert not writer.wait_idle(0.5)
        assert wait_until(30, lambda: outbox.outage is not None)  # a state, not the window above
        assert outbox.outage is not None and "PostgreSQL" in outbox.outage.message
    finally:
        cluster.resume()
    outbox.kick()
    assert writer.wait_idle(60)
    assert stored(store, conversation) == shown(conversation)
    assert conversation.leaf_id == third.id and outbox.outage is None


@pytest.mark.postgres
def test_postgres_stopped_mid_reply_then_started(pg: tuple[PostgresCluster, Store]) -> None:
    cluster, store = pg
    conversation, outbox = Conversation(), Outbox()
    writer = Writer(store, backoff=FAST)
    outbox.attach(writer)
    question = ask(conversation, outbox, "a long answer, please")
    reply = ChatMessage("assistant", "", status=Status.STREAMING, parent_id=question.id)
    conversation.add(reply)
    reply.content = "the first part"
    outbox.keep(OWNER, conversation, reply)
    assert writer.wait_idle(30)
    cluster.pause()
    try:
        for part in (", more", ", and the end"):
            reply.content += part
            outbox.keep(OWNER, conversation, reply)
        reply.status = Status.COMPLETE
        outbox.keep(OWNER, conversation, reply)
        assert len(outbox.unsaved()) == 1  # one copy waits, however often it was saved
    finally:
        cluster.resume()
    outbox.kick()
    assert writer.wait_idle(60)
    (_, saved) = store.load_messages(OWNER, conversation.id or "") or []
    assert (saved.content, saved.status) == ("the first part, more, and the end", Status.COMPLETE)


def wait_until(seconds: float, done: Any) -> bool:
    """Whether ``done()`` came true within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.postgres
def test_a_save_held_up_by_a_postgres_lock_is_paused_then_lands(
    own_cluster: PostgresCluster,
    tables_locked: Callable[..., AbstractContextManager[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engines, "LOCK_TIMEOUT_MS", 300)  # read when the store connects
    with own_cluster.database() as url, Store.open(url) as store:
        conversation, outbox = Conversation(), Outbox()
        writer = Writer(store, backoff=FAST)
        outbox.attach(writer)
        first = ask(conversation, outbox, "before the lock")
        assert writer.wait_idle(30)
        with tables_locked(url, "conversations", "messages"):
            second = ask(conversation, outbox, "while another session holds the tables")
            answer(conversation, outbox, second, ["kept ", "here"])
            # The writer used to wait for ever, with no outage to show.
            assert wait_until(10, lambda: outbox.outage is not None)
            assert outbox.outage is not None
            assert "is locked by another program" in outbox.outage.message
            assert [m.content for m in outbox.unsaved()] == [second.content, "kept here"]
        outbox.kick()
        assert writer.wait_idle(30)
        assert stored(store, conversation) == shown(conversation)
        assert conversation.leaf_id != first.id and outbox.outage is None


# -- a real full disk ------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (mounting needs root; else the test is skipped: the injected failures
    above cover the same path)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_freed_again(small_disk: Path) -> None:
    with Store.open(f"sqlite:///{small_disk / 'chatlab.db'}") as store:
        conversation, outbox = Conversation(), Outbox()
        writer = Writer(store, backoff=FAST)
        outbox.attach(writer)
        filler = small_disk / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"x" * 65536)
                    out.flush()
            except OSError:
                pass  # the disk is full
        big = "words " * 100_000  # 600 KB: more than the few bytes left
        question = ask(conversation, outbox, "fill it")
        answer(conversation, outbox, question, [big])
        assert not writer.wait_idle(0.5)
        assert wait_until(30, lambda: outbox.outage is not None)  # a state, not the window above
        assert outbox.outage is not None and "full" in outbox.outage.message
        filler.unlink()
        outbox.kick()
        assert writer.wait_idle(30)
        assert stored(store, conversation) == shown(conversation)
        assert shutil.disk_usage(small_disk).free > 0


# -- a database made immutable ---------------------------------------------------------------


def test_an_immutable_database_is_refused_with_words_not_a_crash(tmp_path: Path) -> None:
    """Made immutable while Chat Lab was stopped (chattr +i, root only): opening it says
    it cannot be written. (Made immutable under a running process, SQLite's mapped -shm
    file ends it with SIGBUS: README, "When the database fails".)"""
    url = f"sqlite:///{tmp_path / 'chatlab.db'}"
    with Store.open(url) as store:
        store.save_message(OWNER, "c1", ChatMessage("user", "kept"), create=True)
    files = [str(path) for path in tmp_path.iterdir()]
    if subprocess.run(["chattr", "+i", *files], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not allowed here (it needs root and a file system with it)")
    try:
        with pytest.raises(StorageError, match="cannot create or write its chat history"):
            Store.open(url)
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)
