"""Stored conversations: the store, saving as we go, the URL, and the sidebar list.

The session holds the open ``Conversation`` (a tree); the store holds everything. The
open conversation's id is in the URL (``?c=``), so a reload or a bookmark brings it
back. One ``Store`` serves every session of the process; it holds no user's key, only
conversations, and every call names the owner. Every store call from here is guarded:
a database failure is a message with what to do next, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from chatlab import config
from chatlab.conversation import Conversation
from chatlab.logprobs import TokenLogprob
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.storage import ConversationNotFound, StorageError, Store
from components import session, totals

T = TypeVar("T")
URL_PARAM = "c"
UNTITLED = "(untitled)"


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Store:
    return Store.open(url)  # an exception is not cached: the next run tries again


def open_store() -> Store | None:
    """The process's store, or None (with a warning) when the database cannot be used."""
    try:
        return _open_store(config.database_url())
    except StorageError as err:
        st.warning(f"**Conversations are not being saved.** {plain(str(err))}")
        return None


class Keeper:
    """Writes one conversation's messages as they change.

    It touches no session state: after Stop, Streamlit raises ``StopException`` on any
    ``st.session_state`` access, and the final save of a stopped reply happens exactly
    then. Failures go to ``problems`` (a list the session shows on its next run).
    """

    def __init__(
        self, store: Store | None, owner: str, conversation: Conversation, problems: list[str]
    ) -> None:
        self.store, self.owner, self.conversation = store, owner, conversation
        self.problems = problems

    def save(self, message: ChatMessage) -> bool:
        """Insert or update ``message`` (creating the conversation on its first message);
        True once it is stored."""
        conversation = self.conversation
        if self.store is None or conversation.orphaned:
            return False
        try:
            if conversation.id is None:
                conversation.id = self.store.create_conversation(self.owner)
            conversation.version = self.store.save_message(self.owner, conversation.id, message)
        except ConversationNotFound:
            conversation.orphaned = True
        except StorageError as err:
            self.problems.append(f"Could not save: {err}")
        else:
            return True
        return False


def keeper() -> Keeper:
    """A keeper for the open conversation."""
    current = session.state()
    return Keeper(current.store, current.owner, current.conversation, current.problems)


def _guarded(action: Callable[[], T]) -> T | None:
    """Run a store call; a failure becomes a notice instead of a traceback."""
    try:
        return action()
    except StorageError as err:
        session.add_notice(str(err))
        return None


def _load(store: Store, owner: str, conversation_id: str) -> Conversation | None:
    tree = store.load_tree(owner, conversation_id)
    if tree is None:
        return None
    return Conversation.of(
        tree.messages, tree.leaf_id, conversation_id=conversation_id, version=tree.version
    )


def follow_url(store: Store | None, owner: str) -> None:
    """On a session's first run, open the conversation the URL names (if it is the owner's)."""
    if not session.read_url_once() or store is None:
        return
    wanted = st.query_params.get(URL_PARAM)
    if not wanted:
        return
    loaded = _guarded(lambda: _load(store, owner, wanted))
    if loaded is None:
        session.add_notice("That conversation does not exist, or it is not yours.")
        return
    session.open_conversation(loaded)


def catch_up(store: Store | None, owner: str) -> None:
    """Notice what another tab did to the open conversation: reload it, or say it is gone."""
    current = session.conversation()
    if store is None or current.id is None or current.orphaned:
        return
    try:
        version = store.conversation_version(owner, current.id)
        if version is None:
            current.orphaned = True
        elif version != current.version and (stored := _load(store, owner, current.id)):
            current.catch_up(stored)
            session.add_notice("This conversation changed in another tab; it is up to date now.")
    except StorageError as err:
        session.add_notice(str(err))


def save_as_new(store: Store, owner: str) -> None:
    """Store the open conversation again, as a new one (after it was deleted elsewhere)."""
    current = session.conversation()

    def write() -> str:
        new_id = store.create_conversation(owner)
        for message in current.messages.values():  # parents before children
            store.save_message(owner, new_id, message)
        if current.leaf_id:
            current.version = store.set_current_leaf(owner, new_id, current.leaf_id)
        return new_id

    saved = _guarded(write)
    if saved is not None:
        current.id, current.orphaned = saved, False


def select(store: Store | None, owner: str, message_id: str) -> None:
    """Show another alternative of a message (and remember it as the current branch)."""
    current = session.conversation()
    leaf = current.select(message_id)
    if store is None or current.id is None or leaf is None or current.orphaned:
        return
    version = _guarded(lambda: store.set_current_leaf(owner, current.id or "", leaf))
    if version is not None:
        current.version = version


def delete_message(store: Store | None, owner: str, message_id: str) -> None:
    """Delete a message and everything after it on its branch, here and in the store."""
    current = session.conversation()
    session.ask_delete_message(None)
    leaf = current.remove_branch(message_id)
    if store is None or current.id is None or current.orphaned:
        return
    conversation_id = current.id

    def write() -> int | None:
        store.delete_message(owner, conversation_id, message_id)
        if leaf is not None:
            return store.set_current_leaf(owner, conversation_id, leaf)
        return store.conversation_version(owner, conversation_id)

    version = _guarded(write)
    if version is not None:
        current.version = version


def load_request(message_id: str) -> dict[str, Any] | None:
    """The stored request a reply of the open conversation came from (None: not kept)."""
    current = session.state()
    store, conversation_id = current.store, current.conversation.id
    if store is None or conversation_id is None:
        return None
    return _guarded(lambda: store.load_request(current.owner, conversation_id, message_id))


def load_token_logprobs(message_id: str) -> tuple[TokenLogprob, ...]:
    """The stored tokens of a reply of the open conversation (() when none were kept)."""
    current = session.state()
    store, conversation_id = current.store, current.conversation.id
    if store is None or conversation_id is None:
        return ()
    found = _guarded(lambda: store.load_token_logprobs(current.owner, conversation_id, message_id))
    return found or ()


def sync_url() -> None:
    """Keep ``?c=`` pointing at the open conversation."""
    current = session.conversation_id()
    if current is None:
        st.query_params.pop(URL_PARAM, None)
    elif st.query_params.get(URL_PARAM) != current:
        st.query_params[URL_PARAM] = current


def _switch(store: Store, owner: str, conversation_id: str) -> None:
    loaded = _guarded(lambda: _load(store, owner, conversation_id))
    if loaded is None:
        session.add_notice("That conversation is gone.")
        return
    session.open_conversation(loaded)


def render_list(store: Store, owner: str) -> None:
    """Search, then the owner's conversations, newest first, a page at a time."""
    search = st.text_input(
        "Search conversations",
        key=session.SEARCH,
        placeholder="Search titles and messages",
        label_visibility="collapsed",
    )
    limit = session.conversations_listed()
    try:
        found = store.list_conversations(owner, search=search or None, limit=limit + 1)
    except StorageError as err:
        st.caption(plain(str(err)))
        return
    current = session.conversation_id()
    for summary in found[:limit]:
        st.button(
            plain(summary.title, empty=UNTITLED),
            key=f"open-{summary.id}",
            on_click=_switch,
            args=(store, owner, summary.id),
            type="primary" if summary.id == current else "tertiary",
            width="stretch",
        )
    if len(found) > limit:
        st.button("Show more", on_click=session.list_more_conversations, type="tertiary")
    if not found:
        st.caption("No matches." if search else "No saved conversations yet.")


def render_actions(store: Store, owner: str) -> None:
    """Rename, export and delete the open conversation; import one from JSON."""
    current = session.conversation_id()
    summary = _guarded(lambda: store.get_conversation(owner, current)) if current else None
    if summary is not None:
        st.text_input(
            "Title",
            value=summary.title,
            key=f"{session.TITLE_INPUT}-{summary.id}",
            on_change=_rename,
            args=(store, owner, summary.id),
        )
        if used := totals.conversation_totals(session.conversation()):
            st.caption(used)
        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            data=lambda: _guarded(lambda: store.export_markdown(owner, summary.id)) or "",
            file_name=f"chatlab-{summary.id[:8]}.md",
            mime="text/markdown",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            data=lambda: json.dumps(
                _guarded(lambda: store.export_json(owner, summary.id)), indent=2
            ),
            file_name=f"chatlab-{summary.id[:8]}.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )
        _delete_controls(store, owner, summary.id)
    st.file_uploader(
        "Import a conversation (JSON export)",
        type=["json"],
        key=session.IMPORT_INPUT,
        on_change=_import,
        args=(store, owner),
    )


def render_orphaned(store: Store | None, owner: str) -> None:
    """Say that the open conversation was deleted elsewhere, and offer to keep it."""
    if store is None or not session.conversation().orphaned:
        return
    with st.container(border=True):
        st.warning(
            "This conversation was deleted in another tab or window, so new messages here "
            "are not being saved. Everything on this page is still here.",
            icon=":material/warning:",
        )
        st.button(
            "Save it as a new conversation",
            icon=":material/save:",
            on_click=save_as_new,
            args=(store, owner),
            type="primary",
        )


def _rename(store: Store, owner: str, conversation_id: str) -> None:
    title = session.widget_value(f"{session.TITLE_INPUT}-{conversation_id}") or ""
    _guarded(lambda: store.rename_conversation(owner, conversation_id, str(title)))


def _delete_controls(store: Store, owner: str, conversation_id: str) -> None:
    if not session.confirming_delete():
        st.button(
            "Delete conversation",
            icon=":material/delete:",
            on_click=session.ask_delete,
            args=(True,),
        )
        return
    st.warning("Delete this conversation for good?")
    yes, no = st.columns(2)
    yes.button("Delete", type="primary", on_click=_delete, args=(store, owner, conversation_id))
    no.button("Cancel", on_click=session.ask_delete, args=(False,))


def _delete(store: Store, owner: str, conversation_id: str) -> None:
    if _guarded(lambda: store.delete_conversation(owner, conversation_id)) is not None:
        session.new_chat()


def _import(store: Store, owner: str) -> None:
    upload = session.widget_value(session.IMPORT_INPUT)
    if upload is None:
        return
    try:
        imported = store.import_json(owner, upload.getvalue())  # type: ignore[attr-defined]
    except StorageError as err:
        session.add_notice(f"Import failed: {err}")
        return
    _switch(store, owner, imported)
