#!/usr/bin/env bash
# Regenerates the committed protobuf modules of the ingest decoders from the vendored schemas:
#   layers/core/python/molesignal/ingest/proto/{loki_push,prometheus_remote}.proto
#     -> *_pb2.py (runtime code) and *_pb2.pyi (type stubs for mypy)
#
# Uses grpcio-tools' bundled protoc (`python -m grpc_tools.protoc`, which also puts the
# well-known types such as google/protobuf/timestamp.proto on the include path). The
# generated code checks the protobuf runtime at import: it needs a runtime of the same
# major version as the protoc that generated it, and not older (see the header of each
# *_pb2.py for the version; requirements/runtime.txt pins the runtime).
#
# Usage: scripts/gen_protos.sh            (from anywhere; uses .venv/bin/python if present)
#        PYTHON=python3 scripts/gen_protos.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python="${PYTHON:-$repo/.venv/bin/python}"
root="layers/core/python"
out="$root/molesignal/ingest/proto"

"$python" -m grpc_tools.protoc --version
"$python" -m grpc_tools.protoc -I"$root" --python_out="$root" --pyi_out="$root" \
  "$out/loki_push.proto" "$out/prometheus_remote.proto"

# Generated code is not ours to lint, type-check or reformat; these headers keep
# `ruff check`, `ruff format --check` and `mypy --strict` quiet about it.
header='# ruff: noqa
# mypy: ignore-errors
# fmt: off'
for generated in "$out"/loki_push_pb2.py "$out"/loki_push_pb2.pyi \
                 "$out"/prometheus_remote_pb2.py "$out"/prometheus_remote_pb2.pyi; do
  { printf '%s\n' "$header"; cat "$generated"; } > "$generated.tmp"
  mv "$generated.tmp" "$generated"
done

# Smoke test: the generated modules import and round-trip with the installed runtime.
"$python" - <<'EOF'
from molesignal.ingest.proto import loki_push_pb2, prometheus_remote_pb2

req = prometheus_remote_pb2.WriteRequest()
req.timeseries.add().labels.add(name="__name__", value="up")
assert prometheus_remote_pb2.WriteRequest.FromString(req.SerializeToString()) == req
push = loki_push_pb2.PushRequest()
push.streams.add(labels='{job="x"}').entries.add(line=b"hello")
assert loki_push_pb2.PushRequest.FromString(push.SerializeToString()) == push
print("generated modules import and round-trip")
EOF
