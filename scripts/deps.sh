#!/usr/bin/env bash
# Installs the system packages Temper builds and tests with (Debian 12, as root). Safe to run again.
#   bash scripts/deps.sh app    # what the desktop app and the CLI build with (WebKitGTK, Node for the UI)
#   bash scripts/deps.sh test   # that, plus what the tests run (Xvfb, WebKitWebDriver, tauri-driver, gnome-keyring)
set -euo pipefail
mode="${1:-test}"
packages=(build-essential pkg-config libssl-dev libdbus-1-dev curl ca-certificates openssl file
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev)
if [ "$mode" = test ]; then
  packages+=(gnome-keyring dbus webkit2gtk-driver xvfb xauth python3-venv bluez)
fi
node_ok() { command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]; }
node_ok || packages+=(nodejs npm)
if [ "$(id -u)" -ne 0 ]; then
  missing=$(dpkg-query -W -f='${Status} ${Package}\n' "${packages[@]}" 2>/dev/null | grep -vc '^install ok installed' || true)
  if [ "$missing" != "0" ]; then
    echo "temper: run as root (or: sudo apt-get install ${packages[*]})" >&2
    exit 1
  fi
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
# The GUI tests drive the app through tauri-driver (WebDriver in front of WebKitWebDriver).
if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi
# The zephyr-sensor tests talk to the simulator with the real MCUmgr client smpmgr (PyPI) and sign its
# images with MCUboot's imgtool (PyPI); the BLE tests scan the simulated BlueZ with bleak (PyPI) and
# bluetoothctl (Debian's bluez), pair through an agent served with dbus-fast and hand-build SMP frames with
# cbor2 (both named here, not left to arrive with bleak and imgtool). The Python tools live in this venv.
if [ "$mode" = test ]; then
  [ -x /var/tmp/temper-venv/bin/pip ] || python3 -m venv /var/tmp/temper-venv
  [ -x /var/tmp/temper-venv/bin/smpmgr ] || /var/tmp/temper-venv/bin/pip install -q 'smpmgr==0.19.*'
  [ -x /var/tmp/temper-venv/bin/imgtool ] || /var/tmp/temper-venv/bin/pip install -q 'imgtool==2.5.*'
  /var/tmp/temper-venv/bin/python -c 'import bleak' 2>/dev/null || /var/tmp/temper-venv/bin/pip install -q 'bleak==3.1.*'
  /var/tmp/temper-venv/bin/python -c 'import cbor2, dbus_fast' 2>/dev/null \
    || /var/tmp/temper-venv/bin/pip install -q 'cbor2>=5.4' 'dbus-fast>=2.0'
fi
