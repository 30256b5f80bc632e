"""What `secretwatch scan` reads: files, folders walked recursively, or stdin; `.gz` files decompressed as read.

A folder gives its files (not its folders) at any depth, in sorted path order. A `.gz` file is decompressed as a
stream, so core.sources.documents applies the same per-line and per-document caps as to a plain file and a
gzip bomb is never held whole.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from core.errors import ConfigError, SecretwatchError
from core.sources.documents import iter_numbered_documents


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    stream: BinaryIO
    #: bytes the documents add up to, for the progress meter; 0 when unknown (stdin, a .gz file)
    size: int


def input_files(paths: Sequence[str]) -> list[str]:
    """The files `paths` name, folders expanded recursively in sorted order; "-" stays stdin; usage error if missing."""
    files: list[str] = []
    for name in list(paths) or ["-"]:
        path = Path(name)
        if name == "-" or path.is_file():
            files.append(name)
        elif path.is_dir():
            files.extend(str(found) for found in sorted(path.rglob("*")) if found.is_file())
        else:
            raise ConfigError(f"cannot read {name}: no such file or folder")
    return files


def open_inputs(paths: Sequence[str], stack: ExitStack) -> Iterator[Input]:
    """An Input for each file `paths` name (see input_files), opened on `stack`."""
    for name in input_files(paths):
        if name == "-":
            yield Input("<stdin>", sys.stdin.buffer, 0)
        elif name.endswith(".gz"):
            stream = stack.enter_context(gzip.open(name, "rb"))  # noqa: SIM115 (the stack closes it)
            yield Input(name, cast(BinaryIO, stream), 0)
        else:
            path = Path(name)
            yield Input(name, stack.enter_context(path.open("rb")), path.stat().st_size)


def read_documents(source: Input) -> Iterator[tuple[int, bytes]]:
    """(line number where it starts, document) for each document of one input; a corrupt .gz file is one line
    naming it."""
    try:
        yield from iter_numbered_documents(source.stream)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise SecretwatchError(f"cannot read {source.name}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, gzip.BadGzipFile):
        return "not a gzip file, though its name ends in .gz"
    if isinstance(exc, zlib.error):
        return "its gzip stream is corrupt"
    if isinstance(exc, EOFError):
        return "the gzip stream ends early (a truncated download?)"
    return f"read failed ({type(exc).__name__})"
