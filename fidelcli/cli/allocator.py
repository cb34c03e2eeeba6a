"""Allocator settings of the `fidelcli` command: an explicit step of the console entry point.

Polars allocates with jemalloc and reads its settings from the environment variable
`_RJEM_MALLOC_CONF` when it is first imported (an undocumented variable of the Linux and macOS
wheels, pola-rs/polars#23128; other builds ignore it). `configure()` sets it before that import,
for the command about to run, and only when the console script runs (`fidelcli.cli.main`):
importing `fidelcli` or `fidelcli.cli` changes nothing.

Every command declares its profile in `PROFILES` (checked when `cli/app.py` registers it):
- "reduction": the work is a Polars reduction; freed pages are purged on a background thread
  after 1 s instead of on the allocating threads (less system time);
- "model": NumPy/SciPy model work follows a large Polars reduction; freed pages are purged at once,
  so the model work does not stack on the pages the reduction freed (lower peak memory).
Both use one arena per usable CPU instead of four. Values the user sets in `_RJEM_MALLOC_CONF`
come after ours and win; `FIDELCLI_ALLOCATOR=default` leaves the allocator alone. The measurements
are in docs/performance.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence
from typing import Literal

Profile = Literal["reduction", "model"]

# One entry per command of `fidelcli --help`; app.py refuses to register a command missing here.
PROFILES: dict[str, Profile] = {
    "validate": "reduction",
    "rfm": "reduction",
    "kpi": "reduction",
    "cohort": "reduction",
    "clv": "model",
    "subscription": "reduction",
    "churn": "model",
    "roi": "model",
    "loyalty": "model",
    "target": "reduction",
    "recommend": "reduction",
    "journey": "model",
    "privacy": "reduction",
    "report": "model",
    "sample": "reduction",
}
# Root options that take a value (`fidelcli --config x.toml rfm`): skipped when finding the command.
VALUE_OPTIONS = frozenset({"--config", "--engine"})
VARIABLE = "_RJEM_MALLOC_CONF"
OPT_OUT = "FIDELCLI_ALLOCATOR"
DECAY_MS: dict[Profile, int] = {"reduction": 1000, "model": 0}


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand in `argv` (without the program name): the first argument that is neither an
    option nor the value of a root option that takes one."""
    args = iter(argv)
    for arg in args:
        if arg in VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def settings(profile: Profile) -> str:
    """The jemalloc settings of a profile."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return f"background_thread:true,dirty_decay_ms:{DECAY_MS[profile]},muzzy_decay_ms:0,narenas:{max(cpus, 1)}"


def configure(argv: Sequence[str], environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Set `_RJEM_MALLOC_CONF` for the command in `argv`, before Polars is first imported.

    Returns the value set, or None when nothing was set: `FIDELCLI_ALLOCATOR=default`, no known
    command (`fidelcli --help`), or Polars already imported (too late to take effect).
    """
    if environ.get(OPT_OUT, "").strip().lower() == "default" or "polars" in sys.modules:
        return None
    profile = PROFILES.get(command_of(argv) or "")
    if profile is None:
        return None
    value = ",".join(filter(None, [settings(profile), environ.get(VARIABLE)]))
    environ[VARIABLE] = value
    return value
