"""Reproducible zips and tidy package folders, shared by the three cloud packagers."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record: same inputs, same bytes


def files(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file())


def write_zip(source: Path, archive: Path) -> int:
    """Zip every file under `source` reproducibly into `archive`; return the number of files."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    entries = sorted(files(source))
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in entries:
            entry = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            bundle.writestr(entry, path.read_bytes())
    return len(entries)


def prune(target: Path) -> None:
    """Drop what pip leaves that a function never uses: byte-code caches and console scripts."""
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    shutil.rmtree(target / "bin", ignore_errors=True)


def shown(path: Path) -> str:
    """The path relative to the working directory when it is inside it, for messages."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
