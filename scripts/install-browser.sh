#!/usr/bin/env bash
# The browser tests (pytest -m browser) drive Debian's Chromium through Playwright:
# `playwright install` downloads a browser build of its own, which CI cannot fetch.
# Installs the `chromium` package when /usr/bin/chromium is missing. Needs root.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser.sh: /usr/bin/chromium is missing and installing it needs root:" >&2
    echo "  sudo $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(/usr/bin/chromium --version)"
