#!/usr/bin/env bash
# Runs CMD [ARG...] with a private D-Bus session bus and an unlocked gnome-keyring Secret Service, for tests of
# the OS-keyring key source. Works headless and as root:
#   bash scripts/with-secret-service.sh cargo test -p temper-core --test keys
# CMD sees TEMPER_TEST_SECRET_SERVICE=1, DBUS_SESSION_BUS_ADDRESS of the private bus, and HOME/XDG_DATA_HOME in a
# throwaway directory (so the keyring file never touches the real home; CARGO_HOME/RUSTUP_HOME keep pointing at
# the real toolchain). Exits with CMD's status. Needs: apt-get install -y gnome-keyring dbus
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool not found; install it with: apt-get install -y gnome-keyring dbus" >&2
    exit 2
  fi
done

if [ -z "${TEMPER_SECRET_SERVICE_INNER:-}" ]; then
  # Keep the toolchain reachable once HOME moves.
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
  export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export TEMPER_SECRET_SERVICE_INNER=1
  exec dbus-run-session -- bash "$0" "$@"
fi
unset TEMPER_SECRET_SERVICE_INNER

tmp="$(mktemp -d "${TMPDIR:-/tmp}/temper-secret-service.XXXXXX")"
keyring_pid=""
cleanup() {
  if [ -n "$keyring_pid" ]; then kill "$keyring_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

export HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"

# A throwaway password: the keyring lives in $tmp and is deleted on exit.
password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# --unlock reads the password from stdin, creates the login keyring with it and starts the daemon in the
# background; its stdout is environment assignments we do not need.
printf '%s' "$password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null

# Wait until the daemon owns org.freedesktop.secrets; otherwise D-Bus activation would start a second daemon that
# fails with "Object does not exist at path .../collection/login".
has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
    string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
for _ in $(seq 1 100); do
  if has_owner; then break; fi
  sleep 0.1
done
if ! has_owner; then
  echo "error: gnome-keyring-daemon did not take org.freedesktop.secrets within 10 s" >&2
  exit 1
fi
keyring_pid="$(dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
  org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ {print $2}')"

export TEMPER_TEST_SECRET_SERVICE=1
set +e
"$@"
status=$?
set -e
exit "$status"
