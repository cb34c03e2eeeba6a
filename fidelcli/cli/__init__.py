"""The `fidelcli` command line: Typer commands that parse, load, call the library and render.

Memory: Polars allocates with jemalloc, which (with Polars' settings) keeps freed pages for half a
second and spreads threads over 4 arenas per core. A command runs a few large steps in a row (a
reduction in Polars, then NumPy/SciPy fits and predictions), so the pages freed by one step would
still count while the next allocates. The command line asks jemalloc for one arena per core and to
return freed pages on a background thread: after 100 ms, or at once for the commands that fit
models after their reduction (measured with 1M customers: `rfm` peak 1.3 -> 0.9 GiB at the same
speed, where returning pages at once would cost it a quarter of its time; `clv` 830 -> 450-470 MiB
for 0.4 s more). Values the user puts in `_RJEM_MALLOC_CONF` come after these and win. This runs
before Polars is first imported (Polars adds its own defaults in front); the library
(`import fidelcli`) leaves the allocator alone.
"""

import os
import sys

# Commands whose NumPy/SciPy model work follows a large Polars reduction (measured: clv).
_MODEL_COMMANDS = {"clv"}


def _command(argv: list[str]) -> str | None:
    """The subcommand in `argv`: the first argument that is neither an option nor the --config value."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


_decay_ms = 0 if _command(sys.argv[1:]) in _MODEL_COMMANDS else 100
_ours = f"background_thread:true,dirty_decay_ms:{_decay_ms},muzzy_decay_ms:0,narenas:{os.cpu_count() or 1}"
os.environ["_RJEM_MALLOC_CONF"] = ",".join(filter(None, [_ours, os.environ.get("_RJEM_MALLOC_CONF")]))
