#!/usr/bin/env bash
# LocalStack init hook (ready stage): create Kitteh's buckets, queues, notification
# and CORS by running ops.bootstrap, which is idempotent.
#
# Runs in two places, hence the two defaults:
#   host mode (localstack/start.sh): KITTEH_ROOT and KITTEH_PYTHON (the project's
#     .venv) are exported by start.sh;
#   docker-compose: the project's ops/ and kitteh/ are mounted under /opt/kitteh and
#     LocalStack's own interpreter runs them: its venv has boto3 (LocalStack needs it),
#     which the image's system python3 is not promised to have.
set -euo pipefail

root="${KITTEH_ROOT:-/opt/kitteh}"
python="${KITTEH_PYTHON:-}"
if [[ -z "$python" ]]; then
    python=/opt/code/localstack/.venv/bin/python
    [[ -x "$python" ]] || python=python3
fi

# LocalStack accepts any credentials, but derives the account id from the access
# key; fixed test keys keep the ARNs (and the queue policy) predictable, and keep
# a developer's real AWS profile out of it.
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="${KITTEH_BOOTSTRAP_ENDPOINT:-http://127.0.0.1:4566}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

echo "kitteh-bootstrap: $python -m ops.bootstrap against $AWS_ENDPOINT_URL"
exec "$python" -m ops.bootstrap
