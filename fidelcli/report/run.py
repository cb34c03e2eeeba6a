"""The report's output directory: a lock, one directory per run, atomic publication, pruning.

Layout of `DIR`::

    DIR/.lock                 the running report's host and PID (JSON); removed when it ends
    DIR/runs/<timestamp>/     one complete run each (report.html, kpis.json, manifest.json, ...)
    DIR/latest                a symbolic link to the latest complete run (`runs/<timestamp>`)
    DIR/latest.txt            the same as text (`runs/<timestamp>`), for systems without links

A run is written into a temporary directory beside its final name (`fidelcli.io.write.atomic_dir`)
and renamed when complete; only then does `latest` move, by renaming a new link over the old one
(atomic on POSIX). A failed or killed run leaves the previous report as it was; its temporary
directory is removed by the next run once its PID is dead.

Two runs on one directory are kept apart by the lock: it is created with O_EXCL; a lock whose
process is no longer alive on this host (`fidelcli.io.scratch.pid_alive`) is stale and is taken over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from fidelcli.errors import OutputError
from fidelcli.io.scratch import HOST, pid_alive

LOCK = ".lock"
RUNS = "runs"
LATEST = "latest"
POINTER = "latest.txt"


def _holder(lock: Path) -> dict[str, object] | None:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(holder: dict[str, object] | None, lock: Path) -> bool:
    """A lock is stale when its process, on this host, is dead; an unreadable lock older than a
    minute is stale too (its writer died between creating and writing it)."""
    if holder is None:
        try:
            return time.time() - lock.stat().st_mtime > 60
        except OSError:
            return False
    pid = holder.get("pid")
    return holder.get("host") == HOST and isinstance(pid, int) and not pid_alive(pid)


def _try_lock(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"host": HOST, "pid": os.getpid(), "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}, f)
    return True


@contextlib.contextmanager
def locked(directory: Path, *, wait: float = 0.0, poll: float = 0.5) -> Iterator[list[str]]:
    """Hold `directory/.lock` for the block; yields the notes to log (a stale lock taken over).

    Waits up to `wait` seconds for another run to finish.

    Raises
    ------
    OutputError: another live run holds the lock (after `wait`), or the directory cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report directory: {exc.strerror or exc}", file=str(directory)) from None
    lock = directory / LOCK
    notes: list[str] = []
    deadline = time.monotonic() + wait
    while not _try_lock(lock):
        holder = _holder(lock)
        if _stale(holder, lock):
            # Move the stale lock aside under a name of our own: of two runs taking it over at once,
            # only one rename succeeds; the other finds the new lock and waits or is refused.
            aside = lock.with_name(f"{LOCK}.stale-{os.getpid()}")
            try:
                os.rename(lock, aside)
                aside.unlink()
                notes.append(f"took over the stale lock of a dead run (pid {holder.get('pid') if holder else '?'})")
            except OSError:
                pass
            continue
        if time.monotonic() >= deadline:
            who = f"pid {holder.get('pid')}" if holder else "another process"
            raise OutputError(f"another report run ({who}) is writing this directory", file=str(directory),
                              hint="wait for it to finish, or give --wait SECONDS")
        time.sleep(poll)
    try:
        yield notes
    finally:
        holder = _holder(lock)
        if holder is not None and holder.get("pid") == os.getpid() and holder.get("host") == HOST:
            lock.unlink(missing_ok=True)


def run_name(now: dt.datetime, runs: Path) -> str:
    """The run's directory name: its UTC start, `20250101T020000Z` (`-2`, `-3`... when taken)."""
    base = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = base, 1
    while (runs / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def publish(directory: Path, run: Path) -> None:
    """Point `directory/latest` at `run` (a complete run under `directory/runs`), atomically.

    A new link is made beside it and renamed over `latest`; `latest.txt` is rewritten the same way.
    Where links cannot be made, only `latest.txt` is.
    """
    directory = Path(directory)
    target = os.path.relpath(run, directory)
    tmp_pointer = directory / f".{POINTER}.{os.getpid()}.tmp"
    tmp_pointer.write_text(target + "\n", encoding="utf-8")
    os.replace(tmp_pointer, directory / POINTER)
    tmp_link = directory / f".{LATEST}.{os.getpid()}.tmp"
    tmp_link.unlink(missing_ok=True)
    try:
        os.symlink(target, tmp_link, target_is_directory=True)
    except (OSError, NotImplementedError):
        return  # no symbolic links here: latest.txt is the pointer
    latest = directory / LATEST
    if latest.exists() and not latest.is_symlink():
        tmp_link.unlink()
        raise OutputError("is not a link made by fidelcli report; refusing to replace it", file=str(latest), hint="move it away")
    os.replace(tmp_link, latest)


def latest_run(directory: Path) -> Path | None:
    """The run `directory/latest` points at (the link, else latest.txt), or `directory` itself when
    it is a run (holds kpis.json); None when there is none."""
    directory = Path(directory)
    if (directory / "kpis.json").is_file():
        return directory
    link = directory / LATEST
    if link.is_dir():
        return link.resolve()
    pointer = directory / POINTER
    if pointer.is_file():
        run = directory / pointer.read_text(encoding="utf-8").strip()
        return run if run.is_dir() else None
    return None


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove the oldest complete runs so that `keep` remain (never the one `latest` points at)."""
    runs_dir = Path(directory) / RUNS
    if keep < 1 or not runs_dir.is_dir():
        return []
    current = latest_run(directory)
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    removed = []
    for old in runs[: max(len(runs) - keep, 0)]:
        if current is not None and old.resolve() == current.resolve():
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    return removed


def sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def describe_source(source: str) -> dict[str, object]:
    """An input of the manifest: its name (a URI without credentials nor query), and for files their
    size in bytes and SHA-256."""
    if "://" in source:
        scheme, _, rest = source.partition("://")
        host = rest.split("@")[-1].split("?")[0]
        return {"source": f"{scheme}://{host}", "kind": "database"}
    path = Path(source)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.is_file() else []
    return {"source": source, "files": [{"path": str(p), "bytes": p.stat().st_size, "sha256": sha256(p)} for p in files]}
