#!/bin/sh
# A streaming function's handler: the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# runs this, waits for the server on $PORT, and streams its answers to the function URL's caller.
# The layers (/opt/python) and the function code come first on the path, as for a Python handler.
export PYTHONPATH="/opt/python:${LAMBDA_TASK_ROOT:-.}${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn stream_server:create_app --factory --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log
