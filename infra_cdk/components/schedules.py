"""Scheduled functions: one Lambda per registry ``ScheduledFunction``, invoked by an
EventBridge rule with the registry's ``rate(...)`` expression."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.components.runtime import FunctionSpec, LambdaRuntime
from infra_cdk.naming import pascal
from registry import ScheduledFunction


class ScheduledJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        schedules: tuple[ScheduledFunction, ...],
        runtime: LambdaRuntime,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        self.rules: dict[str, events.Rule] = {}
        for job in schedules:
            function = runtime.function(
                self, FunctionSpec(job.name, job.handler, job.memory_mb, job.timeout_s, job.description, job.layers)
            )
            self.rules[job.name] = events.Rule(
                self,
                f"{pascal(job.name)}Schedule",
                description=f"runs {job.name}: {job.schedule}",
                schedule=events.Schedule.expression(job.schedule),
                # A missed run is picked up by the next one; do not pile up retries.
                targets=[targets.LambdaFunction(function, retry_attempts=2, max_event_age=Duration.hours(1))],
            )
            self.functions[job.name] = function
