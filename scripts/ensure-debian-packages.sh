#!/usr/bin/env bash
# What the tests need from Debian: a PostgreSQL server (storage tests run on it too), Chromium
# (PDF and PNG rendering of reports), poppler-utils (pdftoppm/pdftotext to check those renderings)
# and a CJK font (Chinese text in the PDFs). Installed with apt-get when missing.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
# (grep reads all of fc-list's output: with -q it would stop early, fc-list would die of SIGPIPE and
# pipefail would call the font missing)
fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "the tests need these Debian packages: ${missing[*]} (apt-get install them as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${missing[*]} ..." >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
