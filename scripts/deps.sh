#!/usr/bin/env bash
# Installs the system packages Temper builds and tests with (Debian 12, as root). Safe to run again.
set -euo pipefail
packages=(build-essential pkg-config libssl-dev curl ca-certificates openssl gnome-keyring dbus)
if [ "$(id -u)" -ne 0 ]; then
  missing=$(dpkg-query -W -f='${Status} ${Package}\n' "${packages[@]}" 2>/dev/null | grep -vc '^install ok installed' || true)
  if [ "$missing" != "0" ]; then
    echo "temper: run as root (or: sudo apt-get install ${packages[*]})" >&2
    exit 1
  fi
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
