"""Files attached to a message: checked, limited, and turned into request content.

Images go to the model as ``image_url`` content parts holding a data URL (what OpenAI's
vision models, vLLM, llama.cpp and Ollama accept; the bytes travel with the request, so no
server ever fetches a URL of ours). Text files go inline, fenced, under their name, so every
model reads them, vision or not. A message with text files only stays a plain string: some
OpenAI-compatible servers still reject content-part lists, and a list would buy nothing.

Everything is checked here before anything is sent or stored, against limits the chat box
states up front: what a file is comes from its extension and, for images, its first bytes
(a renamed file is refused, never sent as something it is not); text must be UTF-8.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from chatlab.errors import ChatLabError

MAX_FILES = 5
MAX_IMAGE_BYTES = 5_000_000
MAX_TEXT_BYTES = 1_000_000
MAX_TEXT_CHARS = 200_000
MAX_TOTAL_BYTES = 10_000_000
MAX_NAME_LENGTH = 200

IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
TEXT_EXTENSIONS = (
    "txt", "md", "csv", "tsv", "json", "jsonl", "yaml", "yml", "toml", "xml", "html", "css",
    "py", "js", "ts", "tsx", "jsx", "java", "c", "h", "cpp", "hpp", "cs", "go", "rs", "rb",
    "php", "sh", "sql", "log", "ini", "cfg",
)  # fmt: skip
TEXT_MIME = "text/plain"
FILE_TYPES = (*IMAGE_TYPES, *TEXT_EXTENSIONS)  # what the chat box offers

_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_BACKTICK_RUN = re.compile("`+")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")

Kind = Literal["image", "text"]


class AttachmentError(ChatLabError):
    """Files that cannot be attached; nothing was sent."""


@dataclass(frozen=True)
class Attachment:
    """One attached file, checked: its name, media type and bytes."""

    name: str
    mime: str
    data: bytes

    @property
    def kind(self) -> Kind:
        """Whether it goes to the model as an image or as text."""
        return "image" if self.mime.startswith("image/") else "text"

    @property
    def sha256(self) -> str:
        """The content's address in the store."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def text(self) -> str:
        """A text file's content (empty for an image)."""
        return self.data.decode("utf-8-sig") if self.kind == "text" else ""

    @property
    def data_url(self) -> str:
        """The bytes as a ``data:`` URL, the form ``image_url`` parts carry."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Prompt:
    """A message the user sent: its text and the files checked for it."""

    text: str
    attachments: tuple[Attachment, ...] = ()


def limits_line() -> str:
    """The limits, in words, for the chat box and the README."""
    return (
        f"Attach up to {MAX_FILES} files, {_mb(MAX_TOTAL_BYTES)} in all: images "
        f"(PNG, JPEG, WebP, GIF) up to {_mb(MAX_IMAGE_BYTES)} each, text and code files up "
        f"to {_mb(MAX_TEXT_BYTES)} or {MAX_TEXT_CHARS:,} characters each."
    )


def check_files(files: Sequence[tuple[str, bytes]]) -> tuple[Attachment, ...]:
    """Attachments from uploaded (name, bytes); ``AttachmentError`` names every problem."""
    problems: list[str] = []
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files were attached; at most {MAX_FILES} can be")
    total = sum(len(data) for _, data in files)
    if total > MAX_TOTAL_BYTES:
        problems.append(
            f"the files add up to {_size(total, MAX_TOTAL_BYTES)}, over "
            f"{_mb(MAX_TOTAL_BYTES)} in all"
        )
    checked: list[Attachment] = []
    for name, data in files:
        try:
            checked.append(check_file(name, data))
        except AttachmentError as exc:
            problems.append(exc.message)
    if problems:
        raise AttachmentError(
            "Nothing was sent: " + "; ".join(problems) + ".",
            "Remove or replace those files and send again; your text is kept below.",
            retryable=False,
        )
    return tuple(checked)


def check_file(name: str, data: bytes) -> Attachment:
    """One file checked by type, content and size; ``AttachmentError`` says what is wrong."""
    shown = clean_name(name)
    extension = shown.rsplit(".", 1)[-1].lower() if "." in shown else ""
    if extension in IMAGE_TYPES:
        return _image(shown, IMAGE_TYPES[extension], data)
    if extension in TEXT_EXTENSIONS:
        return _text(shown, data)
    raise _problem(f"{shown} is not a file type Chat Lab can attach (images, text or code)")


def clean_name(name: str) -> str:
    """A file name fit to store and show: no folders, no control characters, bounded."""
    base = _UNSAFE_NAME.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return (base or "file")[-MAX_NAME_LENGTH:]


def _image(name: str, mime: str, data: bytes) -> Attachment:
    if len(data) > MAX_IMAGE_BYTES:
        raise _problem(
            f"{name} is {_size(len(data), MAX_IMAGE_BYTES)}, over {_mb(MAX_IMAGE_BYTES)} "
            "for an image"
        )
    if sniff_image(data) != mime:
        raise _problem(f"{name} is not a {mime.removeprefix('image/').upper()} image")
    if not decodes(data, mime):
        raise _problem(f"{name} is damaged or not a complete image")
    return Attachment(name, mime, data)


def decodes(data: bytes, mime: str) -> bool:
    """True when Pillow reads the image whole as ``mime`` (what the page draws it with)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = Image.MIME.get(image.format or "")
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return found == mime


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes start like, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for mime, starts in _MAGIC.items():
        if data.startswith(starts):
            return mime
    return None


def _text(name: str, data: bytes) -> Attachment:
    if len(data) > MAX_TEXT_BYTES:
        raise _problem(
            f"{name} is {_size(len(data), MAX_TEXT_BYTES)}, over {_mb(MAX_TEXT_BYTES)} "
            "for a text file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _problem(f"{name} is not UTF-8 text") from None
    if "\x00" in text:
        raise _problem(f"{name} is not text (it holds binary data)")
    if len(text) > MAX_TEXT_CHARS:
        raise _problem(
            f"{name} has {len(text):,} characters, over {MAX_TEXT_CHARS:,} for a text file"
        )
    return Attachment(name, TEXT_MIME, data)


def _problem(text: str) -> AttachmentError:
    return AttachmentError(text, "", retryable=False)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".0 MB", " MB")


def _size(size: int, limit: int) -> str:
    """A size over ``limit`` in words that show it is over (bytes when MB would round)."""
    shown = _mb(size)
    return shown if shown != _mb(limit) and size >= limit + 50_000 else f"{size:,} bytes"


# -- request content ---------------------------------------------------------------------


def fenced_file(attachment: Attachment) -> str:
    """A text file as the model reads it: its name, then its text in a fence it cannot close."""
    text = attachment.text
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"Attached file {attachment.name}:\n{fence}\n{text}\n{fence}"


def message_content(text: str, attachments: Sequence[Attachment]) -> str | list[dict[str, Any]]:
    """A user message's request ``content``: a string, or text and image parts."""
    files = [fenced_file(a) for a in attachments if a.kind == "text"]
    joined = "\n\n".join(part for part in (text, *files) if part)
    images = [a for a in attachments if a.kind == "image"]
    if not images:
        return joined
    parts: list[dict[str, Any]] = [{"type": "text", "text": joined}] if joined else []
    parts += [{"type": "image_url", "image_url": {"url": a.data_url}} for a in images]
    return parts


def elide_images(request: dict[str, Any] | None) -> dict[str, Any] | None:
    """A request body to keep with its reply: images' data URLs shortened to a note.

    The bytes are stored once, with the message; a copy in every later request body
    would grow a conversation with images by megabytes per turn.
    """
    if request is None or not isinstance(request.get("messages"), list):
        return request
    return {**request, "messages": [_elided(m) for m in request["messages"]]}


def _elided(message: object) -> object:
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    parts = [_elided_part(part) for part in message["content"]]
    return {**message, "content": parts}


def _elided_part(part: object) -> object:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return part
    image = part.get("image_url")
    if not isinstance(image, dict):
        return part
    url = image.get("url")
    if not isinstance(url, str) or not url.startswith("data:"):
        return part
    head, _, data = url.partition(",")
    size = len(data) * 3 // 4 - data[-2:].count("=")
    note = f"{head},… ({size:,} bytes, stored with the message)"
    return {**part, "image_url": {**image, "url": note}}
