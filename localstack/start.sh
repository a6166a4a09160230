#!/usr/bin/env bash
# Start LocalStack (S3 + SQS) in host mode, without Docker, for local development.
#
# Idempotent: reuses the venv when LocalStack is already installed at the pinned
# version, and starts nothing when something already answers on the gateway port.
# LocalStack gets a venv of its own because its pins clash with the project's.
# The init hook (init/ready.d/kitteh-bootstrap.sh) creates the buckets and queues;
# this script returns only once that hook has finished, so callers can use S3 at once.
#
# Env: LOCALSTACK_PYTHON (interpreter for the venv, default python3),
#      KITTEH_PYTHON (interpreter for the hook, default the project's .venv),
#      LOCALSTACK_START_TIMEOUT (seconds, default 180).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.localstack"
VENV="$STATE/venv"
FS="$STATE/fs"
PIDFILE="$STATE/localstack.pid"
LOG="$STATE/localstack.log"
VERSION="4.13.1"
GATEWAY="127.0.0.1:4566"
TIMEOUT="${LOCALSTACK_START_TIMEOUT:-180}"
started_at=$EPOCHREALTIME

elapsed() { awk -v a="$started_at" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

pid_alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/${GATEWAY%:*}/${GATEWAY#*:}") 2>/dev/null; }

if ! pid_alive && port_open; then
    if curl -fsS -m 2 "http://$GATEWAY/_localstack/health" >/dev/null 2>&1; then
        echo "A LocalStack not started by this script answers on $GATEWAY; using it as it is."
        exit 0
    fi
    echo "Something that is not LocalStack listens on $GATEWAY; not starting LocalStack." >&2
    exit 1
fi

mkdir -p "$STATE"

installed="$("$VENV/bin/python" -c \
    'import importlib.metadata as m; print(m.version("localstack-core"))' 2>/dev/null || true)"
if [[ "$installed" != "$VERSION" ]]; then
    echo "Installing localstack-core $VERSION into $VENV ..."
    "${LOCALSTACK_PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "localstack-core[runtime]==$VERSION" "cbor2<6" "pyopenssl<26" \
        "localstack-twisted==24.3.0"
    echo "Installed in $(elapsed) s."
fi

# Copied rather than linked so the hook LocalStack runs is the one in the tree now.
HOOKS="$FS/etc/localstack/init/ready.d"
mkdir -p "$HOOKS"
install -m 0755 "$ROOT/localstack/init/ready.d/kitteh-bootstrap.sh" "$HOOKS/"

if pid_alive; then
    echo "LocalStack (pid $(cat "$PIDFILE")) is already running; waiting until it is ready."
else
    [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
    export KITTEH_ROOT="$ROOT"
    export KITTEH_PYTHON="${KITTEH_PYTHON:-$ROOT/.venv/bin/python}"
    # setsid: LocalStack leads its own process group, so stop.sh can end it and its
    # children without touching anything else.
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$FS" GATEWAY_LISTEN="$GATEWAY" \
        GATEWAY_SERVER=hypercorn SERVICES=s3,sqs DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 \
        DISABLE_EVENTS=1 SQS_ENDPOINT_STRATEGY=path LOCALSTACK_HOST="$GATEWAY" \
        setsid nohup "$VENV/bin/python" -m localstack.runtime.main \
        >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    echo "LocalStack starting (pid $(cat "$PIDFILE")), log: $LOG"
fi

fail() {
    echo "LocalStack did not become ready: $1" >&2
    echo "---- last lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2 || true
    "$ROOT/localstack/stop.sh" >&2 || true
    exit 1
}

# /health answers before the init hooks have run; only init/ready says the
# buckets and queues exist.
deadline=$((SECONDS + TIMEOUT))
while :; do
    ready="$(curl -fsS -m 2 "http://$GATEWAY/_localstack/init/ready" 2>/dev/null || true)"
    if [[ "$ready" =~ \"completed\":\ *true ]]; then
        [[ "$ready" =~ \"state\":\ *\"ERROR\" ]] && fail "an init hook failed: $ready"
        break
    fi
    pid_alive || fail "the process exited"
    ((SECONDS < deadline)) || fail "no init/ready after ${TIMEOUT} s"
    sleep 0.5
done
echo "LocalStack ready on http://$GATEWAY in $(elapsed) s."
