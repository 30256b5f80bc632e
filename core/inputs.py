"""What `secretwatch scan` reads: files, folders walked recursively, object storage prefixes, or stdin.

A folder gives its files (not its folders) at any depth, sorted by path, a log's rotated backups just before
the log itself (core.archives.order). `s3://`, `gs://` and `az://` URIs give the objects under them, sorted by
key (core.remote). A file or object that is gzip, by its `.gz` name or its magic bytes, is decompressed as a
stream, so core.sources.documents applies the same per-line and per-document caps as to a plain file and a
gzip bomb is never held whole. Each input is opened when its turn comes and closed at its end.

Lines as a CloudWatch Logs export writes them, `<time> <message>`, are read as the DATA_MESSAGE CloudWatch
would have delivered (core.archives.cloudwatch); every other archive layout is JSON Lines already.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.archives.cloudwatch import EXPORT_PROBE, as_data_messages, is_audit_export
from core.archives.order import archive_order
from core.archives.streams import is_gzip_file, open_archive
from core.errors import ConfigError, InputError
from core.remote import is_remote, list_objects
from core.sources.documents import iter_pieces
from core.sources.skim import Piece, Skimmer


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    stream: BinaryIO
    #: bytes the documents add up to, for the progress meter; 0 when unknown (stdin, a gzip file)
    size: int


def input_files(paths: Sequence[str]) -> list[str]:
    """The local files `paths` name, folders expanded recursively in archive order (a folder walk leaves out the
    permission probe a CloudWatch export writes); "-" stays stdin; usage error if missing."""
    files: list[str] = []
    for name in list(paths) or ["-"]:
        path = Path(name)
        if name == "-" or path.is_file():
            files.append(name)
        elif path.is_dir():
            found = (item for item in path.rglob("*") if item.is_file() and item.name != EXPORT_PROBE)
            files.extend(str(item) for item in sorted(found, key=lambda item: archive_order(item.parts)))
        else:
            raise ConfigError(f"cannot read {name}: no such file or folder")
    return files


def open_inputs(paths: Sequence[str], stack: ExitStack) -> Iterator[Input]:
    """An Input for each file or object `paths` name, every path checked and every prefix listed before the first
    is yielded; each stream is registered on `stack`, and opened at its first read."""
    sources = [source for name in list(paths) or ["-"] for source in _sources(name)]
    for source in sources:
        if source.stream is not sys.stdin.buffer:
            stack.callback(source.stream.close)
        yield source


def read_documents(source: Input, skimmer: Skimmer | None = None) -> Iterator[Piece]:
    """(line number where it starts, document) for each document of one input, and with a `skimmer` runs of lines
    no rule can match counted (core.sources.skim). A read that fails (a corrupt gzip stream, say) raises an
    InputError naming the input, once the documents before the fault are given."""
    if skimmer is not None and is_audit_export(source.name):
        skimmer = skimmer.for_export()
    try:
        yield from as_data_messages(iter_pieces(source.stream, skimmer), source.name)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise InputError(f"cannot read {source.name}: {_reason(exc)}") from None


def _sources(name: str) -> list[Input]:
    if is_remote(name):
        return [
            Input(item.name, open_archive(item.open, gzip_name=_gz(item.name)), 0 if _gz(item.name) else item.size)
            for item in list_objects(name)
        ]
    return [_local(file) for file in input_files([name])]


def _local(name: str) -> Input:
    if name == "-":
        return Input("<stdin>", sys.stdin.buffer, 0)
    path = Path(name)
    gzipped = _gz(name) or is_gzip_file(name)
    return Input(name, open_archive(lambda: path.open("rb"), gzip_name=gzipped), 0 if gzipped else path.stat().st_size)


def _gz(name: str) -> bool:
    return name.endswith(".gz")


def _reason(exc: Exception) -> str:
    if isinstance(exc, gzip.BadGzipFile):
        return "not a gzip file, though its name ends in .gz"
    if isinstance(exc, zlib.error):
        return "its gzip stream is corrupt"
    if isinstance(exc, EOFError):
        return "the gzip stream ends early (a truncated download?)"
    return f"read failed ({type(exc).__name__})"
