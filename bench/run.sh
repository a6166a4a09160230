#!/usr/bin/env bash
# `make bench`: install the bench's extras if missing, then run every part.
# Writes bench/results.json and bench/RESULTS.md. Extra args go to bench/run.py
# (e.g. --inputs phone12.jpg, --no-stack). BENCH_CPU picks the pinned core (default 0).
#
# The stack part needs LocalStack and PostgreSQL (127.0.0.1:5432, or
# KITTEH_TEST_POSTGRES_URL): the run goes through localstack/with-localstack.sh, which
# starts LocalStack when nothing answers on 127.0.0.1:4566 and stops it afterwards only
# if it started it. --no-stack skips the stack part and LocalStack altogether.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BENCH_VENV:-$root/.venv}"
cd "$root"
if ! "$venv/bin/python" -c "import pyvips, numpy, skimage" 2>/dev/null \
    || ! "$venv/bin/python" -c "from bench.common import find_convert as f; assert f()" 2>/dev/null
then
    "$root/bench/setup.sh" "$venv"
fi
for arg in "$@"; do
    if [[ "$arg" == "--no-stack" ]]; then
        exec "$venv/bin/python" -m bench.run "$@"
    fi
done
exec "$root/localstack/with-localstack.sh" "$venv/bin/python" -m bench.run "$@"
