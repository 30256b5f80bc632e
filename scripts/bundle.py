"""What the cloud packagers share: installing wheels into a folder, tidying it, zipping it reproducibly."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.errors import ConfigError, RuleError
from core.rules.loader import load_rules
from core.rules.tuning import load_tuning

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record: same inputs, same bytes


#: Where a bundled tuning file sits in every package: SECRETWATCH_TUNING names it relative to the package root.
TUNING_NAME = "tuning.yml"


class PackageError(Exception):
    """A package cannot be built; the message says why."""


def check_tuning(tuning: Path, root: Path) -> None:
    """Refuse a tuning file the deployed function would refuse at cold start (against the rules packaged from root).

    Checked before anything is built, so a bad file leaves the previous build as it was.
    """
    if not tuning.is_file():
        raise PackageError(f"TUNING={tuning}: no such file (a path relative to the repository, or absolute)")
    try:
        rules = load_rules([root / "core" / "rules"])
        load_tuning(tuning, rules).apply(rules)
    except (ConfigError, RuleError) as exc:
        raise PackageError(str(exc)) from None


def bundle_tuning(tuning: Path | None, target: Path, setting: str) -> None:
    """Copy a checked tuning file to target/tuning.yml and say which deployment `setting` must name it."""
    if tuning is None:
        return
    shutil.copyfile(tuning, target / TUNING_NAME)
    print(f"{shown(tuning.resolve())} bundled as {TUNING_NAME}: deploy with {setting}")


def pip_install(target: Path, platform_flags: Sequence[str], requirements: Sequence[str], failure: str) -> None:
    """Install `requirements` (pip arguments) into `target` for the function's platform; PackageError if pip fails."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        *platform_flags, "--target", str(target), *requirements,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackageError(f"{failure}:\n" + (done.stderr.strip() or done.stdout.strip()))


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
