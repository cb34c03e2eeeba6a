"""Read a JSON file that may come from anywhere (a model file): bounded, plain data, never code.

`read_json` refuses, with an error naming the file, what Python's `json` would either accept
silently or fail on with a bare exception: a file larger than a limit, bytes that are not UTF-8
(a pickle, in particular: it is never unpickled, since unpickling can run code), nesting deeper than
a limit (`json` raises RecursionError from about 1,000 levels), NaN and Infinity (not JSON, though
`json` reads them) and numbers that overflow to them (`1e999`), integers longer than a limit (Python
refuses to convert one of more than 4,300 digits with a ValueError), and repeated keys (`json`
silently keeps the last one).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fidelcli.errors import InputError

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 32
MAX_INT_DIGITS = 40  # larger than any count or index a model holds (2**64 has 20 digits)
PICKLE_PROTOCOLS = range(2, 6)  # a pickle of protocol 2 to 5 starts with 0x80 and the protocol number


class _Refused(Exception):
    """Raised by the parser hooks; turned into the caller's error class with the file name."""


def _hooks(what: str) -> dict[str, Any]:
    """`json.loads` hooks refusing what is not plain, finite, bounded JSON."""

    def constant(name: str) -> Any:
        raise _Refused(f"{name} in the {what}: only finite numbers are allowed")

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise _Refused(f"number {_short(text)} in the {what} is too large for a finite float")
        return value

    def integer(text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > MAX_INT_DIGITS:
            raise _Refused(f"integer of {digits:,} digits in the {what} (at most {MAX_INT_DIGITS})")
        return int(text)

    def obj(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:  # the first key met a second time
                if k in seen:
                    raise _Refused(f"key {_short(k)!r} repeated in an object of the {what}")
                seen.add(k)
        return out

    return {"parse_constant": constant, "parse_float": number, "parse_int": integer, "object_pairs_hook": obj}


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else f"{text[:n]}..."


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON: 0 for a scalar, 1 for `[1, 2]`, 2 for `{"a": [1]}` (no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in item if isinstance(child, dict | list))
    return deepest


def read_json(
    path: str | Path,
    *,
    what: str = "JSON file",
    hint: str | None = None,
    error: type[InputError] = InputError,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse a JSON file into plain Python data (dict, list, str, int, float, bool, None).

    Parameters
    ----------
    path
        The file; its name as given is the `file` of every error.
    what
        What the file should be, in the messages (`churn model file`).
    hint
        The action shown with every error (e.g. how to write a valid file).
    error
        The InputError subclass raised (`ModelFileError` for model files).
    max_bytes, max_depth
        Largest file size read, deepest nesting of arrays and objects accepted.

    Raises
    ------
    InputError (the `error` class)
        Missing or unreadable, larger than `max_bytes`, a pickle, not UTF-8, not JSON, nested
        deeper than `max_depth`, NaN or Infinity or a number overflowing to them, an integer of more
        than 40 digits, or a repeated key.

    Example
    -------
    >>> doc = read_json("churn.json", what="churn model file", error=ModelFileError)  # doctest: +SKIP
    """
    file = str(path)

    def refuse(message: str) -> InputError:
        return error(message, file=file, hint=hint)

    p = Path(path)
    limit = f"{max_bytes / 2**20:,.0f} MiB"
    try:
        if p.is_dir():
            raise refuse(f"a directory, not a {what}")
        size = p.stat().st_size
        if size > max_bytes:
            raise refuse(f"{what} of {size / 2**20:,.0f} MiB, larger than the {limit} limit")
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # a file that grows (or a device) is still read within the limit
    except FileNotFoundError:
        raise refuse(f"{what} not found") from None
    except OSError as exc:
        raise refuse(f"cannot read the {what}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > max_bytes:
        raise refuse(f"{what} larger than the {limit} limit")
    if len(data) >= 2 and data[0] == 0x80 and data[1] in PICKLE_PROTOCOLS:
        raise refuse(f"a Python pickle, not a {what} (JSON): pickles are never loaded, since loading one can run code")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(f"not a {what}: not UTF-8 text (byte {exc.start + 1})") from None
    try:
        doc = json.loads(text, **_hooks(what))
    except _Refused as exc:
        raise refuse(str(exc)) from None
    except RecursionError:
        raise refuse(f"{what} nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise refuse(f"not a {what}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # a number Python cannot convert (the hooks should catch them first)
        raise refuse(f"not a {what}: {exc}") from None
    if depth(doc) > max_depth:
        raise refuse(f"{what} nested deeper than {max_depth} levels")
    return doc


def schema_problem(exc: ValidationError, what: str, *, root: str = "") -> str:
    """The first violation of a Pydantic schema, in one line without the offending value (`root`:
    the path of the validated part in the document):
    `content outside the churn model file's schema at body.model.trees[3].value[0]: input should be a finite number`."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in (root, *first["loc"]) if p != "").lstrip(".")
    msg = first["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"content outside the {what}'s schema at {loc or 'the top level'}: {msg}{more}"
