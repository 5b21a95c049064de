"""Idempotent provisioning of ``molesignal.resources`` against whatever AWS_ENDPOINT_URL names.

Used by ``make dev`` and the tests. In AWS the CDK stack creates the same resources.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from molesignal import aws
from molesignal.resources import RESOURCES, KeyDef, QueueDef, Resources, TableDef, Tiering
from molesignal.settings import get_settings


def provision(resources: Resources = RESOURCES) -> dict[str, Any]:
    """Create every table, bucket, queue/DLQ, secret and the Glue database that does not exist yet."""
    settings = get_settings()
    created: dict[str, Any] = {"table": _ensure_table(resources.table)}
    for bucket in resources.buckets:
        created[f"bucket:{bucket.logical}"] = _ensure_bucket(settings.resource_name(bucket.logical))
        if bucket.tiering is not None:
            _ensure_tiering(settings.resource_name(bucket.logical), bucket.tiering)
    for queue in resources.queues:
        created[f"queue:{queue.logical}"] = ensure_queue(queue)
    for key in resources.keys:
        created[f"key:{key.logical}"] = _ensure_kms_key(settings.kms_alias(key.logical), key)
    for secret in resources.secrets:
        created[f"secret:{secret.logical}"] = _ensure_secret(
            settings.resource_name(secret.logical), secret.generate_bytes, secret.description
        )
    created["glue:database"] = _ensure_glue_database()
    if settings.alert_email_from:
        created["ses:identity"] = _ensure_email_identity(settings.alert_email_from)
    return created


def _ensure_email_identity(address: str) -> str:
    """The alert sender, verified (the emulator verifies at once; in AWS the operator verifies
    the identity the stack is given, docs/deploy.md)."""
    ses = aws.client("ses")
    verified = ses.list_identities(IdentityType="EmailAddress").get("Identities", [])
    if address not in verified:
        ses.verify_email_identity(EmailAddress=address)
    return address


def _ensure_glue_database() -> str:
    """The Glue database that holds the Athena engine's per-stream tables."""
    glue = aws.client("glue")
    name = get_settings().athena_database
    try:
        glue.get_database(Name=name)
        return name
    except glue.exceptions.EntityNotFoundException:
        pass
    try:
        glue.create_database(DatabaseInput={"Name": name, "Description": "MoleSignal lake tables (Athena engine)"})
    except glue.exceptions.AlreadyExistsException:
        return name  # a concurrent provision() made it
    return name


def create_table_request(table: TableDef, name: str) -> dict[str, Any]:
    """``CreateTable``'s parameters for ``table`` (on-demand, its key, every index projecting all)."""
    attributes = {table.partition_key.name: table.partition_key.type, table.sort_key.name: table.sort_key.type}
    for index in table.indexes:
        attributes[index.partition_key.name] = index.partition_key.type
        attributes[index.sort_key.name] = index.sort_key.type
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": v} for k, v in attributes.items()],
        "KeySchema": [
            {"AttributeName": table.partition_key.name, "KeyType": "HASH"},
            {"AttributeName": table.sort_key.name, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in table.indexes
        ],
    }


def _ensure_table(table: TableDef) -> str:
    ddb = aws.client("dynamodb")
    name = get_settings().resource_name(table.logical)
    existing = ddb.list_tables()["TableNames"]
    if name in existing:
        return name
    ddb.create_table(**create_table_request(table, name))
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ddb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
    )
    return name


def _ensure_bucket(name: str) -> str:
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=name)
        return name
    except s3.exceptions.ClientError:
        pass
    region = get_settings().aws_region
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return name


def lifecycle_rules(tiering: Tiering) -> list[dict[str, Any]]:
    """The S3 lifecycle rules of a tiering, in the API's shape (the CDK stack declares the same)."""
    return [
        {
            "ID": "trace-tiers",
            "Status": "Enabled",
            "Filter": {
                "And": {"Prefix": tiering.prefix, "Tags": [{"Key": tiering.tag_key, "Value": tiering.tag_auto}]}
            },
            "Transitions": [
                {"Days": tiering.warm_after_days, "StorageClass": "STANDARD_IA"},
                {"Days": tiering.cold_after_days, "StorageClass": "GLACIER"},
            ],
        }
    ]


def _ensure_tiering(bucket: str, tiering: Tiering) -> None:
    # Stored by the emulator, never applied there: molesignal.traces.tiers applies the same numbers.
    aws.client("s3").put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle_rules(tiering)}
    )


def ensure_queue(queue: QueueDef) -> dict[str, str]:
    """Create a queue and its DLQ with the redrive policy; return both URLs."""
    sqs = aws.client("sqs")
    settings = get_settings()
    # A FIFO queue's DLQ must be FIFO too; both are FIFO from creation (it cannot be changed).
    fifo = {"FifoQueue": "true"} if queue.fifo else {}
    dlq_url = sqs.create_queue(
        QueueName=settings.queue_name(queue.dlq_logical),
        Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_s), **fifo},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=settings.queue_name(queue.logical), Attributes=fifo)["QueueUrl"]
    # Set attributes separately: create_queue refuses to change attributes of an existing queue.
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
            ),
        },
    )
    return {"url": url, "dlq_url": dlq_url}


def _ensure_kms_key(alias: str, key: KeyDef) -> str:
    kms = aws.client("kms")
    try:
        kms.describe_key(KeyId=alias)
        return alias
    except kms.exceptions.NotFoundException:
        pass
    key_id = kms.create_key(Description=key.description, KeyUsage=key.usage, KeySpec=key.spec)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return alias


def _ensure_secret(name: str, generate_bytes: int, description: str) -> str:
    sm = aws.client("secretsmanager")
    try:
        sm.describe_secret(SecretId=name)
        return name
    except sm.exceptions.ResourceNotFoundException:
        pass
    value = base64.urlsafe_b64encode(secrets.token_bytes(generate_bytes)).decode()
    sm.create_secret(Name=name, Description=description, SecretString=value)
    return name
