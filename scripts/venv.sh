#!/usr/bin/env bash
# Make VENV on the runtime's CPython and install a lock file into it, every hash checked.
#
#   scripts/venv.sh VENV LOCK     (Makefile: requirements-local.txt for `make run`,
#                                  requirements-dev.txt for `make test`)
#
# A venv on another Python version (say, one made before the move to python3.13) is made
# anew: the tests must run on the version Lambda runs (scripts/find-python.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$1"
lock="$2"

python="$("$root/scripts/find-python.sh")"
want="$("$root/scripts/find-python.sh" --runtime)"
have="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
    [[ -n "$have" ]] && echo "$venv runs Python $have, not $want: making it anew."
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
# --require-hashes: nothing is installed that the lock does not name with its hash.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
