#!/usr/bin/env bash
# Builds the desktop app's front end (ui/ → ui/dist, embedded into temper-app at compile time).
#   bash scripts/ui.sh          # install the locked npm packages and build
#   bash scripts/ui.sh test     # the same, then the UI's unit tests (Vitest)
set -euo pipefail
cd "$(dirname "$0")/../ui"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
if [ "${1:-}" = test ]; then
  npm test --silent
fi
