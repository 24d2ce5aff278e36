"""`python -m chatlab eval SPEC.yaml`: the command line (see `chatlab.compare.command`)."""

from __future__ import annotations

import sys

USAGE = "usage: python -m chatlab eval SPEC.yaml [--owner OWNER] [--concurrency N]"


def main(argv: list[str]) -> int:
    """Dispatch the subcommand; 2 with the usage for anything else."""
    if argv[:1] == ["eval"]:
        from chatlab.compare.command import main as evaluate

        return evaluate(argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
