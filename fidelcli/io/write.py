"""Write frames by extension, atomically: a temporary file beside the target, then a rename."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from fidelcli.errors import InputError

FORMATS = ("csv", "parquet", "json", "jsonl", "xlsx")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it into place only if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror or exc}", file=str(target), hint="choose a writable directory") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; the result gets the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary directory; it replaces `target` only if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror or exc}", file=str(target), hint="choose a writable directory") from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def format_of(path: Path) -> str:
    """The output format from the extension; raises InputError for an unknown one."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise InputError(f"cannot write {ext or 'a file without extension'!r}", file=str(path), hint=f"use one of: {', '.join(FORMATS)}")
    return ext


def _plain(df: pl.DataFrame) -> pl.DataFrame:
    """Nested or object columns are not writable to CSV: encode them as JSON text."""
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    return df.with_columns(pl.col(c).map_elements(json.dumps, return_dtype=pl.String) for c in nested) if nested else df


WRITERS: dict[str, Callable[[pl.DataFrame, Path], None]] = {
    "csv": lambda df, p: _plain(df).write_csv(p),
    "parquet": lambda df, p: df.write_parquet(p),
    "json": lambda df, p: df.write_json(p),
    "jsonl": lambda df, p: df.write_ndjson(p),
    "xlsx": lambda df, p: df.write_excel(p, autofit=True),
}


def write_frame(df: pl.DataFrame, path: Path) -> Path:
    """Write `df` to `path` in the format its extension names, atomically."""
    fmt = format_of(path)
    with atomic_path(Path(path)) as tmp:
        WRITERS[fmt](df, tmp)
    return Path(path)


def write_lazy(lf: pl.LazyFrame, path: Path) -> Path:
    """Stream a lazy plan to `path` (csv, parquet, jsonl) without materialising it, atomically."""
    fmt = format_of(path)
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
    data = obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj  # type: ignore[union-attr]
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return Path(path)
