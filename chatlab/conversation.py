"""The open conversation as a tree, and the path through it that is shown and sent.

Messages are never overwritten: a regenerated reply, a retry after a failure, or a second
tab writing to the same conversation each add a sibling under the same parent. The
conversation remembers its current leaf; the shown path is that leaf and its ancestors,
and every message with siblings can switch to one of them (``select``), so no branch is
ever out of reach. Plain data: the store loads and saves it, the UI only draws it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chatlab.messages import ChatMessage


@dataclass
class Conversation:
    """Every message of one conversation, the current leaf, and how far back context goes."""

    id: str | None = None  # the stored id; None until the first message is saved
    messages: dict[str, ChatMessage] = field(default_factory=dict)  # parents before children
    leaf_id: str | None = None
    version: int = 0  # the store's version when loaded or last written by this tab
    # After "drop oldest turns": the first message sent as context (None: from the start).
    context_from: str | None = None
    orphaned: bool = False  # deleted (in another tab) while open here; saving stopped
    _children: dict[str | None, list[ChatMessage]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @classmethod
    def of(
        cls,
        messages: Iterable[ChatMessage],
        leaf_id: str | None = None,
        *,
        conversation_id: str | None = None,
        version: int = 0,
    ) -> Conversation:
        """A conversation from messages in parent-first order (leaf: the last one by default)."""
        by_id = {message.id: message for message in messages}
        if leaf_id not in by_id:
            leaf_id = next(reversed(by_id), None)
        return cls(conversation_id, by_id, leaf_id, version)

    def path(self, leaf_id: str | None = None) -> list[ChatMessage]:
        """The shown path (or the one ending at ``leaf_id``): a leaf and its ancestors."""
        leaf_id = leaf_id or self.leaf_id
        path: list[ChatMessage] = []
        node = self.messages.get(leaf_id) if leaf_id else None
        while node is not None and len(path) <= len(self.messages):  # bound: a cycle
            path.append(node)
            node = self.messages.get(node.parent_id) if node.parent_id else None
        path.reverse()
        return path

    @property
    def leaf(self) -> ChatMessage | None:
        """The last shown message."""
        return self.messages.get(self.leaf_id) if self.leaf_id else None

    def children(self, parent_id: str | None) -> list[ChatMessage]:
        """The messages directly under ``parent_id``, oldest first."""
        if self._children is None:  # built once per change: drawing asks for every message
            index: dict[str | None, list[ChatMessage]] = {}
            for message in self.messages.values():
                index.setdefault(message.parent_id, []).append(message)
            self._children = index
        return self._children.get(parent_id, [])

    def siblings(self, message: ChatMessage) -> list[ChatMessage]:
        """``message`` and its alternatives (same parent, same role), oldest first."""
        return [m for m in self.children(message.parent_id) if m.role == message.role]

    def add(self, message: ChatMessage) -> None:
        """Add a message (or take back one removed); it becomes the current leaf."""
        self.messages[message.id] = message
        self.leaf_id = message.id
        self._children = None

    def remove(self, message: ChatMessage, *, leaf_id: str | None) -> None:
        """Take out a message that never had content (it has no children)."""
        self.messages.pop(message.id, None)
        self._children = None
        self.leaf_id = leaf_id if leaf_id in self.messages else message.parent_id

    def remove_branch(self, message_id: str) -> str | None:
        """Take out a message and everything below it; returns the leaf shown after."""
        gone = self.messages.get(message_id)
        if gone is None:
            return self.leaf_id
        doomed, stack = set(), [message_id]
        while stack:
            node = stack.pop()
            doomed.add(node)
            stack.extend(child.id for child in self.children(node))
        self.messages = {k: v for k, v in self.messages.items() if k not in doomed}
        self._children = None
        if self.leaf_id in doomed:
            self.leaf_id = None
            if gone.parent_id is not None:
                self.select(gone.parent_id)  # the newest branch left there, or the parent
        if self.context_from in doomed:
            self.context_from = None
        return self.leaf_id

    def catch_up(self, stored: Conversation) -> None:
        """Take the stored messages, staying on this tab's branch where it still exists."""
        if self.leaf_id in stored.messages:
            stored.leaf_id = self.leaf_id
        self.messages, self.leaf_id, self.version = stored.messages, stored.leaf_id, stored.version
        self._children = None

    def select(self, message_id: str) -> str | None:
        """Show ``message_id``'s branch, down to its newest leaf; returns the new leaf."""
        if message_id not in self.messages:
            return self.leaf_id
        node = message_id
        while children := self.children(node):
            node = children[-1].id
        self.leaf_id = node
        return node
