#!/usr/bin/env bash
# Stop the LocalStack that start.sh started, and nothing else (found by PID file).
# LocalStack sometimes hangs on SIGTERM, so it gets 10 s before SIGKILL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIDFILE="$ROOT/.localstack/localstack.pid"

if [[ ! -f "$PIDFILE" ]]; then
    echo "No $PIDFILE: nothing started by start.sh."
    exit 0
fi
pid="$(cat "$PIDFILE")"
if ! kill -0 "$pid" 2>/dev/null; then
    echo "LocalStack (pid $pid) is not running."
    rm -f "$PIDFILE"
    exit 0
fi

# start.sh ran it under setsid, so its process group is its own and also holds the
# hook's and LocalStack's children; signal the group only if that is still true.
target="$pid"
if [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then
    target="-$pid"
fi

kill -TERM -- "$target" 2>/dev/null || true
for _ in $(seq 1 20); do
    kill -0 -- "$target" 2>/dev/null || break
    sleep 0.5
done
if kill -0 -- "$target" 2>/dev/null; then
    echo "LocalStack (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL."
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.5
fi
rm -f "$PIDFILE"
echo "LocalStack (pid $pid) stopped."
