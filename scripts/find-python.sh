#!/usr/bin/env bash
# Print the path of a CPython of the version Lambda runs Kitteh on, or say what to install.
#
#   scripts/find-python.sh            -> e.g. /root/.pyenv/versions/3.13.0/bin/python3.13
#   scripts/find-python.sh --runtime  -> the version alone, e.g. 3.13
#
# The version is the one `runtime` in zappa_settings.json names (one for every stage): the
# project's .venv, the package, the tests and the bench all run on it, so that what is tested
# is what Lambda runs. Looked for on PATH first (python3.13, then python3), then in pyenv's
# versions; PYTHON=/path/to/python overrides the search but must still be that version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

runtimes="$(grep -oE '"runtime"[[:space:]]*:[[:space:]]*"python[0-9.]+"' "$root/zappa_settings.json" \
    | grep -oE '[0-9]+\.[0-9]+' | sort -u)"
if [[ "$(wc -w <<<"$runtimes")" -ne 1 ]]; then
    echo "find-python.sh: zappa_settings.json must name one runtime for every stage, not: $runtimes" >&2
    exit 2
fi
want="$runtimes"
if [[ "${1:-}" == "--runtime" ]]; then echo "$want"; exit 0; fi

# True when $1 runs and is CPython $want (a pyenv shim for a version not selected fails here).
is_wanted() {
    [[ -n "$1" ]] && "$1" -c "import sys; sys.exit(not (sys.implementation.name == 'cpython' \
        and '%d.%d' % sys.version_info[:2] == '$want'))" >/dev/null 2>&1
}

if [[ -n "${PYTHON:-}" ]]; then
    if is_wanted "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
    echo "find-python.sh: PYTHON=$PYTHON is not CPython $want (Lambda's python$want)." >&2
    exit 1
fi
for candidate in "python$want" python3; do
    exe="$(command -v "$candidate" || true)"
    if is_wanted "$exe"; then echo "$exe"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
    # Newest installed patch release first.
    for version in $(pyenv versions --bare 2>/dev/null | grep -E "^$want\.[0-9]+$" | sort -t. -k3 -rn); do
        exe="$(pyenv prefix "$version")/bin/python$want"
        if is_wanted "$exe"; then echo "$exe"; exit 0; fi
    done
fi
cat >&2 <<EOF
Kitteh needs CPython $want: Lambda runs it on python$want (zappa_settings.json), and the
project's .venv, tests and package use the same version. None was found on PATH or in pyenv.
Install one, then run the command again:
  pyenv:   pyenv install $want
  uv:      uv python install $want   (then PYTHON=\$(uv python find $want) make ...)
  Debian/Ubuntu: apt-get install python$want python$want-venv   (where the release has it)
  macOS:   brew install python@$want
Or point PYTHON at one: PYTHON=/path/to/python$want make run
EOF
exit 1
