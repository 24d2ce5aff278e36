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
from streamlit.delta_generator import DeltaGenerator

from chatlab import config
from chatlab.chat import markdown_document
from chatlab.conversation import Conversation
from chatlab.logprobs import TokenLogprob
from chatlab.markdown import plain
from chatlab.messages import ChatMessage
from chatlab.storage import ConversationSummary, Outbox, StorageError, Store
from chatlab.transfer import clean_title, title_from
from components import session, totals
from components.popover import when_open
from components.store_opening import StoreOpener

T = TypeVar("T")
URL_PARAM = "c"
UNTITLED = "(untitled)"


@st.cache_resource(show_spinner=False)
def _opener(url: str) -> StoreOpener:
    return StoreOpener(url)  # one per process: its store, and one writer thread for it


def open_store() -> Store | None:
    """The process's store, or None while the database cannot be opened.

    Never a long wait (``components.store_opening``): while it cannot be opened, this
    session's messages wait in its outbox, the saving note says why (``render_saving``),
    and they are written as soon as it opens. Every run also wakes the session's writer:
    what waits is retried now rather than at the end of its backoff.
    """
    saving = session.saving()
    try:
        store, writer = _opener(config.database_url()).open(saving.outbox)
    except StorageError as err:
        saving.unopened = err
        return None
    saving.unopened = None
    saving.outbox.attach(writer)
    saving.outbox.kick()
    return store


class Keeper:
    """Saves one conversation's messages as they change, behind the page (``Outbox``).

    It touches no session state: after Stop, Streamlit raises ``StopException`` on any
    ``st.session_state`` access, and the final save of a stopped reply happens exactly
    then. A save never waits for the database; what the store refuses shows in the
    session's saving indicator.
    """

    def __init__(self, outbox: Outbox, owner: str, conversation: Conversation) -> None:
        self.outbox, self.owner, self.conversation = outbox, owner, conversation

    def save(self, message: ChatMessage) -> bool:
        """Keep ``message`` for saving (the conversation gets its id on its first); False
        when this conversation is no longer saved (deleted in another tab)."""
        if self.conversation.orphaned:
            return False
        self.outbox.keep(self.owner, self.conversation, message)
        return True


def keeper() -> Keeper:
    """A keeper for the open conversation."""
    return Keeper(session.saving().outbox, session.page().owner, session.chat().conversation)


def _guarded(action: Callable[[], T]) -> T | None:
    """Run a store call; a failure becomes a notice instead of a traceback."""
    try:
        return action()
    except StorageError as err:
        session.add_notice(str(err))
        return None


def _markdown(store: Store, owner: str, conversation_id: str) -> str | None:
    """The conversation's current path as a Markdown document; None when it is gone."""
    shown = store.load_path(owner, conversation_id)
    return markdown_document(shown.title, shown.messages) if shown is not None else None


def _quietly(action: Callable[[], T]) -> T | None:
    """A read every run makes: a failure shows in the one saving indicator, not as a
    notice per run (``render_saving``)."""
    outbox = session.saving().outbox
    try:
        found = action()
    except StorageError as err:
        outbox.report(err)
        return None
    outbox.healed()
    return found


def _load(store: Store, owner: str, conversation_id: str) -> Conversation | None:
    tree = store.load_tree(owner, conversation_id)
    if tree is None:
        return None
    return Conversation.of(
        tree.messages, tree.leaf_id, conversation_id=conversation_id, version=tree.version
    )


def follow_url(store: Store | None, owner: str) -> None:
    """Open the conversation the URL names (if it is the owner's): on a session's first
    run, and on later runs while the store could not answer.

    A store that fails is not a conversation that does not exist: the id stays in the URL
    and is tried again on every run.
    """
    saving = session.saving()
    if session.read_url_once():
        saving.waiting_url = st.query_params.get(URL_PARAM) or None
    wanted = saving.waiting_url
    if not wanted or store is None:
        return
    try:
        loaded = _load(store, owner, wanted)
    except StorageError as err:
        saving.outbox.report(err)
        return
    saving.waiting_url = None
    if loaded is None:
        session.add_notice("That conversation does not exist, or it is not yours.")
        return
    session.open_conversation(loaded)


def catch_up(store: Store | None, owner: str) -> None:
    """Notice what another tab did to the open conversation: reload it, or say it is gone.

    Not while this tab's own changes wait to be written: the store is behind the page
    then, not ahead of it.
    """
    current, outbox = session.chat().conversation, session.saving().outbox
    if store is None or current.id is None or current.orphaned or not outbox.settled(current):
        return
    conversation_id = current.id
    try:
        version = store.conversation_version(owner, conversation_id)
        stored = _load(store, owner, conversation_id) if version != current.version else None
    except StorageError as err:
        outbox.report(err)
        return
    outbox.healed()
    if version is None:
        current.orphaned = True
    elif stored is not None:
        current.catch_up(stored)
        session.add_notice("This conversation changed in another tab; it is up to date now.")


def save_as_new(store: Store, owner: str) -> None:
    """Store the open conversation again, as a new one (after it was deleted elsewhere)."""
    session.saving().outbox.keep_all(owner, session.chat().conversation)


def select(store: Store | None, owner: str, message_id: str) -> None:
    """Show another alternative of a message (and remember it as the current branch)."""
    current = session.chat().conversation
    leaf = current.select(message_id)
    if current.id is None or leaf is None or current.orphaned:
        return
    session.saving().outbox.select(owner, current, leaf)


def delete_message(store: Store | None, owner: str, message_id: str) -> None:
    """Delete a message and everything after it on its branch, here and in the store."""
    chat = session.chat()
    current, chat.deleting = chat.conversation, None
    leaf = current.remove_branch(message_id)
    if current.id is None or current.orphaned:
        return
    outbox = session.saving().outbox
    outbox.delete(owner, current, message_id)
    if leaf is not None:
        outbox.select(owner, current, leaf)


def load_request(message_id: str) -> dict[str, Any] | None:
    """The stored request a reply of the open conversation came from (None: not kept)."""
    page = session.page()
    store, owner, conversation_id = page.store, page.owner, session.chat().conversation.id
    if store is None or conversation_id is None:
        return None
    return _guarded(lambda: store.load_request(owner, conversation_id, message_id))


def load_token_logprobs(message_id: str) -> tuple[TokenLogprob, ...]:
    """The stored tokens of a reply of the open conversation (() when none were kept)."""
    page = session.page()
    store, owner, conversation_id = page.store, page.owner, session.chat().conversation.id
    if store is None or conversation_id is None:
        return ()
    found = _guarded(lambda: store.load_token_logprobs(owner, conversation_id, message_id))
    return found or ()


def sync_url() -> None:
    """Keep ``?c=`` pointing at the open conversation."""
    current, saving = session.chat().conversation.id, session.saving()
    if current is not None:
        saving.waiting_url = None  # the user went on: the link is this conversation
    elif saving.waiting_url is not None:
        return  # a link that could not be opened yet stays, to be opened when it can
    if current is None:
        st.query_params.pop(URL_PARAM, None)
    elif st.query_params.get(URL_PARAM) != current:
        st.query_params[URL_PARAM] = current


def _switch(store: Store, owner: str, conversation_id: str) -> None:
    """Open a listed (or just imported) conversation; the open one stays when it cannot.

    A store that fails is not a conversation that is gone: that is said only when the
    store answered and had no such conversation.
    """
    current = session.chat().conversation
    if conversation_id == current.id and not session.saving().outbox.settled(current):
        return  # already open, and ahead of the store: reloading it would drop what waits
    try:
        loaded = _load(store, owner, conversation_id)
    except StorageError as err:
        session.add_notice(_unreadable(err))
        return
    if loaded is None:
        session.add_notice("That conversation is gone.")
        return
    session.open_conversation(loaded)


def _unreadable(err: StorageError) -> str:
    """What to say when a stored conversation could not be read (the store failed)."""
    return (
        f"Chat Lab could not read that conversation: {err.message} Open it again when the "
        "database answers; the conversation on this page stays open."
    )


def render_list(store: Store, owner: str) -> None:
    """Search, then the owner's conversations, newest first, a page at a time."""
    search = st.text_input(
        "Search conversations",
        key=session.SEARCH,
        placeholder="Search titles and messages",
        label_visibility="collapsed",
    )
    limit = session.chat().listed
    # Asked before the list is read: a save that lands in between is then in the list,
    # and the open conversation, with a save still waiting, is put first below. (Asked
    # after, a save landing in between was in neither.)
    waiting = not session.saving().outbox.settled(session.chat().conversation)
    try:
        found = store.list_conversations(owner, search=search or None, limit=limit + 1)
    except StorageError as err:
        st.caption(plain(str(err)))
        session.saving().outbox.report(err)
        return
    session.saving().outbox.healed()  # a read worked: an outage seen by reads alone is over
    current = session.chat().conversation.id
    found = _waiting_first(found, search, waiting)
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


def _waiting_first(
    found: list[ConversationSummary], search: str, waiting: bool
) -> list[ConversationSummary]:
    """The list, with the open conversation on top while a save of it is on its way
    (``waiting``: its saves were not all written when the list was read): what waits makes
    it the newest, whether its first save (not listed yet) or a later one (listed where
    the last stored one put it)."""
    current = session.chat().conversation
    if not waiting or search or current.id is None:
        return found
    stored = next((summary for summary in found if summary.id == current.id), None)
    others = [summary for summary in found if summary.id != current.id]
    return [stored or _unstored_summary(current.id), *others]


def render_actions(store: Store, owner: str) -> None:
    """Rename, export and delete the open conversation; import one from JSON."""
    conversation = session.chat().conversation
    current = conversation.id
    # Asked before the store is read: asked after, a first save that landed in between
    # would be in neither, and the conversation would lose its title and exports.
    pending = current is not None and not session.saving().outbox.settled(conversation)
    summary = _quietly(lambda: store.get_conversation(owner, current)) if current else None
    if summary is None and pending and current is not None:
        summary = _unstored_summary(current)  # its first save is on its way
    if summary is not None:
        st.text_input(
            "Title",
            value=summary.title,
            key=f"{session.TITLE_INPUT}-{summary.id}",
            on_change=_rename,
            args=(store, owner, summary.id),
        )
        if used := totals.conversation_totals(conversation):
            st.caption(used)
        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            data=lambda: _guarded(lambda: _markdown(store, owner, summary.id)) or "",
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
    importing = when_open(
        "Import…",
        key=session.IMPORT_MENU,
        icon=":material/upload_file:",
        help="Open a conversation exported as JSON (by Chat Lab's JSON export).",
        type="secondary",
    )
    if importing is not None:
        with importing:
            st.file_uploader(
                "Import a conversation (JSON export)",
                type=["json"],
                key=session.IMPORT_INPUT,
                on_change=_import,
                args=(store, owner),
            )


class NotePlace:
    """Where the saving note goes: an empty container until there is something to say.

    An ``st.empty`` drawn on every run would be touched by every fragment rerun (the
    sidebar's), so the conversation area would change when a slider moves.
    """

    def __init__(self, box: DeltaGenerator) -> None:
        self._box = box
        self._slot: DeltaGenerator | None = None

    def slot(self) -> DeltaGenerator:
        """The one element the note is drawn in, made on first use."""
        if self._slot is None:
            self._slot = self._box.empty()
        return self._slot

    def clear(self) -> None:
        """Take the note away, if one was drawn."""
        if self._slot is not None:
            self._slot.empty()


def render_saving() -> NotePlace:
    """The one saving indicator: shown while saving is paused or a message was refused,
    with a download of everything not saved yet; gone once the store caught up.

    Returns the place of its words, for the streaming reply to update (``saving_note``).
    """
    outbox = session.saving().outbox
    for problem in outbox.take_problems():
        st.toast(plain(problem), icon=":material/error:")
    note = NotePlace(st.container())
    if saving_note(note, outbox) and outbox.unsaved():
        st.download_button(
            "Download what is not saved yet",
            data=lambda: json.dumps(outbox.export(), indent=2),
            file_name="chatlab-unsaved.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
            key="download-unsaved",
        )
    return note


def saving_note(place: NotePlace, outbox: Outbox) -> bool:
    """Say (in ``place``) why saving is paused and what is kept; True if there was cause."""
    unopened, outage, unsaved = session.saving().unopened, outbox.outage, len(outbox.unsaved())
    if unopened is None and outage is None and not outbox.refused():
        place.clear()
        return False
    count = f"{unsaved} message{'s' if unsaved != 1 else ''}"
    kept = f"{count} not saved yet {'is' if unsaved == 1 else 'are'} kept here"
    kept = kept if unsaved else "new messages are kept here"
    if unopened is not None:
        words = (
            "**Saving paused:** Chat Lab could not open its database, so conversations are "
            f"not being saved yet. {plain(str(unopened))} Chat Lab keeps trying: {kept} "
            "and will be saved, in order, as soon as it opens."
        )
    elif outage is None:
        words = (
            f"**Not saved: {count}.** The database refused them; they are kept on this "
            "page. Download them to keep them (the file can be imported)."
        )
    else:
        words = (
            f"**Saving paused:** {plain(outage.message)} Chat Lab keeps trying: {kept} and "
            "will be saved, in order, as soon as it answers."
        )
    place.slot().warning(words, icon=":material/cloud_off:")
    return True


def _unstored_summary(conversation_id: str) -> ConversationSummary:
    """The open conversation as the list will show it once stored."""
    path = session.chat().conversation.path()
    first = next((m.content for m in path if m.role == "user"), "")
    return ConversationSummary(id=conversation_id, title=clean_title(title_from(first)))


def render_orphaned(store: Store | None, owner: str) -> None:
    """Say that the open conversation was deleted elsewhere, and offer to keep it."""
    if store is None or not session.chat().conversation.orphaned:
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
    if not session.chat().confirm_delete:
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
        session.saving().outbox.forget(conversation_id)
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
