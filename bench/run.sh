#!/usr/bin/env bash
# `make bench`: install the bench's extras if missing, then run every part.
# Writes bench/results.json and bench/RESULTS.md. Extra args go to bench/run.py
# (e.g. --inputs phone12.jpg, --stack). BENCH_CPU picks the pinned core (default 0).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BENCH_VENV:-$root/.venv}"
cd "$root"
if ! "$venv/bin/python" -c "import pyvips, numpy, scipy" 2>/dev/null \
    || ! "$venv/bin/python" -c "from bench.common import find_convert as f; assert f()" 2>/dev/null
then
    "$root/bench/setup.sh" "$venv"
fi
exec "$venv/bin/python" -m bench.run "$@"
