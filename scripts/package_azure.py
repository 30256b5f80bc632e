"""Build the Azure Functions package: build/azure/ (the app's wwwroot) and build/secretwatch-azure.zip.

Layout, as the Python v2 programming model expects it at the root of the app:

    function_app.py          a two-line entry that imports `app` from functions/azure/function_app.py
    host.json  requirements.txt  .funcignore          (from functions/azure/)
    LICENSE  NOTICE  core/  functions/__init__.py  functions/azure/*.py
    .python_packages/lib/site-packages/               the dependencies, unless --remote-build

By default the dependencies are installed here, as wheels for Linux x86-64 and CPython 3.11, into
`.python_packages`, which the worker puts on sys.path. The zip then runs as it is (zip deploy or
WEBSITE_RUN_FROM_PACKAGE, no build on Azure), with the versions this machine resolved. With --remote-build
they are left out and Azure installs requirements.txt while deploying: deploy with
`az functionapp deployment source config-zip --build-remote true` or set SCM_DO_BUILD_DURING_DEPLOYMENT=true.

    python scripts/package_azure.py [--out build] [--remote-build] [--tuning FILE]

With --tuning (`make package-azure TUNING=FILE`) the tuning file is checked against the packaged rules and
bundled as tuning.yml at the package root; infra/azure's `tuning = "tuning.yml"` sets SECRETWATCH_TUNING.

The zip is reproducible: entries are sorted and carry a fixed timestamp.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from scripts.bundle import PackageError, bundle_tuning, check_tuning, pip_install, prune, shown, write_zip

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = ("host.json", "requirements.txt", ".funcignore")  # from functions/azure/ to the package root
SOURCES = ("LICENSE", "NOTICE", "core", "functions/__init__.py", "functions/azure")
SITE_PACKAGES = Path(".python_packages/lib/site-packages")
PIP_TARGET_FLAGS = (
    "--platform", "manylinux2014_x86_64",
    "--implementation", "cp",
    "--python-version", "3.11",
    "--only-binary=:all:",
)  # fmt: skip
SKIPPED_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", *APP_FILES})
ENTRY_POINT = '''\
"""The file the Azure Functions Python worker indexes; the app lives in functions/azure/function_app.py."""

from __future__ import annotations

from functions.azure.function_app import app

__all__ = ["app"]
'''


def copy_app(root: Path, target: Path) -> None:
    """The entry point, the app's settings files and the sources."""
    (target / "function_app.py").write_text(ENTRY_POINT, encoding="utf-8")
    for name in APP_FILES:
        shutil.copy2(_existing(root / "functions" / "azure" / name), target / name)
    for relative in SOURCES:
        source = _existing(root / relative)
        if source.is_dir():
            shutil.copytree(source, target / relative, ignore=_ignored, dirs_exist_ok=True)
        else:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise PackageError(f"{path} is missing; run this script from a complete checkout")
    return path


def _ignored(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in SKIPPED_NAMES or name.endswith(".pyc")}


def install_dependencies(requirements: Path, target: Path) -> None:
    failure = (
        "pip could not install the Linux x86-64 wheels for Python 3.11 "
        "(is PyPI reachable? --remote-build leaves the install to Azure)"
    )
    pip_install(target, PIP_TARGET_FLAGS, ["--requirement", str(requirements)], failure)


def build(out: Path, *, remote_build: bool = False, root: Path = ROOT, tuning: Path | None = None) -> Path:
    """Build out/azure/ and out/secretwatch-azure.zip from the repository at `root`; return the zip's path."""
    if tuning is not None:
        check_tuning(tuning, root)
    target = out / "azure"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    copy_app(root, target)
    bundle_tuning(tuning, target, 'infra/azure\'s tuning = "tuning.yml" (app setting SECRETWATCH_TUNING)')
    if not remote_build:
        install_dependencies(target / "requirements.txt", target / SITE_PACKAGES)
        prune(target / SITE_PACKAGES)
    archive = out / "secretwatch-azure.zip"
    count = write_zip(target, archive)
    how = "Azure installs requirements.txt" if remote_build else f"dependencies in {SITE_PACKAGES.parts[0]}"
    print(f"{shown(archive)}: {archive.stat().st_size / 1_000_000:.1f} MB, {count} files ({how})")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default: build/)")
    parser.add_argument(
        "--remote-build", action="store_true", help="leave the dependencies out; Azure installs them on deploy"
    )
    parser.add_argument("--tuning", type=Path, help="a tuning file to check and bundle as tuning.yml")
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve(), remote_build=args.remote_build, tuning=args.tuning)
    except PackageError as exc:
        print(f"package-azure: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
