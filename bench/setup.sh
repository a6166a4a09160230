#!/usr/bin/env bash
# Install what `make bench` needs: Debian's ImageMagick (the old app's resizer, a
# baseline) and bench/requirements.txt into the project venv.
# Usage: bench/setup.sh [VENV]   (default: <repo>/.venv)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/../.venv}"

real_imagemagick() {
    # PATH may hold a stand-in `convert`, so ask each candidate what it is.
    local exe
    for exe in "$(command -v convert || true)" /usr/bin/convert /usr/bin/convert-im6.q16; do
        [ -n "$exe" ] && [ -x "$exe" ] && "$exe" -version 2>/dev/null \
            | head -n1 | grep -q '^Version: ImageMagick' && return 0
    done
    return 1
}

if ! real_imagemagick; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/setup.sh: ImageMagick missing and not root; apt-get install imagemagick" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends imagemagick
fi

"$venv/bin/python" -m pip install -q --require-hashes -r "$here/requirements.txt"
