"""Logger and metrics singletons shared by every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="molesignal")
metrics = Metrics(namespace="MoleSignal", service="molesignal")
