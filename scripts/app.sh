#!/usr/bin/env bash
# Installs what Temper needs, builds it, and runs it. With a display, the desktop app opens (its empty device list
# offers "Try with a simulated device"); on a headless machine the CLI demo plugs in a simulated IP camera on a
# real pseudo-terminal and commissions it, printing the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh app
target="${CARGO_TARGET_DIR:-target}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  bash scripts/ui.sh
  cargo build --release --locked -p temper-app -p temper-cli -p temper-devsim
  exec "$target/release/temper-app" "$@"
fi
echo "No display: running the CLI demo instead of the desktop app." >&2
cargo build --release --locked -p temper-cli -p temper-devsim
exec "$target/release/temper" demo "$@"
