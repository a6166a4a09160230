#!/usr/bin/env bash
# Run a command with LocalStack up: start it (host mode) unless something already
# answers on 127.0.0.1:4566, run the command, and stop LocalStack again only if
# this script started it. The command's exit status is this script's.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

started=0
if ! curl -fsS -m 2 http://127.0.0.1:4566/_localstack/health >/dev/null 2>&1; then
    "$here/start.sh" || { echo "LocalStack could not start; see .localstack/localstack.log" >&2; exit 1; }
    started=1
fi
stop() { if ((started)); then "$here/stop.sh"; fi; }
trap stop EXIT
"$@"
