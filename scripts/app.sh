#!/usr/bin/env bash
# Installs what Temper needs, builds it, and runs its main job: until the desktop app exists, the demo plugs in
# a simulated IP camera on a real pseudo-terminal and commissions it with the CLI, printing the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked -p temper-cli -p temper-devsim
exec "${CARGO_TARGET_DIR:-target}/release/temper" demo "$@"
