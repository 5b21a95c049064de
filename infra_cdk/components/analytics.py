"""The Athena engine's catalogue and workgroup.

A Glue database holds one table per (org, stream); ``molesignal.lake.glue`` creates and
updates them at run time from the stream schemas (partition projection, no crawler:
docs/adr/0005-athena-partition-projection.md). The workgroup runs on Athena engine v3 and
writes results to the exports bucket under ``athena-results/``, where they expire after a
day: MoleSignal reads a result once, through GetQueryResults, right after the query ends.
"""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.nag import acknowledge, arn_token

RESULTS_PREFIX = "athena-results/"
RESULTS_EXPIRE_DAYS = 1
ENGINE_VERSION = "Athena engine version 3"

ATHENA_ACTIONS = (
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
)
GLUE_ACTIONS = ("glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable")
RESULTS_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")


def glue_database_name(prefix: str) -> str:
    """Glue names are lower case letters, digits and ``_``: ``molesignal-dev`` → ``molesignal_dev``."""
    return re.sub(r"[^a-z0-9_]", "_", prefix.lower())


class Analytics(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, results: s3.Bucket) -> None:
        super().__init__(scope, construct_id)
        self._results = results
        stack = Stack.of(self)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=glue_database_name(prefix),
                description="MoleSignal lake tables, one per org and stream (managed by the query function)",
            ),
        )
        self.output_location = f"s3://{results.bucket_name}/{RESULTS_PREFIX}"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{prefix}-query",
            description="MoleSignal queries that outgrow the embedded engine",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version=ENGINE_VERSION),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.output_location,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        results.add_lifecycle_rule(
            id="ExpireAthenaResults", prefix=RESULTS_PREFIX, expiration=Duration.days(RESULTS_EXPIRE_DAYS)
        )

    def environment(self) -> dict[str, str]:
        return {
            "MOLESIGNAL_ATHENA_DATABASE": self.database.ref,
            "MOLESIGNAL_ATHENA_WORKGROUP": self.workgroup.ref,
            "MOLESIGNAL_ATHENA_OUTPUT": self.output_location,
        }

    def grant_query(self, role: iam.Role) -> None:
        """Run queries in the workgroup, keep the database's tables, and use the results prefix.

        Reading the lake itself (Athena reads with the caller's credentials) is the
        ``read_buckets=("lake",)`` grant in ``infra_cdk.permissions``.
        """
        stack = Stack.of(self)
        workgroup = stack.format_arn(service="athena", resource="workgroup", resource_name=self.workgroup.ref)
        catalog = stack.format_arn(service="glue", resource="catalog")
        database = stack.format_arn(service="glue", resource="database", resource_name=self.database.ref)
        tables = stack.format_arn(service="glue", resource="table", resource_name=f"{self.database.ref}/*")
        statements = [
            iam.PolicyStatement(actions=list(ATHENA_ACTIONS), resources=[workgroup]),
            iam.PolicyStatement(actions=list(GLUE_ACTIONS), resources=[catalog, database, tables]),
            iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[self._results.bucket_arn]),
            # Listing is confined to the results prefix: export files of other orgs stay unlisted.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self._results.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{RESULTS_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                actions=list(RESULTS_OBJECT_ACTIONS), resources=[self._results.arn_for_objects(f"{RESULTS_PREFIX}*")]
            ),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        database_id = Stack.of(self).get_logical_id(self.database)
        glue_tables = f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/<{database_id}>/*"
        acknowledge(role, "IAM5", "IAM5-glue-tables", finding=f"Resource::{glue_tables}")
        acknowledge(
            role, "IAM5", "IAM5-athena-results", finding=f"Resource::{arn_token(self._results)}/{RESULTS_PREFIX}*"
        )
