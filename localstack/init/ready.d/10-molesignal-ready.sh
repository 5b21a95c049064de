#!/bin/bash
# Runs inside the LocalStack container once its services are ready.
#
# It deliberately creates nothing. The MoleSignal stack is deployed from the same CDK
# template as in AWS (`cdklocal bootstrap && cdklocal deploy`), and the test suite
# provisions its own uniquely named tables, buckets, queues and secrets through
# molesignal.provision. Creating resources here would give LocalStack a third,
# hand-written definition that could drift from both.
set -euo pipefail

echo "molesignal: LocalStack is ready (region ${AWS_DEFAULT_REGION:-us-east-1}, services: ${SERVICES:-all})"
echo "molesignal: nothing provisioned by this hook; next: cdklocal bootstrap && cdklocal deploy (localstack/README.md)"
