"""``make run``'s warning: an app other machines can reach, with nobody asked to sign in.

    python -m deploy.listen_check HOST [SECRETS_FILE]

Prints the warning to stderr (and still exits 0: listening wider may be what the person
wants). Sign-in is on when the secrets file has an ``[auth]`` section, as
``components/account.py`` decides.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from chatlab.url_policy import listens_locally

SECRETS = Path(".streamlit") / "secrets.toml"


def signs_in(secrets_file: Path) -> bool:
    """True when ``secrets_file`` turns on Streamlit's sign-in (an ``[auth]`` section)."""
    try:
        return "auth" in tomllib.loads(secrets_file.read_text())
    except (OSError, ValueError):  # missing or unreadable: no sign-in
        return False


def warning(host: str, secrets_file: Path = SECRETS) -> str | None:
    """What to tell someone about to serve Chat Lab on ``host``; None when it is private."""
    if listens_locally(host) or signs_in(secrets_file):
        return None
    return (
        f"Warning: Chat Lab will listen on {host}, so other machines can reach it, and "
        f"sign-in is off (no [auth] in {secrets_file}): anyone who reaches it chats with "
        "your API key and sees your conversations. HOST=127.0.0.1 keeps it to this machine."
    )


def main(argv: Sequence[str]) -> None:
    host = argv[0] if argv else ""
    found = warning(host, Path(argv[1]) if len(argv) > 1 else SECRETS)
    if found:
        print(found, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
