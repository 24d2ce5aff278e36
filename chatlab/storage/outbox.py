"""Saving behind the page: the session is the buffer, the store catches up.

Design decisions:

* **Nothing waits for the database on the run that draws the page.** A session keeps
  its changes in an ``Outbox``; one ``Writer`` thread per store writes every session's
  outbox. A locked SQLite file (the busy timeout) or an unreachable PostgreSQL delays
  that thread only: the user's own message and the streaming reply are drawn at once.
* **In order, parents first, and the latest wins.** An outbox writes its changes in the
  order they were first made, so a message is always stored before the replies under
  it; a message saved again while it waits (a reply growing every second) replaces its
  own waiting copy in place, so an outage queues one copy per message, not one per
  second. A conversation therefore never refuses a message because an earlier one is
  not stored yet.
* **Retry until the store answers.** A failure the store may recover from (locked, full,
  unreachable) pauses every write with backoff (``BACKOFF``); the next run of any page
  wakes the writer early (``kick``). The outage is one ``StorageError`` on the writer,
  shown once and cleared by the first write that works. A refusal that retrying cannot
  fix is told once and the message is kept for the download.
* **Ids are made here.** A new conversation gets its id when its first message is kept,
  and is created in the same transaction as that message (``create=True``): its link
  (``?c=``) is right at once, and an outage cannot leave an empty conversation behind.
  Saves are by id, so writing a message twice (a retry, two tabs) is one row.
* **Plain objects only.** ``keep`` touches no Streamlit state: the final save of a
  stopped reply happens when Streamlit refuses session-state access.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from chatlab.conversation import Conversation
from chatlab.messages import ChatMessage, new_id
from chatlab.storage.errors import ConversationNotFound, StorageError
from chatlab.storage.rows import message_json
from chatlab.storage.store import Store
from chatlab.transfer import EXPORT_FORMAT, EXPORT_VERSION, clean_title, fit_requests, title_from

_writers: weakref.WeakSet[Writer] = weakref.WeakSet()
EXIT_FLUSH = 5.0  # seconds a stopping process gives its writers
BACKOFF = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # seconds between retries while it fails
_log = logging.getLogger(__name__)


@dataclass
class _Change:
    """One waiting write: a message to save, a leaf to show, or a message to delete."""

    owner: str
    conversation: Conversation  # the session's own: its id, version and orphaned follow
    message: ChatMessage | None = None  # a copy, as it was when kept
    live: ChatMessage | None = None  # the session's message (its request is dropped once stored)
    leaf_id: str | None = None
    delete_id: str | None = None


class Outbox:
    """One session's changes that are not stored yet, in the order they were made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[str, _Change] = {}
        self._born: set[str] = set()  # conversation ids made here, not stored yet
        self._refused: dict[str, ChatMessage] = {}  # refused for good: kept for the download
        self._refused_in: list[Conversation] = []  # the conversations those belong to
        self._problems: list[str] = []
        self._writer: Writer | None = None

    def attach(self, writer: Writer | None) -> None:
        """Write through ``writer`` (None: no store yet; changes wait here)."""
        self._writer = writer
        if writer is not None and self.waiting():
            writer.submit(self)

    # -- what the session changes ------------------------------------------------------

    def keep(self, owner: str, conversation: Conversation, message: ChatMessage) -> None:
        """Save ``message`` (a copy as it is now) as soon as the store answers."""
        with self._lock:
            if conversation.id is None:
                conversation.id = new_id()
                self._born.add(conversation.id)
            change = _Change(owner, conversation, dataclasses.replace(message), message)
            self._changes[_key(conversation, "m", message.id)] = change  # in place if waiting
        self._submit()

    def keep_all(self, owner: str, conversation: Conversation) -> None:
        """Store the whole conversation again, under a new id (it was deleted elsewhere)."""
        with self._lock:
            conversation.id, conversation.orphaned = new_id(), False
            self._born.add(conversation.id)
        for message in list(conversation.messages.values()):  # parents before children
            self.keep(owner, conversation, message)
        if conversation.leaf_id:
            self.select(owner, conversation, conversation.leaf_id)

    def select(self, owner: str, conversation: Conversation, leaf_id: str) -> None:
        """Make ``leaf_id`` the stored current leaf, after every change before it."""
        self._append(_key(conversation, "leaf", ""), _Change(owner, conversation, leaf_id=leaf_id))

    def delete(self, owner: str, conversation: Conversation, message_id: str) -> None:
        """Delete a message and the replies under it (those still waiting are dropped)."""
        with self._lock:
            alive = set(conversation.messages)
            for key in [k for k, c in self._changes.items() if _gone(c, conversation, alive)]:
                del self._changes[key]
        change = _Change(owner, conversation, delete_id=message_id)
        self._append(_key(conversation, "del", message_id), change)

    def forget(self, conversation_id: str) -> None:
        """Drop every waiting change of a conversation (it was deleted)."""
        with self._lock:
            for key in [
                k for k, c in self._changes.items() if c.conversation.id == conversation_id
            ]:
                del self._changes[key]
            self._born.discard(conversation_id)

    def flush(self, timeout: float) -> bool:
        """Wait until the writer has written everything (this outbox's and the others');
        False if time ran out first. Without a writer (no store) there is nothing to wait
        for: True at once, and what waits stays here."""
        writer = self._writer
        return writer.wait_idle(timeout) if writer is not None else True

    def kick(self) -> None:
        """Retry now rather than at the end of the backoff (a new run came)."""
        if self._writer is not None:
            self._writer.kick()

    def report(self, err: StorageError) -> None:
        """A read failed: the store is out (shown as the outage when it may come back)."""
        if self._writer is not None:
            self._writer.report(err)

    def healed(self) -> None:
        """A read worked."""
        if self._writer is not None:
            self._writer.healed()

    # -- what the page shows ---------------------------------------------------------------

    def unsaved(self) -> list[ChatMessage]:
        """Every message not stored yet (waiting or refused), in the order they were kept."""
        with self._lock:
            waiting = [c.message for c in self._changes.values() if c.message is not None]
            return [*self._refused.values(), *waiting]

    def export(self) -> list[dict[str, Any]]:
        """Each conversation with unsaved messages, whole, as an importable export document
        (the session's copy: everything the page shows, saved or not)."""
        with self._lock:
            kept = [c.conversation for c in self._changes.values() if c.message is not None]
            refused = list(self._refused_in)
        once = {id(conversation): conversation for conversation in [*refused, *kept]}
        return [_document(conversation) for conversation in once.values()]

    def refused(self) -> bool:
        """True once the store refused a message for good (it stays in the download)."""
        with self._lock:
            return bool(self._refused)

    def waiting(self) -> bool:
        with self._lock:
            return bool(self._changes)

    def settled(self, conversation: Conversation) -> bool:
        """True when nothing of this conversation waits (the store has what the page shows)."""
        with self._lock:
            if conversation.id in self._born:
                return False
            return not any(c.conversation is conversation for c in self._changes.values())

    def take_problems(self) -> list[str]:
        """Refusals to tell the user (each once)."""
        with self._lock:
            found, self._problems = self._problems, []
            return found

    @property
    def outage(self) -> StorageError | None:
        """Why saving is paused, while it is."""
        return self._writer.outage if self._writer is not None else None

    # -- the writer's side ----------------------------------------------------------------

    def drain(self, store: Store) -> None:
        """Write every waiting change in order; a retryable failure stops here and raises."""
        while (head := self._first()) is not None:
            key, change = head
            try:
                self._write(store, change)
            except StorageError as err:
                if err.retryable:
                    raise
                self._refuse(key, change, err)
            except Exception as err:  # a bug must not stop every session's saving
                _log.exception("saving a change failed")
                self._refuse(key, change, err)
            else:
                self._done(key, change)

    def _write(self, store: Store, change: _Change) -> None:
        conversation, cid = change.conversation, change.conversation.id or ""
        born = cid in self._born
        if conversation.orphaned:
            return  # deleted elsewhere
        # A leaf or a deletion in a conversation made here is written too, not skipped as
        # "nothing stored yet": a first save whose answer was lost (committed, then the
        # connection dropped) stored it, and skipping left a deleted message in the store.
        try:
            if change.message is not None:
                version = store.save_message(change.owner, cid, change.message, create=born)
            elif change.leaf_id is not None:
                version = store.set_current_leaf(change.owner, cid, change.leaf_id)
            else:
                store.delete_message(change.owner, cid, change.delete_id or "")
                version = store.conversation_version(change.owner, cid) or conversation.version
        except ConversationNotFound:
            if born:
                return  # nothing stored yet: its first save will make it
            conversation.orphaned = True  # deleted in another tab: the page offers to keep it
            self.forget(cid)
            return
        except ValueError:  # a leaf deleted in another tab: the store keeps its own
            return
        conversation.version = version
        if change.message is not None:  # only a save proves the conversation is stored
            with self._lock:
                self._born.discard(cid)

    def _first(self) -> tuple[str, _Change] | None:
        with self._lock:
            return next(iter(self._changes.items()), None)

    def _done(self, key: str, change: _Change) -> None:
        with self._lock:
            if self._changes.get(key) is change:  # not kept again meanwhile
                del self._changes[key]
        live, written = change.live, change.message
        if live is not None and written is not None and live.request is written.request:
            # Stored: the Request view reads it back when opened. Held in the session,
            # every reply's request (the whole conversation so far) would grow its memory
            # with the square of its length.
            live.request = None

    def _refuse(self, key: str, change: _Change, err: Exception) -> None:
        with self._lock:
            if self._changes.get(key) is change:
                del self._changes[key]
            if change.message is not None:
                self._refused[change.message.id] = change.message
                self._refused_in.append(change.conversation)
                self._problems.append(f"A message could not be saved: {err}")

    def _append(self, key: str, change: _Change) -> None:
        """Add a change at the end (one kept before moves there)."""
        with self._lock:
            self._changes.pop(key, None)
            self._changes[key] = change
        self._submit()

    def _submit(self) -> None:
        if self._writer is not None:
            self._writer.submit(self)


def _document(conversation: Conversation) -> dict[str, Any]:
    """A conversation as the session holds it, in the export's form (``Store.import_json``)."""
    messages = list(conversation.messages.values())
    exported = [message_json(message, message.created_at) for message in messages]
    fit_requests(exported)
    first = next((m.content for m in messages if m.role == "user"), "")
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "title": clean_title(title_from(first)),
        "current_leaf_id": conversation.leaf_id,
        "messages": exported,
    }


def _key(conversation: Conversation, kind: str, name: str) -> str:
    return f"{id(conversation)}:{kind}:{name}"


def _gone(change: _Change, conversation: Conversation, alive: set[str]) -> bool:
    """A waiting save of a message the conversation no longer has."""
    message = change.message
    return change.conversation is conversation and message is not None and message.id not in alive


class Writer:
    """One thread per store that writes every session's outbox, retrying while it fails."""

    def __init__(self, store: Store, backoff: tuple[float, ...] = BACKOFF) -> None:
        self._store = store
        self._backoff = backoff
        self._wake = threading.Condition()
        self._queue: dict[Outbox, None] = {}  # outboxes with changes, oldest first
        self._kicked = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.outage: StorageError | None = None
        _writers.add(self)

    def submit(self, outbox: Outbox) -> None:
        """Write this outbox's changes soon."""
        with self._wake:
            self._queue.setdefault(outbox, None)
            self._wake.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="chatlab-writer", daemon=True
                )
                self._thread.start()

    def kick(self) -> None:
        """End the current backoff early."""
        with self._wake:
            self._kicked = True
            self._wake.notify_all()

    def report(self, err: StorageError) -> None:
        """A read failed the same way: the outage shows even with nothing to write."""
        if err.retryable:
            self.outage = err

    def healed(self) -> None:
        """A read worked: the store answers again (writes clear it themselves)."""
        with self._wake:
            if not self._queue:
                self.outage = None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every change submitted is written; False if time ran out first."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._queue))
                if failures:
                    delay = self._backoff[min(failures, len(self._backoff)) - 1]
                    self._wake.wait_for(lambda: self._kicked, timeout=delay)
                self._kicked, self._busy = False, True
                outboxes = list(self._queue)
            failed = self._write_all(outboxes)
            with self._wake:
                self._busy = False
                failures = failures + 1 if failed else 0
                self._wake.notify_all()

    def _write_all(self, outboxes: list[Outbox]) -> bool:
        """Drain each outbox; True if the store failed (then everything waits for it)."""
        for outbox in outboxes:
            try:
                outbox.drain(self._store)
            except StorageError as err:
                self.outage = err
                return True
            with self._wake:
                if not outbox.waiting():
                    self._queue.pop(outbox, None)
        self.outage = None
        return False


@atexit.register
def _flush_at_exit() -> None:
    # A stopped process (Ctrl-C, SIGTERM, a restart) writes what is waiting if the store
    # answers now; its daemon writer thread would otherwise die with it.
    flush_all(EXIT_FLUSH)


def flush_all(timeout: float) -> bool:
    """Wait until every writer of this process has written what it holds (at shutdown,
    and in tests that read the store after a run); False if time ran out first."""
    deadline = time.monotonic() + timeout
    return all(writer.wait_idle(max(0.0, deadline - time.monotonic())) for writer in list(_writers))
