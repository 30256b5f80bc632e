#!/usr/bin/env bash
# The test suite on a fresh clone of HEAD in a new temporary folder, with no shared/ beside it: what a
# newcomer's clone holds. Every test must pass or skip there.
#
# Nothing is installed again: the clone uses this checkout's .venv and .tools (run `make test` first). The
# venv's editable install points at this checkout, so the clone goes first on PYTHONPATH, for pytest and for
# every interpreter a test starts. Only pytest runs: lint and typecheck do not depend on where the clone is.
# Uncommitted changes are not in the clone.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
    echo "test-bare-clone: $python is missing; run make test (or make venv) first" >&2
    exit 2
fi

parent="$(mktemp -d)"
trap 'rm -rf -- "$parent"' EXIT
clone="$parent/secretwatch"
git clone --quiet "$root" "$clone"
if [ -d "$root/.tools" ]; then
    ln -s "$root/.tools" "$clone/.tools"
fi
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
    echo "test-bare-clone: the checkout has uncommitted changes; testing commit $(git -C "$clone" rev-parse --short HEAD) only" >&2
fi
echo "test-bare-clone: $(git -C "$clone" rev-parse --short HEAD) in $clone (no shared/ beside it)"

cd "$clone"
PYTHONPATH="$clone" "$python" -m pytest -q -p no:cacheprovider "$@"
