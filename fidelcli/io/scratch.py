"""Scratch space of a run: temporary directories that a killed run does not leave behind for long.

Transcoded copies of inputs (Windows-1252 or UTF-16 to UTF-8) and spooled standard input hold the
whole input, personal data included. They live in the system's temporary directory, in folders named
`fidelcli-<host>-<pid>-<random>`; they are removed when the run exits, and a run killed before that
(SIGKILL, power loss) has its folders removed by the next run that makes one, once its PID is dead.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

# Names carry a short hash of the host: a temporary directory shared over the network may hold the
# folders of live runs on other hosts, whose PIDs mean nothing here.
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_SCRATCH = re.compile(r"^fidelcli-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-")
_MINE: list[str] = []


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (True when that cannot be known)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there: never clean another process's files
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def remove_stale_scratch(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of dead runs of this host under `root` (the temporary directory)."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        match = _SCRATCH.match(entry.name)
        if match is None or match["host"] != HOST or not entry.is_dir(follow_symlinks=False):
            continue
        pid = int(match["pid"])
        if entry.path in _MINE or (pid != os.getpid() and pid_alive(pid)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def scratch_dir() -> Path:
    """A new private folder for this run, removed at exit; stale folders of dead runs go first."""
    remove_stale_scratch()
    path = tempfile.mkdtemp(prefix=f"fidelcli-{HOST}-{os.getpid()}-")
    _MINE.append(path)
    return Path(path)


@atexit.register
def _cleanup() -> None:
    for path in _MINE:
        shutil.rmtree(path, ignore_errors=True)
