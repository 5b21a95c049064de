"""``python -m molesignal dev`` runs the local system (see molesignal.local.dev)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["dev"]:
        from molesignal.local.dev import main as dev

        return dev()
    sys.stderr.write("usage: python -m molesignal dev\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
