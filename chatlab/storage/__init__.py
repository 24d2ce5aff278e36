"""Conversations and their messages in SQLite or PostgreSQL, behind one small ``Store``.

Design decisions:

* **A message records its parent.** A conversation is a tree, not a list: regenerating a
  reply or editing a question adds a sibling under the same parent instead of overwriting
  anything. The conversation row points at its current leaf, and what the UI shows (the
  "current path") is that leaf and its ancestors. Switching branches needs no schema
  change, only a new current leaf. A version number on the conversation, bumped by every
  change to its messages or leaf, lets a tab see cheaply that another one moved on.
* **Settings, stats and notices are JSON columns.** They are written and read whole with
  their message and never searched into; a column per knob would need a migration each
  time the reply telemetry grows a field. Their keys are the dataclass field names.
* **Never store what cannot be read back; open whatever is stored** (``rows``).
* **A numbered, append-only migration list** (``migrations``) so a database made by any
  earlier version upgrades itself on start, on both backends, with no extra tool. The
  declared schema (``schema``) is what queries are built from; a test checks the two agree.
* **Every call names its owner.** Messages are only reached through a conversation owned
  by the caller; someone else's id behaves exactly like an id that does not exist.
  Imported conversations get fresh ids, so a file can never touch rows it names.
* **Short transactions; SQLite writers take the lock first** (``engine``). One ``Store``
  (one engine and pool) serves every session of the process. SQLite allows one writer at
  a time, and a transaction that reads and then writes cannot wait for the lock, it fails
  at once. So write transactions start with ``BEGIN IMMEDIATE`` and wait up to the busy
  timeout; WAL lets readers go on meanwhile. With ``synchronous=NORMAL`` in WAL mode a
  committed save survives the process being killed; only an OS crash can lose the last
  commits.
* **Saving behind the page** (``outbox``): a session's changes wait in its outbox and
  one writer thread per store writes them in order, retrying until the store answers.
* **Test sets are named per owner** (``testsets``): saved by name (a name that exists is
  replaced), and checked again when read back, as an upload is: the database is trusted
  no more than a file.
* **Votes are documents** (``votes``): storage keeps each arena vote as the JSON its
  feature wrote, by owner and id, with when it was cast beside it for date ranges; it
  never imports ``chatlab.arena``, which reads the documents back as votes. Side-by-side
  sessions are kept the same way (``side_by_sides``), with their title and times beside
  them for the list; both pass the same checks (``documents``).
* **Tools are named per owner** (``tools``): a tool definition (``chatlab.tools``,
  kernel) by name, checked again when read back; a reply's tool calls and their results
  are a JSON column of its message row.
* What goes in and out as files (titles, checking a JSON import) lives in
  ``chatlab.transfer``, the Markdown export in ``chatlab.chat.export``: this package
  only stores, and returns plain data (``StoredPath``, ``StoredTree``) to render.
* Times are UTC. SQLite keeps no zone, so they are stored as UTC and read back as UTC.
"""

from chatlab.storage.errors import (
    ConversationNotFound,
    InvalidImport,
    InvalidSideBySide,
    InvalidTestSet,
    InvalidVote,
    StorageError,
)
from chatlab.storage.outbox import Outbox, Writer
from chatlab.storage.runs import RunSummary
from chatlab.storage.side_by_sides import (
    MAX_SIDE_BY_SIDE_CHARS,
    MAX_SIDE_BY_SIDE_ID,
    SideBySideSummary,
)
from chatlab.storage.store import (
    MAX_SEARCH_LENGTH,
    ConversationSummary,
    Store,
    StoredPath,
    StoredTree,
)
from chatlab.storage.testsets import MAX_TEST_SET_NAME, TestSetSummary
from chatlab.storage.votes import MAX_VOTE_CHARS, MAX_VOTE_ID, StoredVote
from chatlab.transfer import DEFAULT_TITLE, title_from

__all__ = [
    "DEFAULT_TITLE",
    "MAX_SEARCH_LENGTH",
    "MAX_SIDE_BY_SIDE_CHARS",
    "MAX_SIDE_BY_SIDE_ID",
    "MAX_TEST_SET_NAME",
    "MAX_VOTE_CHARS",
    "MAX_VOTE_ID",
    "ConversationNotFound",
    "ConversationSummary",
    "InvalidImport",
    "InvalidSideBySide",
    "InvalidTestSet",
    "InvalidVote",
    "Outbox",
    "RunSummary",
    "SideBySideSummary",
    "StorageError",
    "Store",
    "StoredPath",
    "StoredTree",
    "StoredVote",
    "TestSetSummary",
    "Writer",
    "title_from",
]
