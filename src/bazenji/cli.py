"""The ``bazenji`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``bazenji`` command line."""
    parser = argparse.ArgumentParser(prog="bazenji", description="Basenji2 predictions for the scverse.")
    parser.add_subparsers(dest="command")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
