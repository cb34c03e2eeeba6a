"""The `fidelcli` command line: Typer commands that parse, load, call the library and render.

Memory: Polars allocates with jemalloc; with Polars' settings it keeps freed pages for half a second
(then a second more as "muzzy"), purges them on the threads that allocate, and spreads threads over
4 arenas per core. Unless the user says otherwise in `_RJEM_MALLOC_CONF` (their values come after
these and win), the command line asks for one arena per core and for purging on a background thread:
after 1 s for the reduction commands (measured on `rfm`, 10M lines: 1.72-1.82 s -> 1.61-1.64 s at
1.2-1.3 GiB, the system time of re-faulting purged pages going away), and at once for the commands
that fit models after their reduction, so that the NumPy/SciPy work does not stack on the pages the
Polars reduction freed (`clv`, 1M customers: 830 -> 435-470 MiB for 0.4 s of system time). This runs
before Polars is first imported; the library (`import fidelcli`) leaves the allocator alone.
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


_decay_ms = 0 if _command(sys.argv[1:]) in _MODEL_COMMANDS else 1000
_ours = f"background_thread:true,dirty_decay_ms:{_decay_ms},muzzy_decay_ms:0,narenas:{os.cpu_count() or 1}"
os.environ["_RJEM_MALLOC_CONF"] = ",".join(filter(None, [_ours, os.environ.get("_RJEM_MALLOC_CONF")]))
