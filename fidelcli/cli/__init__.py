"""The `fidelcli` command line: Typer commands that parse, load, call the library and render.

`main()` is the console script. Importing this package has no side effect.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point: the allocator settings of the command (`allocator.configure`),
    before Polars is first imported, then the command line."""
    from fidelcli.cli import allocator

    allocator.configure(sys.argv[1:])
    from fidelcli.cli.app import build

    build(allocator.command_of(sys.argv[1:]))()
