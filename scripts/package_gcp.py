"""Assemble the Cloud Function's source upload: build/gcp/ (and, with --zip, an archive of it).

    python scripts/package_gcp.py [--out build/gcp] [--zip build/gcp.zip] [--tuning FILE]

Cloud Functions wants the entry module as main.py at the root of the upload and installs requirements.txt
from there. The upload therefore holds:

    main.py            a shim re-exporting functions.gcp.main.handle_pubsub (entry point handle_pubsub)
    LICENSE  NOTICE    the licence and the credits for the ported rules
    requirements.txt   functions/gcp/requirements.txt
    core/              the shared core with its rule files, less core/demo (the CLI's demo traffic)
    functions/         functions/__init__.py and functions/gcp/ only (the other doors need other SDKs)
    tuning.yml         with --tuning FILE (`make package-gcp TUNING=FILE`) only, checked against the rules;
                       infra/gcp's `tuning = "tuning.yml"` sets SECRETWATCH_TUNING

The output folder is replaced on every run. The archive is deterministic (sorted entries, fixed times), so
an unchanged source gives the same object in Cloud Storage and Terraform sees no change.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from scripts.bundle import PackageError, bundle_tuning, check_tuning, write_zip

REPO = Path(__file__).resolve().parents[1]
SHIM = '''"""Cloud Functions entry point `handle_pubsub`; the code lives in functions/gcp/main.py."""

from __future__ import annotations

from functions.gcp.main import handle_pubsub

__all__ = ["handle_pubsub"]
'''
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
_NOT_UPLOADED = {REPO / "core" / "demo"}
#: the licence and the credits for the ported rules, at the upload's root
LEGAL = ("LICENSE", "NOTICE")


def assemble(out: Path, tuning: Path | None = None) -> list[Path]:
    """Write the upload into `out` (replacing it) and return its files; PackageError for a bad tuning file."""
    if tuning is not None:
        check_tuning(tuning, REPO)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "main.py").write_text(SHIM)
    for name in LEGAL:
        shutil.copy2(REPO / name, out / name)
    shutil.copy2(REPO / "functions" / "gcp" / "requirements.txt", out / "requirements.txt")
    shutil.copytree(REPO / "core", out / "core", ignore=_ignored)
    (out / "functions").mkdir()
    shutil.copy2(REPO / "functions" / "__init__.py", out / "functions" / "__init__.py")
    shutil.copytree(REPO / "functions" / "gcp", out / "functions" / "gcp", ignore=_SKIPPED)
    (out / "functions" / "gcp" / "requirements.txt").unlink()  # only the root copy is read
    bundle_tuning(tuning, out, 'infra/gcp\'s tuning = "tuning.yml" (SECRETWATCH_TUNING)')
    return sorted(path for path in out.rglob("*") if path.is_file())


def _ignored(directory: str, names: list[str]) -> set[str]:
    left_out = {name for name in names if Path(directory, name) in _NOT_UPLOADED}
    return set(_SKIPPED(directory, names)) | left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble the Cloud Function source upload.")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "gcp", help="folder to write (replaced)")
    parser.add_argument("--zip", type=Path, default=None, help="also write this zip archive of the folder")
    parser.add_argument("--tuning", type=Path, help="a tuning file to check and bundle as tuning.yml")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        files = assemble(out, args.tuning)
    except PackageError as exc:
        print(f"package-gcp: {exc}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in files)
    print(f"{out}: {len(files)} files, {size / 1024:.0f} KiB")
    if args.zip is not None:
        write_zip(out, args.zip)
        print(f"{args.zip}: {args.zip.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
