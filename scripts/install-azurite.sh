#!/usr/bin/env sh
# Install the Azurite storage emulator (npm package `azurite`) into .tools/node_modules, once.
# Idempotent and quiet: `make test` calls it; the Azure Tables tests find .tools/node_modules/.bin/azurite-table.
# Needs Node.js 18+ and npm; without them it says so and exits 0, and those tests skip.
set -eu

AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
INSTALLED="$TOOLS/node_modules/azurite/package.json"

if [ -x "$TOOLS/node_modules/.bin/azurite-table" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$INSTALLED" 2>/dev/null; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-azurite: npm not found; install Node.js 18+ to run the Azure Tables tests (they skip meanwhile)" >&2
    exit 0
fi

mkdir -p "$TOOLS"
npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error --no-package-lock \
    "azurite@$AZURITE_VERSION" >/dev/null
