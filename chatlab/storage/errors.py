"""Storage failures, and database errors turned into words and a next step.

Only a file that is damaged or is not a database gets the advice to move it aside: that
advice starts a fresh history, so it must never follow a failure the file did not cause.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from chatlab.errors import ChatLabError

_PG_LOCKED = "55P03"  # lock_not_available: lock_timeout ran out, or NOWAIT
_PG_CANCELED = "57014"  # query_canceled: statement_timeout ran out (or an admin cancel)


class StorageError(ChatLabError):
    """A storage failure explained: ``message`` says what happened, ``action`` what to do."""


class ConversationNotFound(StorageError):
    """The conversation does not exist, or belongs to someone else."""


class InvalidImport(StorageError):
    """An import file was refused; nothing was written."""


class InvalidTestSet(StorageError):
    """A test set was refused (a bad name, rows over the limits; nothing was written), or a
    stored one cannot be read back."""


class InvalidVote(StorageError):
    """A vote was refused (a bad id or time, a document that is not plain JSON or is too
    large); nothing was written."""


class InvalidSideBySide(StorageError):
    """A side-by-side session was refused (a bad id or time, a document that is not plain
    JSON or is too large; nothing was written), or a stored one is not a JSON object."""


def explain(exc: sa.exc.SQLAlchemyError, url: URL) -> StorageError:
    """Turn a database error into words and a next step."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(exc, sa.exc.StatementError) and not isinstance(exc, sa.exc.DBAPIError):
        # The value never reached the database: Python could not convert it.
        return StorageError(
            f"Chat Lab could not store a value: {first_line(cause)}.",
            "Nothing was changed. Edit what you entered and try again.",
            retryable=False,
        )
    if url.get_backend_name() == "sqlite":
        return _explain_sqlite(cause, url.database or "")
    return _explain_postgres(cause, url)


def locked(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether the database refused because another connection holds a lock."""
    cause = getattr(exc, "orig", None)
    return _sqlite_locked(str(getattr(cause, "sqlite_errorname", "")))


def _sqlite_locked(code: str) -> bool:
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _explain_sqlite(cause: BaseException, path: str) -> StorageError:
    code = str(getattr(cause, "sqlite_errorname", ""))
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StorageError(
            f"The chat history file {path} is damaged or is not a Chat Lab database.",
            f"Move it aside (for example rename it to {Path(path).name}.broken) and restart "
            "Chat Lab to begin a fresh history, or set CHATLAB_DATA_DIR to another folder.",
            retryable=False,
        )
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR")):
        return unwritable(path)
    if _sqlite_locked(code):
        return StorageError(
            f"The chat history file {path} is locked by another program.",
            "Try again in a moment; if it keeps happening, close other programs using it.",
        )
    if code.startswith("SQLITE_FULL"):
        return StorageError(f"The disk holding {path} is full.", "Free some space, then try again.")
    if code.startswith(("SQLITE_TOOBIG", "SQLITE_RANGE")) or "too complex" in str(cause):
        return StorageError(
            f"The request was too large for the database: {first_line(cause)}.",
            "Nothing was changed. Try again with less text.",
            retryable=False,
        )
    return StorageError(
        f"The database refused a request: {first_line(cause)}.",
        "Nothing was changed by it. Try again; if it keeps happening, restart Chat Lab.",
    )


def _explain_postgres(cause: BaseException, url: URL) -> StorageError:
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    state = str(getattr(cause, "sqlstate", None) or "")
    if state.startswith("28"):
        return StorageError(
            f"The PostgreSQL server at {where} refused the login.",
            "Check the user name and password in DATABASE_URL.",
            retryable=False,
        )
    if state == "3D000":
        return StorageError(
            f"The database {url.database} does not exist on {where}.",
            "Create it (createdb), or fix the database name in DATABASE_URL.",
            retryable=False,
        )
    if state.startswith("53"):
        return StorageError(
            f"The PostgreSQL server at {where} is out of resources ({first_line(cause)}).",
            "Free disk space or connections on the server, then try again.",
        )
    if state == _PG_LOCKED:
        return StorageError(
            f"The PostgreSQL database at {where} is locked by another program "
            f"({first_line(cause)}).",
            "Try again in a moment; if it keeps happening, end the session holding the lock "
            "(pg_stat_activity shows it).",
        )
    if state == _PG_CANCELED:
        return StorageError(
            f"The PostgreSQL server at {where} did not finish a request in time: the "
            f"database may be locked by another program, or overloaded ({first_line(cause)}).",
            "Try again in a moment; if it keeps happening, check the server's load and "
            "pg_stat_activity.",
        )
    if not state or state.startswith("08"):
        return StorageError(
            f"Chat Lab cannot reach the PostgreSQL server at {where}.",
            "Check that the server is running and that DATABASE_URL names the right host and port.",
        )
    return StorageError(
        f"The PostgreSQL server at {where} reported an error: {first_line(cause)}.",
        "Try again; if it keeps happening, check the server's log.",
    )


def unwritable(path: str) -> StorageError:
    """The history cannot be created or written where it should live."""
    return StorageError(
        f"Chat Lab cannot create or write its chat history at {path}.",
        "Make sure the folder exists and the user running Chat Lab may write to it, or set "
        "CHATLAB_DATA_DIR (or DATABASE_URL) to a writable place.",
    )


def not_found() -> ConversationNotFound:
    """The conversation is gone, or was never the caller's."""
    return ConversationNotFound(
        "This conversation no longer exists (it may have been deleted in another tab).",
        "Start a new chat; the current reply was not saved.",
        retryable=False,
    )


def id_taken() -> StorageError:
    """A message id that already belongs to another conversation."""
    return StorageError(
        "The message could not be saved: its id belongs to another conversation.",
        "Start a new chat; this looks like a bug worth reporting.",
        retryable=False,
    )


def parent_missing() -> StorageError:
    """A new message whose parent is not in the conversation."""
    return StorageError(
        "The message could not be saved: the message it answers is not in this "
        "conversation any more.",
        "Reload the conversation and send it again.",
        retryable=False,
    )


def first_line(cause: BaseException) -> str:
    """The first line of an exception's text, or its type when it has none."""
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
