#!/usr/bin/env bash
# Installs what the tests need and runs every test: the UI's unit tests, formatting, lints, unit, integration and
# end-to-end tests (real PTYs, real sockets on loopback, real SQLCipher files) and the desktop app's GUI tests in a
# real WebKit window under Xvfb. .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
# The app embeds ui/dist at compile time, so the front end is built (and unit-tested) first.
bash scripts/ui.sh test
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the built binaries (temper, temper-devsim, temper-app).
cargo build --workspace --bins --locked
# The tests run inside a private D-Bus session with an unlocked gnome-keyring, so the OS-keyring key source is
# tested against a real Secret Service.
if cargo nextest --version >/dev/null 2>&1; then
  bash scripts/with-secret-service.sh cargo nextest run --workspace --locked --no-fail-fast
else
  bash scripts/with-secret-service.sh cargo test --workspace --locked --no-fail-fast
fi
