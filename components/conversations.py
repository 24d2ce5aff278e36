"""Stored conversations: the store, saving as we go, the URL, and the sidebar list.

``st.session_state`` holds the working copy of the open conversation; the store holds
everything. The open conversation's id is in the URL (``?c=``), so a reload or a
bookmark brings it back. One ``Store`` serves every session of the process; it holds
no user's key, only conversations, and every call names the owner.
"""

from __future__ import annotations

import json

import streamlit as st

from chatlab import config
from chatlab.messages import ChatMessage
from chatlab.storage import StorageError, Store
from components import session

URL_PARAM = "c"


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> Store:
    return Store.open(url)  # an exception is not cached: the next run tries again


def open_store() -> Store | None:
    """The process's store, or None (with a notice) when the database cannot be used."""
    try:
        return _open_store(config.database_url())
    except StorageError as err:
        st.warning(f"**Conversations are not being saved.** {err.message} {err.action}")
        return None


class Keeper:
    """Writes the open conversation's messages as they change.

    It keeps the conversation id itself: after Stop, Streamlit raises ``StopException``
    on any ``st.session_state`` access, and the final save of a stopped reply happens
    exactly then.
    """

    def __init__(self, store: Store | None, owner: str) -> None:
        self.store, self.owner = store, owner
        self.conversation_id = session.conversation_id()

    def save(self, message: ChatMessage) -> None:
        """Insert or update ``message`` (creating the conversation on its first message)."""
        if self.store is None:
            return
        try:
            if self.conversation_id is None:
                self.conversation_id = self.store.create_conversation(self.owner)
                session.set_conversation_id(self.conversation_id)
            self.store.save_message(self.owner, self.conversation_id, message)
        except StorageError as err:
            session.set_notice(f"Could not save: {err.message} {err.action}")

    def forget(self, message: ChatMessage) -> None:
        """Delete ``message`` (a failed or replaced reply) from the store."""
        if self.store is None or self.conversation_id is None:
            return
        try:
            self.store.delete_message(self.owner, self.conversation_id, message.id)
        except StorageError as err:
            session.set_notice(f"Could not save: {err.message} {err.action}")


def follow_url(store: Store | None, owner: str) -> None:
    """On a session's first run, open the conversation the URL names (if it is the owner's)."""
    if not session.first_run_of_session() or store is None:
        return
    wanted = st.query_params.get(URL_PARAM)
    if not wanted:
        return
    try:
        loaded = store.load_messages(owner, wanted)
    except StorageError as err:
        session.set_notice(f"{err.message} {err.action}")
        return
    if loaded is None:
        session.set_notice("That conversation does not exist, or it is not yours.")
        return
    session.open_conversation(wanted, loaded)


def sync_url() -> None:
    """Keep ``?c=`` pointing at the open conversation."""
    current = session.conversation_id()
    if current is None:
        st.query_params.pop(URL_PARAM, None)
    elif st.query_params.get(URL_PARAM) != current:
        st.query_params[URL_PARAM] = current


def _switch(store: Store, owner: str, conversation_id: str) -> None:
    loaded = store.load_messages(owner, conversation_id)
    if loaded is None:
        session.set_notice("That conversation is gone.")
        return
    session.open_conversation(conversation_id, loaded)


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
        st.caption(f"{err.message} {err.action}")
        return
    current = session.conversation_id()
    for summary in found[:limit]:
        st.button(
            summary.title,
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
    summary = store.get_conversation(owner, current) if current else None
    if summary is not None:
        st.text_input(
            "Title",
            value=summary.title,
            key=f"{session.TITLE_INPUT}-{summary.id}",
            on_change=_rename,
            args=(store, owner, summary.id),
        )
        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            data=lambda: store.export_markdown(owner, summary.id) or "",
            file_name=f"chatlab-{summary.id[:8]}.md",
            mime="text/markdown",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            data=lambda: json.dumps(store.export_json(owner, summary.id), indent=2),
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


def _rename(store: Store, owner: str, conversation_id: str) -> None:
    title = st.session_state.get(f"{session.TITLE_INPUT}-{conversation_id}", "")
    store.rename_conversation(owner, conversation_id, str(title))


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
    store.delete_conversation(owner, conversation_id)
    session.new_chat()


def _import(store: Store, owner: str) -> None:
    upload = st.session_state.get(session.IMPORT_INPUT)
    if upload is None:
        return
    try:
        imported = store.import_json(owner, upload.getvalue())
    except StorageError as err:
        session.set_notice(f"Import failed: {err.message} {err.action}")
        return
    _switch(store, owner, imported)
