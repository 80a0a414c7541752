#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond the data: chromium, the browser the web guide's
# tests drive (tests/test_web_browser.py, through Playwright; Playwright never downloads a browser of its own).
# Needs root (or sudo). Idempotent and quiet: nothing is downloaded when the packages are there.
# Where it cannot install (no apt-get, no root), it says so and exits 0: the browser tests then skip locally
# and fail in CI (CI=true), which is where a missing browser must not pass unnoticed.
set -euo pipefail
PACKAGES=(chromium)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-test: no apt-get here (not Debian/Ubuntu); install ${missing[*]} yourself, or set" \
       "DLCANON_CHROMIUM to a Chromium binary; the browser tests skip without one" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
  echo "install-system-test: needs root to install ${missing[*]}; run: sudo $0" >&2
  exit 0
fi
echo "install-system-test: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
