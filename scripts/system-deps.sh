#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium (browser tests) and Tesseract (receipt OCR).
# Installs only what is missing; needs root (as on the development and CI machines).
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v tesseract >/dev/null || missing+=(tesseract-ocr tesseract-ocr-eng)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "please install: ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
