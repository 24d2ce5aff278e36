"""Money and running totals as text, for the chat page and the usage page.

Apart from ``usage_view`` so the chat page does not import Altair to print one line.
"""

from __future__ import annotations

from chatlab.conversation import Conversation
from chatlab.usage import Totals, add_up


def conversation_totals(conversation: Conversation) -> str:
    """The conversation's running totals (every branch's replies, as held in memory)."""
    stats = [m.stats for m in conversation.messages.values() if m.stats is not None]
    return totals_caption(add_up(stats))


def totals_caption(totals: Totals) -> str:
    """One line for a conversation's running totals; empty when it has no reply yet."""
    if not totals.replies:
        return ""
    approx = "≈ " if totals.estimated_replies else ""
    tokens = f"{approx}{totals.prompt_tokens:,} in / {approx}{totals.completion_tokens:,} out"
    if not totals.cost_known:
        cost = "cost unknown"
    elif totals.unknown_cost_replies:
        unknown = f"{totals.unknown_cost_replies} {plural_replies(totals.unknown_cost_replies)}"
        cost = f"\\{usd(totals.cost_usd)} + cost unknown for {unknown}"
    else:
        cost = f"\\{usd(totals.cost_usd)}"  # escaped: Streamlit reads "$...$" as LaTeX
    requests = f"{totals.requests} {plural_requests(totals.requests)}"
    return f"Used so far: {requests} · {tokens} tokens · {cost}"


def usd(amount: float) -> str:
    """``$0.000123``, ``$0.0123``, ``$12.34``."""
    if amount >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if amount >= 0.01 else f"${amount:.6f}"


def plural_replies(count: int) -> str:
    return "reply" if count == 1 else "replies"


def plural_requests(count: int) -> str:
    return "request" if count == 1 else "requests"
