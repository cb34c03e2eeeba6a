"""Write frames by extension, atomically: a temporary file beside the target, then a rename.

Faults never leave a partial or stale output and never destroy an input:

- The temporary is in the target's directory (the rename stays on one filesystem, so it is atomic)
  and is named after its writer: `.out.csv.fidelcli-<host>-<pid>-<random>.tmp`. A run killed with
  SIGKILL cannot remove its own; the next write into that directory removes those whose writer is
  no longer alive on this host (`remove_stale_temporaries`).
- The CLI registers the files a command reads (`protect_inputs`); a write over one of them is
  refused, whatever path names it.
- `atomic_dir` never replaces the current directory or one of its parents.

Every refusal or failure to write is an `OutputError` naming the target (exit 2 in the CLI).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from fidelcli.errors import OutputError
from fidelcli.io.rounding import round_frame, rounding_exprs
from fidelcli.io.scratch import HOST, pid_alive

FORMATS = ("csv", "parquet", "json", "jsonl", "xlsx")

# Temporaries are marked with a short hash of the host name: a directory shared over the network
# may hold those of live writers on other hosts, whose PIDs mean nothing here.
_TEMPORARY = re.compile(r"^\..*\.fidelcli-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[^.]+\.(?:tmp|old)$")
# Temporaries of this process still in use: a leftover with our PID is from a dead process that had it.
_IN_USE: set[str] = set()
# Files the running command reads, by (device, inode), with their resolved paths.
_INPUTS: dict[tuple[int, int], Path] = {}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(target: Path) -> str:
    return f".{target.name}.fidelcli-{HOST}-{os.getpid()}-"




def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove the temporaries left in `directory` by writers of this module that are no longer alive.

    Only names of the form `.NAME.fidelcli-<host>-<pid>-<random>.tmp` (or `.old`, a directory being
    replaced) written on this host are considered; a temporary whose writer still runs is kept.

    Returns
    -------
    The paths removed.
    """
    removed: list[Path] = []
    try:
        names = [e.name for e in os.scandir(directory) if e.name.startswith(".")]
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match["host"] != HOST:
            continue
        path = os.path.join(os.path.abspath(directory), name)
        pid = int(match["pid"])
        if path in _IN_USE or (pid != os.getpid() and pid_alive(pid)):
            continue
        try:
            _remove(path)
        except OSError:  # removed meanwhile by another writer, or not ours to remove
            continue
        removed.append(Path(path))
    return removed


def protect_inputs(paths: Iterable[Path]) -> None:
    """Refuse, until `forget_inputs()`, any write through this module over these files.

    The CLI registers the files a command reads: an output written over one of them would destroy
    the data while it is still being read (Polars reads lazily), through any path naming the file
    (a symbolic or hard link included). Files that do not exist are ignored.
    """
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        _INPUTS[(st.st_dev, st.st_ino)] = Path(path).resolve()


def forget_inputs() -> None:
    """Forget the files registered by `protect_inputs` (a new command starts)."""
    _INPUTS.clear()


def check_not_input(target: Path, *, what: str = "the output") -> None:
    """Raise OutputError if writing `target` would replace a file registered by `protect_inputs`:
    `target` is that file (by any path), or a directory holding one."""
    try:
        st = os.stat(target)
    except OSError:
        return  # nothing there: no input to destroy
    resolved = Path(target).resolve()
    if (st.st_dev, st.st_ino) in _INPUTS or any(p.is_relative_to(resolved) for p in _INPUTS.values()):
        raise OutputError(
            f"{what} is an input of this command; refusing to overwrite it", file=str(target), hint="write the output to another path"
        )


def check_writable(target: Path, *, directory: bool = False) -> None:
    """Raise OutputError, before any work is done, if `target` cannot be written atomically.

    A file output needs an existing, writable parent directory and must not be a directory itself;
    a directory output (`directory=True`) may have missing parents, made when it is written, but
    its nearest existing ancestor must be a writable directory and it must not be a file.
    """
    target = Path(target)
    if directory and target.exists() and not target.is_dir():
        raise OutputError("is not a directory", file=str(target), hint="give the path of a directory to write")
    if not directory and target.is_dir():
        raise OutputError("is a directory", file=str(target), hint=f"give a file name, e.g. {target / 'result.csv'}")
    parent = target.parent
    if directory:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.exists():
        raise OutputError(
            f"cannot write here: no such directory {parent}", file=str(target), hint=f"create it first (mkdir -p {parent}) or choose another path"
        )
    if not parent.is_dir():
        raise OutputError(f"cannot write here: {parent} is not a directory", file=str(target), hint="choose a writable directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write here: no permission to write in {parent}", file=str(target), hint="choose a writable directory")


def check_not_cwd(target: Path) -> None:
    """Raise OutputError if `target` is the current directory or one of its parents (replacing it
    would delete the directory the user works in)."""
    resolved = Path(target).resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise OutputError(
            "is the current directory or one of its parents; refusing to replace it",
            file=str(target),
            hint="write into a new directory, e.g. ./sample_data",
        )


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it into place only if the block succeeds.

    Raises
    ------
    OutputError: the directory cannot be written, or `target` is an input of the running command.
    """
    target = Path(target)
    check_not_input(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=str(target), hint="choose a writable directory") from None
    key = os.path.abspath(tmp)
    _IN_USE.add(key)
    try:
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; the result gets the usual permissions
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _IN_USE.discard(key)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary directory; it replaces `target` only if the block succeeds.

    On Linux the two are swapped in one step (`renameat2(RENAME_EXCHANGE)`): `target` is never
    missing; elsewhere the previous content is moved aside just before the new one moves in. The
    previous content is removed once the new one is in place.

    Raises
    ------
    OutputError: the directory cannot be written, `target` is the current directory or one of its
        parents, or it holds an input of the running command.
    """
    target = Path(target)
    check_not_cwd(target)
    check_not_input(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)
        tmp = tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=str(target), hint="choose a writable directory") from None
    tmp_key = os.path.abspath(tmp)
    _IN_USE.add(tmp_key)
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
        yield Path(tmp)
        if not (target.exists() or target.is_symlink()):
            os.replace(tmp, target)
        elif not _exchange(tmp, target):
            # No atomic swap here: move the old content aside, then the new one in (a moment without target).
            old = os.path.join(os.path.dirname(tmp_key), f"{_prefix(target)}{secrets.token_hex(4)}.old")
            _IN_USE.add(old)
            try:
                os.replace(target, old)
                try:
                    os.replace(tmp, target)
                except OSError:
                    os.replace(old, target)  # put the previous content back
                    raise
                _remove_quietly(old)
            finally:
                _IN_USE.discard(old)
    finally:
        _remove_quietly(tmp)  # the new content if it failed, the old one after a swap
        _IN_USE.discard(tmp_key)


def _remove_quietly(path: str) -> None:
    try:
        _remove(path)
    except OSError:  # already gone, or partly: the next write here removes the rest
        pass


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str | Path, b: str | Path) -> bool:
    """Swap two paths in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`); False where the system
    or the filesystem cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # glibc before 2.28, another libc
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def format_of(path: Path) -> str:
    """The output format from the extension; raises OutputError for an unknown one."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise OutputError(f"cannot write {ext or 'a file without extension'!r}", file=str(path), hint=f"use one of: {', '.join(FORMATS)}")
    return ext


def nested_as_json(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with its nested columns (lists, structs) as JSON text: CSV cannot hold them (the terminal's
    CSV and the written files show them the same way)."""
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    return df.with_columns(pl.col(c).map_elements(json.dumps, return_dtype=pl.String) for c in nested) if nested else df


# A fixed creation date: XlsxWriter stamps the workbook with the time of writing otherwise, and the
# same result would not give the same bytes (its zip entries are already dated 1980).
_XLSX_CREATED = dt.datetime(1980, 1, 1)


def _write_xlsx(df: pl.DataFrame, path: Path) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as workbook:
        workbook.set_properties({"created": _XLSX_CREATED})
        df.write_excel(workbook, autofit=True)


WRITERS: dict[str, Callable[[pl.DataFrame, Path], None]] = {
    "csv": lambda df, p: nested_as_json(df).write_csv(p),
    "parquet": lambda df, p: df.write_parquet(p),
    "json": lambda df, p: df.write_json(p),
    "jsonl": lambda df, p: df.write_ndjson(p),
    "xlsx": _write_xlsx,
}


def write_frame(df: pl.DataFrame, path: Path) -> Path:
    """Write `df` to `path` in the format its extension names, atomically.

    Numbers are written as `fidelcli.io.rounding.round_frame` rounds them (money to the cent, rates
    to 6 decimals, whole counts as integers, NaN and infinities as null; docs/output.md), so that
    identical inputs give identical bytes.
    """
    fmt = format_of(path)
    df = round_frame(df)
    with atomic_path(Path(path)) as tmp:
        WRITERS[fmt](df, tmp)
    return Path(path)


def write_lazy(lf: pl.LazyFrame, path: Path) -> Path:
    """Stream a lazy plan to `path` (csv, parquet, jsonl) without materialising it, atomically.

    Float columns are rounded by the kind their name says (`rounding_exprs`; counts stay floats).
    """
    fmt = format_of(path)
    schema = lf.collect_schema()
    if any(t.is_float() for t in schema.dtypes()):
        lf = lf.with_columns(rounding_exprs(schema))
    with atomic_path(Path(path)) as tmp:
        if fmt == "parquet":
            lf.sink_parquet(tmp)
        elif fmt == "csv":
            lf.sink_csv(tmp)
        elif fmt == "jsonl":
            lf.sink_ndjson(tmp)
        else:
            WRITERS[fmt](lf.collect(engine="streaming"), tmp)
    return Path(path)


def write_json(obj: object, path: Path) -> Path:
    """Write a JSON document atomically (Pydantic models through `model_dump(mode="json")`)."""
    data = obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return Path(path)
