"""Orders of a conversation's messages: the current path, and every branch parents first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Node(Protocol):
    """Anything with an id and a parent id (a row or a message)."""

    @property
    def id(self) -> str: ...

    @property
    def parent_id(self) -> str | None: ...


N = TypeVar("N", bound=Node)


def path_to(nodes: Sequence[N], leaf_id: str | None) -> list[N]:
    """The leaf and its ancestors, root first."""
    by_id = {node.id: node for node in nodes}
    path: list[N] = []
    node = by_id.get(leaf_id) if leaf_id else None
    while node is not None and len(path) <= len(nodes):  # the bound guards against a cycle
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def parents_first(nodes: Sequence[N]) -> list[N]:
    """Every node after its parent (depth first, older siblings first, given oldest first).

    A node whose parent is missing (a hand-edited database) counts as a root, so none is
    ever dropped.
    """
    known = {node.id for node in nodes}
    children: dict[str | None, list[N]] = {}
    for node in nodes:
        parent = node.parent_id if node.parent_id in known else None
        children.setdefault(parent, []).append(node)
    ordered: list[N] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(children.get(node.id, [])))
    return ordered
