"""Turn planning: what the user asked for, decided as plain data before anything is drawn.

Given the open ``Conversation`` and what the user did (a new message, Retry, Continue,
"drop oldest turns", regenerating a reply, forking one at a token), ``plan_*`` returns a
``Plan``: the user message to store first, the reply to stream into and under which
parent, and the exact ``messages`` to send. Planning changes nothing; ``begin`` applies a
plan to the conversation and ``settle`` records how the reply ended. The component only
draws, streams and saves. Nothing here deletes a message that had text: a retried or
regenerated reply stays as an alternative of the new one.

The request always alternates roles (system, then user/assistant, ending with the user, or
with the assistant's own start when a reply is forked at a token):
strict chat templates (Gemma, Mistral, Llama 2) reject anything else with a 400, which
would make a conversation unusable after one failed turn. So a question that got no
reply before the next one was asked is left out of the context (the page says so), as
are replies with no text. Leaving it out rather than joining it to the next question
matters when it failed for being too long: joined, it would make every later question
overflow the same way.

A reply that called tools (``chatlab.tools``) and whose calls all have results is sent as
the assistant message with its ``tool_calls``, then one ``tool`` message per call, in
order; the model's next reply is its child (``plan_tool_results``). Calls left unanswered
are not sent (a request with a call and no result is refused): the reply goes as text.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chatlab.attachments import Attachment, message_content
from chatlab.conversation import Conversation
from chatlab.logprobs import TokenLogprob
from chatlab.messages import (
    FINISH_STATUS,
    ChatMessage,
    ChatSettings,
    ReplyStats,
    Status,
    is_blank,
)
from chatlab.tools import ToolCall

CONTINUE_PROMPT = (
    "Continue exactly where your last message stopped. Do not repeat anything, "
    "do not add a preamble."
)
CONTINUABLE = frozenset({Status.LENGTH, Status.STOPPED, Status.FAILED})


@dataclass(frozen=True)
class Plan:
    """One reply about to be streamed, and everything it needs."""

    reply: ChatMessage  # new (no text yet), or the reply being continued
    request: list[dict[str, Any]]  # the ``messages`` to send
    settings: ChatSettings  # what the request is made with
    user: ChatMessage | None = None  # a new user message, stored before the request
    prefix: str = ""  # text the reply already has (Continue appends to it)
    prefix_reasoning: str = ""  # and the thinking it already has
    previous_leaf: str | None = None  # shown again if the reply ends with no text
    previous_stats: ReplyStats | None = None  # Continue: the earlier part's telemetry
    context_from: str | None = None  # the first message sent as context from now on
    answered: ChatMessage | None = None  # a reply whose tool calls now have their results
    answers: tuple[ToolCall, ...] = ()  # those calls, answered (``begin`` records them)

    @property
    def continues_prefix(self) -> bool:
        """Whether the request ends with the reply's own start, for the server to go on from."""
        return bool(self.request) and self.request[-1].get("role") == "assistant"


def plan_send(
    conversation: Conversation,
    prompt: str,
    settings: ChatSettings,
    attachments: tuple[Attachment, ...] = (),
) -> Plan | None:
    """A new user message (with any files) under the current leaf, and a reply to it."""
    if is_blank(prompt) and not attachments:
        return None
    user = ChatMessage("user", prompt, parent_id=conversation.leaf_id, attachments=attachments)
    path = [*conversation.path(), user]
    return Plan(
        reply=_new_reply(user, settings),
        request=request_messages(settings.system_prompt, path, conversation.context_from),
        settings=settings,
        user=user,
        previous_leaf=user.id,
        context_from=conversation.context_from,
    )


def plan_retry(
    conversation: Conversation,
    settings: ChatSettings,
    *,
    upto: str | None = None,
    context_from: str | None = None,
) -> Plan | None:
    """A new reply to the last question (or the one ``upto`` names); the old one stays."""
    path = conversation.path(upto)
    while path and path[-1].role == "assistant" and not path[-1].answered:
        path.pop()
    if not path:
        return None
    context = context_from or conversation.context_from
    return Plan(
        reply=_new_reply(path[-1], settings),
        request=request_messages(settings.system_prompt, path, context),
        settings=settings,
        previous_leaf=conversation.leaf_id,
        context_from=context,
    )


def plan_regenerate(
    conversation: Conversation, reply_id: str, settings: ChatSettings
) -> Plan | None:
    """A new alternative of any earlier reply, with the context that led to it."""
    target = conversation.messages.get(reply_id)
    if target is None or target.role != "assistant" or target.parent_id is None:
        return None
    return plan_retry(conversation, settings, upto=target.parent_id)


def fork_prefix(tokens: Sequence[TokenLogprob], index: int, alternative: str) -> str:
    """A reply's text up to token ``index``, then ``alternative`` in that token's place."""
    return "".join(token.token for token in tokens[:index]) + alternative


def plan_fork(
    conversation: Conversation, reply_id: str, prefix: str, settings: ChatSettings
) -> Plan | None:
    """A new alternative of a reply that starts with ``prefix`` and is continued by the model.

    The prefix goes last, as an assistant message: a server that prefills it
    (``chatlab.provider.prefill``) writes on from its end, so the reply is prefix + text.
    """
    target = conversation.messages.get(reply_id)
    if target is None or target.role != "assistant" or target.parent_id is None:
        return None
    if is_blank(prefix):
        return None
    parent = conversation.messages.get(target.parent_id)
    if parent is None:
        return None
    earlier = conversation.path(parent.id)
    request = request_messages(settings.system_prompt, earlier, conversation.context_from)
    request.append({"role": "assistant", "content": prefix})
    return Plan(
        reply=_new_reply(parent, settings),
        request=request,
        settings=settings,
        prefix=prefix,
        previous_leaf=conversation.leaf_id,
        context_from=conversation.context_from,
    )


def plan_edit(
    conversation: Conversation, message_id: str, text: str, settings: ChatSettings
) -> Plan | None:
    """An edited question, sent as a new branch from where the original stood."""
    original = conversation.messages.get(message_id)
    if original is None or original.role != "user" or is_blank(text):
        return None
    # The files stay with the edited question: editing changes its text only.
    user = ChatMessage("user", text, parent_id=original.parent_id, attachments=original.attachments)
    earlier = conversation.path(original.parent_id) if original.parent_id else []
    return Plan(
        reply=_new_reply(user, settings),
        request=request_messages(
            settings.system_prompt, [*earlier, user], conversation.context_from
        ),
        settings=settings,
        user=user,
        previous_leaf=user.id,
        context_from=conversation.context_from,
    )


def plan_tool_results(
    conversation: Conversation, reply_id: str, results: Sequence[str], settings: ChatSettings
) -> Plan | None:
    """A reply's tool calls answered (one result each, in order), and the model's next reply."""
    target = conversation.messages.get(reply_id)
    if target is None or not target.tool_calls or len(results) != len(target.tool_calls):
        return None
    pairs = zip(target.tool_calls, results, strict=True)
    answers = tuple(call.answered(result) for call, result in pairs)
    answered = replace(target, tool_calls=answers)
    path = [*conversation.path(target.parent_id), answered] if target.parent_id else [answered]
    return Plan(
        reply=_new_reply(target, settings),
        request=request_messages(settings.system_prompt, path, conversation.context_from),
        settings=settings,
        previous_leaf=target.id,
        context_from=conversation.context_from,
        answered=target,
        answers=answers,
    )


def plan_continue(conversation: Conversation, settings: ChatSettings) -> Plan | None:
    """Ask the model to go on with a reply that was cut off, appending to the same reply."""
    reply = conversation.leaf
    if reply is None or reply.role != "assistant" or reply.status not in CONTINUABLE:
        return None
    if is_blank(reply.content) or context_full(reply):
        return None
    path = conversation.path()
    request = request_messages(settings.system_prompt, path, conversation.context_from)
    request.append({"role": "user", "content": CONTINUE_PROMPT})
    return Plan(
        reply=reply,
        request=request,
        settings=settings,
        prefix=reply.content,
        prefix_reasoning=reply.reasoning,
        previous_leaf=reply.id,
        previous_stats=reply.stats,
        context_from=conversation.context_from,
    )


def plan_trim_and_retry(conversation: Conversation, settings: ChatSettings) -> Plan | None:
    """Leave the oldest turn out of the context from now on, then retry."""
    path = conversation.path()
    while path and path[-1].role == "assistant":
        path.pop()
    start = _index_of(path, conversation.context_from)
    later_users = [m.id for m in path[start + 1 :] if m.role == "user"]
    # The question being retried always stays.
    context = later_users[0] if later_users else conversation.context_from
    return plan_retry(conversation, settings, context_from=context)


def droppable_turns(conversation: Conversation) -> bool:
    """True when the context holds a turn before the last question: something
    ``plan_trim_and_retry`` can leave out. With the question alone there is nothing."""
    path = conversation.path()
    while path and path[-1].role == "assistant":
        path.pop()
    start = _index_of(path, conversation.context_from)
    return any(m.role == "user" for m in path[start:-1])


def last_question(conversation: Conversation) -> ChatMessage | None:
    """The newest user message on the current path."""
    return next((m for m in reversed(conversation.path()) if m.role == "user"), None)


def alone_too_long(prompt_tokens: int | None, window: int | None) -> str:
    """What to say when the one message sent is itself longer than the model holds."""
    if prompt_tokens and window and prompt_tokens > window:
        over = prompt_tokens - window
        return (
            f"Your message alone is {prompt_tokens:,} tokens; this model holds {window:,}: "
            f"about {over:,} too many, before any reply. There are no older turns to drop."
        )
    return "Your message alone is longer than this model holds; there are no older turns to drop."


def begin(conversation: Conversation, plan: Plan) -> None:
    """Apply a plan: the user's message and the reply join the conversation."""
    conversation.context_from = plan.context_from
    if plan.answered is not None:
        plan.answered.tool_calls = plan.answers
    if plan.user is not None:
        conversation.add(plan.user)
    plan.reply.status = Status.STREAMING
    plan.reply.settings = plan.settings
    conversation.add(plan.reply)


def settle(
    conversation: Conversation,
    plan: Plan,
    text: str,
    *,
    finish_reason: str | None,
    failed: bool,
    stats: ReplyStats | None,
    notices: tuple[str, ...] = (),
    reasoning: str = "",
    tool_calls: tuple[ToolCall, ...] = (),
) -> bool:
    """Record how the reply ended; False when it ended with nothing at all (and is gone)."""
    reply = plan.reply
    reply.content = plan.prefix + text
    reply.tool_calls = tool_calls or reply.tool_calls
    reply.reasoning = joined_reasoning(plan, reasoning)
    if stats is not None:
        previous = plan.previous_stats
        reply.stats = stats if previous is None else previous.followed_by(stats)
    reply.notices = notices or reply.notices
    if failed:
        reply.status = Status.FAILED
    elif finish_reason is None:
        reply.status = Status.STOPPED
    else:
        reply.status = FINISH_STATUS.get(finish_reason, Status.COMPLETE)
    if reply.content or reply.reasoning or reply.tool_calls:  # thinking alone is kept too
        return True
    conversation.remove(reply, leaf_id=plan.previous_leaf)
    return False


def joined_reasoning(plan: Plan, reasoning: str) -> str:
    """The reply's thinking: what it had before Continue, then this request's."""
    if plan.prefix_reasoning and reasoning:
        return plan.prefix_reasoning + "\n\n" + reasoning
    return plan.prefix_reasoning or reasoning


def context_full(reply: ChatMessage) -> bool:
    """True when a reply cut off for length hit the context window, not its max tokens.

    Both end with ``finish_reason: length``. A reply that stopped well short of the
    max-tokens it asked for ran out of room for prompt plus reply: Continue would only
    overflow again; dropping old turns (or a bigger context) is what helps.
    """
    if reply.status != Status.LENGTH or reply.stats is None or reply.settings is None:
        return False
    written = reply.stats.usage.completion_tokens
    margin = 0.8 if reply.stats.usage.estimated else 1.0  # an estimate may be off by a fifth
    return written < reply.settings.max_tokens * margin * reply.stats.parts


def request_messages(
    system_prompt: str, path: Iterable[ChatMessage], context_from: str | None = None
) -> list[dict[str, Any]]:
    """The request's ``messages``: system first, then strictly alternating turns.

    A question with files attached carries them (``chatlab.attachments.message_content``).
    """
    turns = list(path)
    turns = turns[_index_of(turns, context_from) :]
    out: list[dict[str, Any]] = []
    for message in turns:
        if not said(message):
            continue
        if not out and message.role == "assistant":
            continue  # a request's first turn is the user's
        if message.role == "assistant" and message.answered:
            out.extend(_with_tool_results(message))
        elif out and out[-1]["role"] == message.role == "user":
            out[-1] = {"role": "user", "content": _content(message)}  # the unanswered one
        elif out and out[-1]["role"] == message.role:
            out[-1] = {**out[-1], "content": out[-1]["content"] + "\n\n" + message.content}
        else:
            out.append({"role": message.role, "content": _content(message)})
    if not is_blank(system_prompt):
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def said(message: ChatMessage) -> bool:
    """True when a message has something to send: text, files attached, answered calls."""
    return bool(message.attachments) or message.answered or not is_blank(message.content)


def _with_tool_results(message: ChatMessage) -> list[dict[str, Any]]:
    """A reply that called tools, then each call's result as a ``tool`` message."""
    calls = [call.wire() for call in message.tool_calls]
    sent: list[dict[str, Any]] = [
        {"role": "assistant", "content": message.content or None, "tool_calls": calls}
    ]
    for call in message.tool_calls:
        sent.append({"role": "tool", "tool_call_id": call.id, "content": call.result or ""})
    return sent


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    if message.role != "user" or not message.attachments:
        return message.content
    return message_content(message.content, message.attachments)


def unanswered(path: list[ChatMessage]) -> set[str]:
    """Ids of questions left out of the context: no reply came before the next one."""
    spoken = [message for message in path if said(message)]
    return {
        message.id
        for message, following in itertools.pairwise(spoken)
        if message.role == "user" and following.role == "user"
    }


def dropped(path: list[ChatMessage], context_from: str | None) -> int:
    """How many of the shown messages are no longer sent as context."""
    return _index_of(path, context_from)


def _new_reply(parent: ChatMessage, settings: ChatSettings) -> ChatMessage:
    return ChatMessage("assistant", "", Status.STREAMING, parent_id=parent.id, settings=settings)


def _index_of(path: list[ChatMessage], message_id: str | None) -> int:
    for index, message in enumerate(path):
        if message.id == message_id:
            return index
    return 0
