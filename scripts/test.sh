#!/usr/bin/env bash
# Installs what the tests need and runs every test: formatting, lints, unit, integration and end-to-end tests
# (real PTYs, real sockets on loopback, real SQLCipher files). .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the built binaries (temper, temper-devsim).
cargo build --workspace --bins --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

