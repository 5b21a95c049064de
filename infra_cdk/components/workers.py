"""Queue workers: one Lambda per registry ``QueueWorker``, fed by its queue through an
event source mapping that reports partial batch failures. A record that keeps failing is
redriven to the queue's DLQ after ``max_receive_count`` deliveries (set on the queue)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra_cdk.components.data import DataStore
from infra_cdk.components.runtime import FunctionSpec, LambdaRuntime
from registry import QueueWorker


class QueueWorkers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workers: tuple[QueueWorker, ...],
        runtime: LambdaRuntime,
        data: DataStore,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        for worker in workers:
            queue = data.queues.get(worker.queue)
            if queue is None:
                raise ValueError(f"worker {worker.name} reads queue {worker.queue!r}, not in molesignal.resources")
            # Lambda refuses a mapping whose queue would redeliver a message the function is
            # still processing; AWS recommends 6x the timeout, the hard floor is 1x.
            visibility_s = data.queue_defs[worker.queue].visibility_timeout_s
            if visibility_s < worker.timeout_s:
                raise ValueError(
                    f"queue {worker.queue!r}: visibility timeout {visibility_s} s is shorter "
                    f"than worker {worker.name}'s timeout {worker.timeout_s} s"
                )
            function = runtime.function(
                self,
                FunctionSpec(
                    worker.name, worker.handler, worker.memory_mb, worker.timeout_s, worker.description, worker.layers
                ),
            )
            # Lambda takes no batching window for a FIFO queue: its batches follow the groups.
            fifo = data.queue_defs[worker.queue].fifo
            window = None if fifo else Duration.seconds(worker.max_batching_window_s)
            function.add_event_source(
                event_sources.SqsEventSource(
                    queue,
                    batch_size=worker.batch_size,
                    max_batching_window=window,
                    report_batch_item_failures=True,
                )
            )
            self.functions[worker.name] = function
