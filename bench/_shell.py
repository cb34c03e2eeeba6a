"""How the benchmarks start commands: with the environment a shell would give them."""

from __future__ import annotations

import os


def shell_env() -> dict[str, str]:
    """This process's environment without `_RJEM_MALLOC_CONF`, which importing Polars here sets (to
    Polars' allocator defaults): a command started from a shell would not inherit it."""
    return {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
