#!/usr/bin/env bash
# Installs Debian's Keystone + Glance (+ the CLI, for manual checks) for the OpenStack suite.
# Idempotent: exits at once when everything is already installed.
set -euo pipefail

pkgs=(keystone glance-api python3-openstackclient uwsgi-plugin-python3 curl)

missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully configured package.
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi

# The packaged services start themselves on install (0.0.0.0:5000 / :9292) unless invoke-rc.d
# is told not to; a policy that exits 101 forbids every start. Keep an existing policy as is.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# Written by scripts/openstack/install.sh: packaged services must not start.\nexit 101\n' \
    >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
fi

export DEBIAN_FRONTEND=noninteractive
echo "install.sh: installing ${missing[*]}" >&2
apt-get update -qq
# Without --no-install-recommends this pulls ~150 more packages (scipy, gdal, gtk...).
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
