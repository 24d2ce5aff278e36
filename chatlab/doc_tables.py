"""The reference tables docs/ holds, printed from the one declaration of each thing.

``python -m chatlab.doc_tables parameters`` prints docs/using.md's table of sampling
parameters (``ChatSettings``' declarations, ``chatlab.params``); ``configuration`` prints
docs/configuration.md's table of settings (``chatlab.config.Settings``). Unit tests compare
each with the copy in docs/, so a declaration and its documentation cannot drift apart.
"""

from __future__ import annotations

import sys

from chatlab import config, messages, params

__all__ = ["TABLES"]

# ``messages`` declares the parameters (``@params.declares``) when it is imported.
TABLES = {
    "parameters": params.markdown_table,
    "configuration": config.markdown_table,
}
assert messages.ChatSettings is not None


def main(argv: list[str]) -> int:
    """Print the table named in ``argv``; 2 and the usage on anything else."""
    if len(argv) != 1 or argv[0] not in TABLES:
        print(f"usage: python -m chatlab.doc_tables {{{' | '.join(TABLES)}}}", file=sys.stderr)
        return 2
    print(TABLES[argv[0]](), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
