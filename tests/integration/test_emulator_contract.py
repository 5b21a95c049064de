"""One contract for the two S3 and SQS implementations the local system can run on: moto's
(in memory, ``MOLESIGNAL_DATA_DIR=:memory:``) and the local stores (files and SQLite under
the data directory, the default). Every test runs against both, through boto3 over HTTP, so
that the two cannot drift apart; moto stands for AWS here."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from molesignal.local.emulator import Emulator
from molesignal.local.emulator.sqs_store import attributes_md5

MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["moto", "local"])
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("contract") if request.param == "local" else None
    emulator = Emulator(port=0, data_dir=data_dir, fsync=False)
    url = emulator.start()
    yield url
    emulator.stop()


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The default emulator alone: DynamoDB is moto's in both modes, one run is enough."""
    emulator = Emulator(port=0, data_dir=tmp_path_factory.mktemp("dynamodb"), fsync=False)
    url = emulator.start()
    yield url
    emulator.stop()


def _client(service: str, endpoint: str, **config: Any) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


@pytest.fixture
def s3(endpoint: str) -> Any:
    return _client("s3", endpoint)


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return _client("sqs", endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"contract-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# -- S3 ------------------------------------------------------------------------------------


def test_s3_put_get_head_round_trip_keeps_bytes_metadata_and_md5_etag(s3: Any, bucket: str) -> None:
    body = b"hello lake\n" * 1000
    key = "lake/org=a/stream=b/with space+plus=eq/é.parquet"
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet", Metadata={"rows": "7"}
    )
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/vnd.apache.parquet"
    assert got["Metadata"] == {"rows": "7"}
    assert got["ETag"] == put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    # an overwrite replaces the whole object
    s3.put_object(Bucket=bucket, Key=key, Body=b"short")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"short"


def test_s3_ranges_as_duckdb_and_pyarrow_read_parquet_footers(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r.bin", Body=body)
    middle = s3.get_object(Bucket=bucket, Key="r.bin", Range="bytes=10-19")
    assert middle["Body"].read() == body[10:20]
    assert middle["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert middle["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r.bin", Range="bytes=-8")["Body"].read() == body[-8:]  # the footer
    assert s3.get_object(Bucket=bucket, Key="r.bin", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r.bin", Range="bytes=1020-5000")["Body"].read() == body[1020:]
    with pytest.raises(ClientError) as beyond:  # a range that starts past the end
        s3.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(body)}-")
    assert _code(beyond) == "InvalidRange"


def test_s3_missing_keys_and_buckets_answer_s3s_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="absent")
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="absent")
    assert _code(head) == "404"
    with pytest.raises(ClientError) as no_bucket:
        s3.get_object(Bucket="no-such-bucket-here", Key="x")
    assert _code(no_bucket) == "NoSuchBucket"
    with pytest.raises(ClientError) as head_bucket:
        s3.head_bucket(Bucket="no-such-bucket-here")
    assert _code(head_bucket) == "404"
    s3.head_bucket(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="absent")  # deleting what is not there succeeds


def test_s3_list_v2_pages_prefixes_and_delimiters(s3: Any, bucket: str) -> None:
    keys = sorted(
        [f"lake/org=a/h={h:02d}/f{i}.parquet" for h in range(3) for i in range(3)]
        + ["lake/org=b/x.parquet", "lake/top.txt", "other/z", "lake/org=a/h=00/ü.parquet"]
    )
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # pages of 4 cover every key under the prefix once, in order
    seen: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="lake/", PaginationConfig={"PageSize": 4}
    ):
        assert page["KeyCount"] <= 4
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == [k for k in keys if k.startswith("lake/")]
    # a delimiter groups what lies below the next "/"
    top = s3.list_objects_v2(Bucket=bucket, Prefix="lake/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["lake/org=a/", "lake/org=b/"]
    assert [o["Key"] for o in top["Contents"]] == ["lake/top.txt"]
    # ...and pages through the groups without repeating one
    grouped: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="lake/org=a/", Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        grouped += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert grouped == ["lake/org=a/h=00/", "lake/org=a/h=01/", "lake/org=a/h=02/"]
    after = s3.list_objects_v2(Bucket=bucket, Prefix="lake/", StartAfter="lake/org=b/x.parquet")
    assert [o["Key"] for o in after["Contents"]] == ["lake/top.txt"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")["KeyCount"] == 0
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="other/")["Contents"]}
    assert sizes == {"other/z": len(b"other/z")}


def test_s3_delete_objects_quiet_and_verbose(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "missing"}], "Quiet": True})
    assert not quiet.get("Errors")  # (quiet mode lists no deletions on AWS; moto lists them anyway)
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}]})
    assert [d["Key"] for d in verbose["Deleted"]] == ["b"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


def test_s3_copy_keeps_or_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"copied", ContentType="text/plain", Metadata={"k": "v"})
    s3.copy_object(Bucket=bucket, Key="same-meta", CopySource={"Bucket": bucket, "Key": "src"})
    kept = s3.get_object(Bucket=bucket, Key="same-meta")
    assert (kept["Body"].read(), kept["Metadata"], kept["ContentType"]) == (b"copied", {"k": "v"}, "text/plain")
    s3.copy_object(
        Bucket=bucket, Key="new-meta", CopySource=f"{bucket}/src", Metadata={"n": "1"}, MetadataDirective="REPLACE"
    )
    assert s3.head_object(Bucket=bucket, Key="new-meta")["Metadata"] == {"n": "1"}


def test_s3_tags_storage_classes_and_restores_as_trace_tiering_uses_them(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t/blob", Body=b"trace bytes", Tagging="molesignal-tier=auto")
    assert s3.get_object_tagging(Bucket=bucket, Key="t/blob")["TagSet"] == [{"Key": "molesignal-tier", "Value": "auto"}]
    pinned = {"TagSet": [{"Key": "molesignal-tier", "Value": "pinned"}]}
    s3.put_object_tagging(Bucket=bucket, Key="t/blob", Tagging=pinned)
    assert s3.get_object_tagging(Bucket=bucket, Key="t/blob")["TagSet"] == pinned["TagSet"]
    # What a lifecycle transition does, done by a copy in place; the tags follow (COPY).
    same = {"Bucket": bucket, "Key": "t/blob"}
    s3.copy_object(**same, CopySource=same, StorageClass="GLACIER", MetadataDirective="COPY", TaggingDirective="COPY")
    head = s3.head_object(**same)
    assert head["StorageClass"] == "GLACIER" and "Restore" not in head
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="t/")["Contents"]
    assert [o["StorageClass"] for o in listed] == ["GLACIER"]
    with pytest.raises(ClientError) as archived:
        s3.get_object(**same)  # an archived object's bytes need a restore first
    assert archived.value.response["Error"]["Code"] == "InvalidObjectState"
    s3.restore_object(**same, RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    assert 'ongoing-request="false"' in s3.head_object(**same)["Restore"]
    assert s3.get_object(**same)["Body"].read() == b"trace bytes"
    s3.copy_object(**same, CopySource=same, StorageClass="STANDARD", MetadataDirective="COPY")
    assert s3.head_object(**same).get("StorageClass", "STANDARD") == "STANDARD"
    assert s3.get_object_tagging(**same)["TagSet"] == pinned["TagSet"]  # carried through both copies
    with pytest.raises(ClientError) as hot:
        s3.restore_object(**same, RestoreRequest={"Days": 1})  # nothing to restore in STANDARD
    assert hot.value.response["Error"]["Code"] == "InvalidObjectState"


def test_s3_multipart_upload_through_the_transfer_manager(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * (11 * MIB // 256)  # three parts of at most 5 MiB
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, use_threads=False)
    s3.upload_fileobj(io.BytesIO(body), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big.bin", out, Config=config)
    assert out.getvalue() == body
    # an aborted upload leaves nothing behind
    upload = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="aborted", UploadId=upload)
    assert _code(gone) == "NoSuchUpload"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="aborted")


@pytest.mark.parametrize("signature", ["s3", "s3v4"])
def test_s3_presigned_get_downloads_with_a_plain_http_client(endpoint: str, bucket: str, signature: str) -> None:
    s3 = _client("s3", endpoint, signature_version=signature)
    s3.put_object(Bucket=bucket, Key="exports/file.ndjson", Body=b'{"a":1}\n')
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "exports/file.ndjson", "ResponseContentDisposition": "attachment"},
        ExpiresIn=300,
    )
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b'{"a":1}\n'
    assert response.headers["content-disposition"] == "attachment"


def test_s3_bucket_configuration_as_provisioning_sets_it(s3: Any, bucket: str) -> None:
    block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == block
    rules = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert got[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as not_empty:
        s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
        s3.delete_bucket(Bucket=bucket)
    assert _code(not_empty) == "BucketNotEmpty"


# -- SQS ------------------------------------------------------------------------------------


def _queue(sqs: Any, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=f"contract-{uuid.uuid4().hex[:10]}", Attributes=attributes)["QueueUrl"])


def _attributes(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def test_sqs_send_receive_delete_with_attributes_and_md5s(sqs: Any) -> None:
    url = _queue(sqs)
    attributes = {
        "kind": {"DataType": "String", "StringValue": "ingest"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()  # noqa: S324
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=1)[
        "Messages"
    ]
    assert [m["Body"] for m in got] == ["héllo"]
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\x01"
    assert message["MessageAttributes"]["kind"]["StringValue"] == "ingest"
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert sent["MD5OfMessageAttributes"] == attributes_md5(
        {**attributes, "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    )
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(message["Attributes"]["SentTimestamp"]) > 0
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    counts = _attributes(sqs, url)
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_sqs_visibility_timeout_hides_then_returns_a_message(sqs: Any) -> None:
    url = _queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # in flight
    assert _attributes(sqs, url)["ApproximateNumberOfMessagesNotVisible"] == "1"
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=3)["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # the first receipt no longer deletes it; a visibility change to 0 returns it at once
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)


def test_sqs_redrives_to_the_dlq_after_max_receive_count(sqs: Any) -> None:
    dlq = _queue(sqs)
    dlq_arn = _attributes(sqs, dlq)["QueueArn"]
    url = _queue(sqs)
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})}
    )
    assert json.loads(_attributes(sqs, url)["RedrivePolicy"])["maxReceiveCount"] == 2
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    counts = []
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
        counts += [m["Attributes"]["ApproximateReceiveCount"] for m in got.get("Messages", [])]
    assert counts == ["1", "2"]  # the third receive moved it instead of delivering it
    dead = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"][0].endswith(url.rsplit("/", 1)[-1])


def test_sqs_long_poll_returns_a_message_sent_while_waiting(sqs: Any) -> None:
    url = _queue(sqs)
    sender = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    sender.start()
    try:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    finally:
        sender.join()
    assert [m["Body"] for m in got] == ["late"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_sqs_batches_answer_per_entry(sqs: Any) -> None:
    url = _queue(sqs)
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"b{i}"} for i in range(10)])
    assert sorted(s["Id"] for s in sent["Successful"]) == sorted(f"m{i}" for i in range(10))
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(received) < 10 and time.monotonic() < deadline:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert sorted(m["Body"] for m in received) == sorted(f"b{i}" for i in range(10))
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    )
    assert len(deleted["Successful"]) == 10 and not deleted.get("Failed")
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "x"}] * 2)


def test_sqs_refuses_one_byte_over_the_size_limit(sqs: Any) -> None:
    url = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x" * MIB)
    with pytest.raises(ClientError) as too_big:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (MIB + 1))
    assert _code(too_big) == "InvalidParameterValue"
    assert len(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]) == MIB


def test_sqs_unknown_queues_and_idempotent_creation(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=f"absent-{uuid.uuid4().hex[:8]}")
    name = f"contract-{uuid.uuid4().hex[:10]}"
    first = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "600"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "600"})["QueueUrl"] == first
    with pytest.raises(ClientError):
        sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "700"})
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == first
    assert first in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sqs.send_message(QueueUrl=first, MessageBody="x")
    sqs.purge_queue(QueueUrl=first)
    assert _attributes(sqs, first)["ApproximateNumberOfMessages"] == "0"
    sqs.delete_queue(QueueUrl=first)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    # A queue used, deleted and made again: the store must not remember the deleted one
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=first, MessageBody="after delete")
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == first
    sqs.send_message(QueueUrl=first, MessageBody="again")
    assert _attributes(sqs, first)["ApproximateNumberOfMessages"] == "1"


def test_sqs_fifo_deduplicates_and_keeps_group_order(sqs: Any) -> None:
    url = str(
        sqs.create_queue(
            QueueName=f"contract-{uuid.uuid4().hex[:8]}.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
    )
    for body in ("1", "2", "2", "3"):  # the repeated "2" is deduplicated
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["1"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the group waits for its in-flight message
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["2", "3"]


# -- DynamoDB behind the emulator ------------------------------------------------------------


def _table(ddb: Any) -> str:
    name = f"contract-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    return name


def test_dynamodb_concurrent_transactions_and_queries_all_succeed(emulator_url: str) -> None:
    """moto's DynamoDB raised "dictionary changed size during iteration" (a 500) when
    ``transact_write_items`` ran while other requests read the same table; the emulator
    serialises DynamoDB requests, so every call succeeds and every increment counts."""
    ddb = _client("dynamodb", emulator_url, max_pool_connections=32)
    table = _table(ddb)
    errors: list[str] = []
    workers, rounds = 8, 15

    def work(worker: int) -> None:
        for i in range(rounds):
            try:
                ddb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table, "Item": {"pk": {"S": "P"}, "sk": {"S": f"{worker}-{i}"}}}},
                        {
                            "Update": {
                                "TableName": table,
                                "Key": {"pk": {"S": "C"}, "sk": {"S": "count"}},
                                "UpdateExpression": "ADD n :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                    ]
                )
                ddb.query(
                    TableName=table,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "P"}},
                    Limit=10,
                )
            except Exception as error:  # every failure is the finding
                errors.append(repr(error)[:200])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    count = ddb.get_item(TableName=table, Key={"pk": {"S": "C"}, "sk": {"S": "count"}})["Item"]["n"]["N"]
    assert int(count) == workers * rounds


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def test_dynamodb_a_cancelled_transaction_changes_nothing(emulator_url: str) -> None:
    ddb = _client("dynamodb", emulator_url)
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={**_key("B"), "n": {"N": "1"}})
    ddb.put_item(TableName=table, Item={**_key("C"), "v": {"S": "kept"}})
    # Given a transaction whose last condition fails after three changes
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**_key("A"), "v": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key("B"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": _key("C")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": _key("D"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    # Then every item is as it was
    assert "Item" not in ddb.get_item(TableName=table, Key=_key("A"))
    assert ddb.get_item(TableName=table, Key=_key("B"))["Item"]["n"] == {"N": "1"}
    assert ddb.get_item(TableName=table, Key=_key("C"))["Item"]["v"] == {"S": "kept"}
    # and the table still takes transactions
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": _key("A")}}])
    assert ddb.scan(TableName=table)["Count"] == 3


def test_dynamodb_transactions_copy_only_what_they_name_and_keep_no_copies(
    emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto deep-copied every table a transaction named (time in proportion to the table) and
    kept every model object it ever made (memory growing with transactions x table size)."""
    from moto.dynamodb.models.dynamo_type import Item

    ddb = _client("dynamodb", emulator_url)
    table = _table(ddb)
    for i in range(100):
        ddb.put_item(TableName=table, Item={**_key(f"seed-{i}"), "v": {"S": "x" * 100}})
    copies = {"n": 0}
    real_deepcopy = Item.__deepcopy__

    def counted(item: Any, memo: Any) -> Any:
        copies["n"] += 1
        return real_deepcopy(item, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    alive_before = len(list(Item.instances_tracked))
    for i in range(50):
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": _key(f"t-{i}")}}])
    assert copies["n"] <= 50 * 2, f"{copies['n']} item copies for 50 one-item transactions"
    grown = len(list(Item.instances_tracked)) - alive_before
    assert grown <= 50 + 10, f"{grown} items are kept alive for 50 new ones"


def test_dynamodb_query_reads_only_its_partition_and_answers_as_before(
    emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's Query took every item of the table, sorted, to keep one partition's: seconds per
    Query once the table held a few hundred thousand items."""
    from moto.dynamodb.models.table import Table

    ddb = _client("dynamodb", emulator_url)
    table = _table(ddb)
    # Given two partitions written out of order, and an index-free table
    for i in reversed(range(30)):
        ddb.put_item(TableName=table, Item={"pk": {"S": "A"}, "sk": {"S": f"{i:03d}"}, "n": {"N": str(i)}})
        ddb.put_item(TableName=table, Item={"pk": {"S": "B"}, "sk": {"S": f"{i:03d}"}})
    whole_table_reads = {"n": 0}
    partition_items = Table.all_items

    def counted(self: Any) -> Any:
        items = partition_items(self)
        whole_table_reads["n"] += len(items) > 30
        return items

    monkeypatch.setattr(Table, "all_items", counted)

    def query(**extra: Any) -> list[str]:
        values = extra.pop("values", {})
        pages, start = [], None
        while True:
            args = {"ExclusiveStartKey": start} if start else {}
            page = ddb.query(
                TableName=table,
                KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={":p": {"S": "A"}, ":lo": {"S": "005"}, ":hi": {"S": "024"}, **values},
                Limit=7,
                **args,
                **extra,
            )
            pages += [item["sk"]["S"] for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return pages

    # Then pages come in key order, either way, with filters applied, from partition A only
    assert query() == [f"{i:03d}" for i in range(5, 25)]
    assert query(ScanIndexForward=False) == [f"{i:03d}" for i in reversed(range(5, 25))]
    assert query(FilterExpression="n > :ten", values={":ten": {"N": "10"}}) == [f"{i:03d}" for i in range(11, 25)]
    assert whole_table_reads["n"] == 0
    # and a missing partition is empty, and is not created by asking
    empty = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "Z"}})
    assert empty["Items"] == []
    assert ddb.scan(TableName=table)["Count"] == 60


def test_data_dir_is_refused_while_another_emulator_holds_it(tmp_path: Path) -> None:
    first = Emulator(port=0, data_dir=tmp_path, fsync=False)
    first.start()
    try:
        with pytest.raises(RuntimeError, match="in use"):
            Emulator(port=0, data_dir=tmp_path, fsync=False).start()
    finally:
        first.stop()


RESET_SCRIPT = """
import sys, httpx, boto3
from pathlib import Path
from botocore.config import Config
from molesignal.local.emulator import Emulator

def clients(url):
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t",
              config=Config(s3={"addressing_style": "path"}))
    return boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("dynamodb", **kw)

data = Path(sys.argv[1])
emulator = Emulator(port=0, data_dir=data, fsync=False)
url = emulator.start()
s3, sqs, ddb = clients(url)
s3.create_bucket(Bucket="reset-me")
s3.put_object(Bucket="reset-me", Key="k", Body=b"x")
sqs.send_message(QueueUrl=sqs.create_queue(QueueName="reset-me")["QueueUrl"], MessageBody="m")
ddb.create_table(TableName="reset-me", BillingMode="PAY_PER_REQUEST",
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
assert httpx.post(url + "/moto-api/reset").status_code == 200
print("after reset", len(s3.list_buckets()["Buckets"]), len(sqs.list_queues().get("QueueUrls", [])),
      len(ddb.list_tables()["TableNames"]))
emulator.stop()
again = Emulator(port=0, data_dir=data, fsync=False)
s3, sqs, ddb = clients(again.start())
print("after restart", len(s3.list_buckets()["Buckets"]), len(sqs.list_queues().get("QueueUrls", [])),
      len(ddb.list_tables()["TableNames"]))
again.stop()
"""


def test_moto_api_reset_empties_every_store_for_good(tmp_path: Path) -> None:
    """``POST /moto-api/reset`` clears moto's services and the local S3 and SQS, and a restart
    does not bring anything back. (In a process of its own: a reset clears every moto
    backend in the process, the test session's included.)"""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", RESET_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after reset 0 0 0", "after restart 0 0 0"]


def test_dynamodb_an_update_expression_used_again_answers_as_the_first_time(emulator_url: str) -> None:
    """moto's parse of an UpdateExpression is kept and reused (ADR 0033): its validators work on
    a copy, so a use that failed validation, or that changed an item, must not change what the
    next use of the same string does; a malformed expression is refused every time."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    ddb = _client("dynamodb", emulator_url)
    table = _table(ddb)
    expression = (
        "SET #v = if_not_exists(#v, :zero) + :step, tags = list_append(if_not_exists(tags, :none), :tag) ADD n :one"
    )
    names = {"#v": "v"}

    def update(pk: str, step: str, tag: str) -> Any:
        return ddb.update_item(
            TableName=table,
            Key=_key(pk),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":step": {"N": step},
                ":none": {"L": []},
                ":tag": {"L": [{"S": tag}]},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]

    def shape(node: Any) -> Any:  # the parsed tree, as nested (kind, children) tuples
        children = getattr(node, "children", None)
        if children is None:
            return repr(node) if not hasattr(node, "__dict__") else (type(node).__name__, None)
        return (type(node).__name__, tuple(shape(child) for child in children))

    parsed = UpdateExpressionParser.make(expression)
    parsed_before = shape(parsed)
    # Given the same expression on two items, then on the first again
    assert update("A", "5", "a1") == {**_key("A"), "v": {"N": "5"}, "tags": {"L": [{"S": "a1"}]}, "n": {"N": "1"}}
    assert update("B", "7", "b1") == {**_key("B"), "v": {"N": "7"}, "tags": {"L": [{"S": "b1"}]}, "n": {"N": "1"}}
    # and once where the item's types make it fail validation
    ddb.put_item(TableName=table, Item={**_key("C"), "v": {"S": "text"}})
    with pytest.raises(ClientError) as mismatch:
        update("C", "1", "c1")
    assert mismatch.value.response["Error"]["Code"] == "ValidationException"
    # Then the next use sees the first item as it left it, and the parse is unchanged
    again = update("A", "2", "a2")
    assert again == {**_key("A"), "v": {"N": "7"}, "tags": {"L": [{"S": "a1"}, {"S": "a2"}]}, "n": {"N": "2"}}
    assert UpdateExpressionParser.make(expression) is parsed
    assert shape(parsed) == parsed_before
    # and a malformed expression is refused each time it comes
    for _ in range(2):
        with pytest.raises(ClientError) as malformed:
            ddb.update_item(
                TableName=table,
                Key=_key("A"),
                UpdateExpression="SET v = = :x",
                ExpressionAttributeValues={":x": {"N": "1"}},
            )
        assert malformed.value.response["Error"]["Code"] == "ValidationException"
    # and a transaction's Update reuses it alike
    ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": _key("B"),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        ":zero": {"N": "0"},
                        ":step": {"N": "3"},
                        ":none": {"L": []},
                        ":tag": {"L": [{"S": "b2"}]},
                        ":one": {"N": "1"},
                    },
                }
            }
        ]
    )
    item = ddb.get_item(TableName=table, Key=_key("B"))["Item"]
    assert item == {**_key("B"), "v": {"N": "10"}, "tags": {"L": [{"S": "b1"}, {"S": "b2"}]}, "n": {"N": "2"}}


def test_dynamodb_a_condition_used_again_answers_as_the_first_time(emulator_url: str) -> None:
    """moto's parse of a condition is kept by (expression, names, values) (ADR 0033): the same
    condition with other values, on other items, in a transaction or alone, must decide as a
    fresh parse would, and the checks of unused names and values must still be made."""
    ddb = _client("dynamodb", emulator_url)
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={**_key("S"), "version": {"N": "1"}, "tags": {"L": [{"S": "a"}]}})

    def bump(current: str) -> None:
        ddb.update_item(
            TableName=table,
            Key=_key("S"),
            UpdateExpression="SET version = :next",
            ConditionExpression="version = :current AND size(tags) > :none",
            ExpressionAttributeValues={
                ":current": {"N": current},
                ":next": {"N": str(int(current) + 1)},
                ":none": {"N": "0"},
            },
        )

    # Given the same condition three times, its value moving on, and once with a stale value
    bump("1")
    bump("2")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        bump("1")
    bump("3")
    assert ddb.get_item(TableName=table, Key=_key("S"))["Item"]["version"] == {"N": "4"}
    # Then a new-item condition decides per item, alone and in transactions
    for attempt in range(2):
        put = {"TableName": table, "Item": _key(f"N{attempt}"), "ConditionExpression": "attribute_not_exists(pk)"}
        ddb.put_item(**put)
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(**put)
        with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
            ddb.transact_write_items(TransactItems=[{"Put": put}])
        assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["ConditionalCheckFailed"]
    # and an unused value or name is refused each time it comes
    for _ in range(2):
        for extra in (
            {"ExpressionAttributeValues": {":a": {"S": "x"}, ":spare": {"S": "x"}}},
            {"ExpressionAttributeValues": {":a": {"S": "x"}}, "ExpressionAttributeNames": {"#spare": "b"}},
        ):
            with pytest.raises(ClientError) as unused:
                ddb.update_item(
                    TableName=table,
                    Key=_key("S"),
                    UpdateExpression="SET a = :a",
                    ConditionExpression="attribute_exists(pk)",
                    **extra,
                )
            assert unused.value.response["Error"]["Code"] == "ValidationException"
            assert "unused" in unused.value.response["Error"]["Message"]
    assert "a" not in ddb.get_item(TableName=table, Key=_key("S"))["Item"]
