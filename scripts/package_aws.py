"""Build the AWS Lambda package: build/aws/ (what template.yaml's CodeUri points at) and build/secretwatch-aws.zip.

The package holds LICENSE and NOTICE, `core/` (less `core/demo/`, the CLI's demo traffic), `functions/__init__.py`,
`functions/aws/` and the runtime dependencies for Lambda's Python 3.11 on arm64, read from pyproject.toml
(the base dependencies plus the `aws` extra). boto3 and botocore are left out: the Lambda runtime provides
them. Nothing for Google Cloud or Azure goes in.

    python scripts/package_aws.py [--out build] [--tuning FILE]

With --tuning (`make package-aws TUNING=FILE`) the tuning file is checked against the packaged rules and
bundled as tuning.yml at the package root; deploy with the template's `Tuning=tuning.yml` (infra/aws:
`tuning = "tuning.yml"`), which sets SECRETWATCH_TUNING.

The zip is reproducible: entries are sorted and carry a fixed timestamp, so the same inputs give the same
bytes and Terraform's source_code_hash changes only when the code or a dependency does.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from scripts.bundle import PackageError, bundle_tuning, check_tuning, pip_install, prune, shown, write_zip

ROOT = Path(__file__).resolve().parents[1]
#: Provided by the Lambda Python runtime; bundling them would only add megabytes.
IN_RUNTIME = frozenset({"boto3", "botocore"})
PIP_TARGET_FLAGS = (
    "--platform", "manylinux2014_aarch64",
    "--implementation", "cp",
    "--python-version", "3.11",
    "--only-binary=:all:",
)  # fmt: skip
SOURCES = ("LICENSE", "NOTICE", "core", "functions/__init__.py", "functions/aws")
NOT_PACKAGED = frozenset({"core/demo"})
SKIPPED_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache"})


def runtime_requirements(pyproject: Path) -> list[str]:
    """The requirement strings the function needs at run time, minus what the Lambda runtime provides."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = [*project.get("dependencies", []), *project.get("optional-dependencies", {}).get("aws", [])]
    return [req for req in wanted if _name(req) not in IN_RUNTIME]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if match is None:
        raise PackageError(f"pyproject.toml: cannot read the package name in requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def install_dependencies(requirements: Iterable[str], target: Path) -> None:
    failure = "pip could not install the arm64 wheels for Python 3.11 (is PyPI reachable?)"
    pip_install(target, PIP_TARGET_FLAGS, [*requirements], failure)


def copy_sources(root: Path, target: Path) -> None:
    def ignored(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).relative_to(root)
        return {name for name in names if _skipped(name) or (here / name).as_posix() in NOT_PACKAGED}

    for relative in SOURCES:
        source = root / relative
        if not source.exists():
            raise PackageError(f"{source} is missing; the package needs {', '.join(SOURCES)}")
        if source.is_dir():
            shutil.copytree(source, target / relative, ignore=ignored, dirs_exist_ok=True)
        else:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


def _skipped(name: str) -> bool:
    return name in SKIPPED_NAMES or name.endswith(".pyc")


def build(out: Path, root: Path = ROOT, *, tuning: Path | None = None) -> Path:
    """Build out/aws/ and out/secretwatch-aws.zip from the repository at `root`; return the zip's path."""
    if tuning is not None:
        check_tuning(tuning, root)
    target = out / "aws"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    install_dependencies(runtime_requirements(root / "pyproject.toml"), target)
    copy_sources(root, target)
    prune(target)
    bundle_tuning(tuning, target, 'the template\'s Tuning=tuning.yml (infra/aws: tuning = "tuning.yml")')
    archive = out / "secretwatch-aws.zip"
    count = write_zip(target, archive)
    print(f"{shown(archive)}: {archive.stat().st_size / 1_000_000:.1f} MB, {count} files")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default: build/)")
    parser.add_argument("--tuning", type=Path, help="a tuning file to check and bundle as tuning.yml")
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve(), tuning=args.tuning)
    except PackageError as exc:
        print(f"package-aws: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
