#!/bin/bash
# Lambda handler, run by the Lambda Web Adapter's /opt/bootstrap wrapper: start the web server the
# adapter forwards every invocation to (it waits for GET $AWS_LWA_READINESS_CHECK_PATH first).
set -euo pipefail

# This is a plain process, not the Python runtime, so it gets none of the runtime's sys.path:
# name this function's directory (app.py), the layers (/opt/python: dependencies and switchyard)
# and, last, the runtime's own directory (where older runtimes keep boto3).
task_root="${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}"
export PYTHONPATH="${task_root}:/opt/python${PYTHONPATH:+:$PYTHONPATH}${LAMBDA_RUNTIME_DIR:+:$LAMBDA_RUNTIME_DIR}"
cd "$task_root"

# Loopback only: nothing but the adapter, inside the sandbox, needs to reach the server.
# --lifespan on: a gateway that cannot open (bad routing config) stops the server, so the
# adapter's readiness check fails the cold start instead of every request failing later.
exec python3 -m uvicorn --factory app:create_app \
    --host 127.0.0.1 --port "${PORT:-8080}" \
    --lifespan on --no-access-log --no-server-header
