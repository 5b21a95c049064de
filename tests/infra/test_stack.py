"""The synthesized MoleSignal stack, checked against the registry and the resource table.

The stack is synthesized once for the module (~10 s); every test reads that one template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from infra_cdk.app import build_app
from infra_cdk.components.data import RESOURCE_ENV, DataStore
from infra_cdk.components.runtime import AssetPaths, LambdaRuntime
from infra_cdk.components.workers import QueueWorkers
from infra_cdk.config import CORE_LAYER_DIR, FUNCTIONS_DIR, StackConfig, cdk_json_context
from infra_cdk.layers import DEPENDENCY_LAYERS, registry_functions, resolve_deps_layers
from infra_cdk.permissions import NEEDS, needs_of
from infra_cdk.stack import MoleSignalStack
from molesignal.resources import RESOURCES
from registry import DEFAULT_ROUTE, REGISTRY, QueueWorker

pytestmark = pytest.mark.infra

STAGE = "test"
PREFIX = "mstest-infra"


@dataclass(frozen=True)
class Synth:
    stack: MoleSignalStack
    template: Template
    json: dict[str, Any]
    outdir: Path
    messages: list[str]
    validation_report: dict[str, Any]  # cdk-nag's and the annotations' findings
    synth_error: str | None

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: res for key, res in self.json["Resources"].items() if res["Type"] == kind}

    def props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.json["Resources"][logical_id].get("Properties", {}))

    def functions(self) -> dict[str, dict[str, Any]]:
        """MoleSignal's own functions: the CDK's BucketDeployment handler (console upload) aside."""
        return {k: r for k, r in self.of_type("AWS::Lambda::Function").items() if not is_cdk_provided(k)}

    def function_id(self, handler: str) -> str:
        found = [
            key for key, res in self.of_type("AWS::Lambda::Function").items() if res["Properties"]["Handler"] == handler
        ]
        assert len(found) == 1, f"expected one function with handler {handler}, found {found}"
        return found[0]

    def role_id(self, function_id: str) -> str:
        return str(self.props(function_id)["Role"]["Fn::GetAtt"][0])

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    # The same feature flags as `cdk synth` (cdk.json), and the asset metadata the CLI adds.
    # Placeholder dependency layers whether or not this checkout has built ones: staging
    # ~200 MB of built layers would only slow the synth down (test_layers.py covers them).
    context = {
        **cdk_json_context(),
        "stage": STAGE,
        "prefix": PREFIX,
        "aws:cdk:enable-asset-metadata": True,
        "depsLayerDir": str(tmp_path_factory.mktemp("no-deps-layers")),
    }
    app, stack = build_app(App(outdir=str(outdir), context=context))
    try:
        app.synth()
        synth_error = None
    except RuntimeError as error:  # cdk-nag findings fail the synth once the assembly is written
        synth_error = str(error)
    template_json = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    # Read from the cloud assembly's manifest rather than ``artifact.messages``: jsii 1.142
    # cannot rebuild the MetadataEntry struct there ("Unknown interface").
    artifact_entry = json.loads((outdir / "manifest.json").read_text())["artifacts"][stack.artifact_id]
    metadata = artifact_entry.get("metadata") or json.loads(
        (outdir / artifact_entry["additionalMetadataFile"]).read_text()
    )
    messages = [str(entry.get("data")) for entries in metadata.values() for entry in entries]
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    yield Synth(stack, Template.from_json(template_json), template_json, outdir, messages, report, synth_error)


def is_cdk_provided(logical_id: str) -> bool:
    return logical_id.startswith(("CustomCDKBucketDeployment", "ConsoleDeployAwsCliLayer"))


def all_functions() -> list[tuple[str, str, int, int]]:
    """(name, handler, memory, timeout) of every function the registry declares."""
    auth = REGISTRY.authorizer
    return [
        (auth.name, auth.handler, auth.memory_mb, auth.timeout_s),
        *((f.name, f.handler, f.memory_mb, f.timeout_s) for f in REGISTRY.http),
        *((w.name, w.handler, w.memory_mb, w.timeout_s) for w in REGISTRY.workers),
        *((s.name, s.handler, s.memory_mb, s.timeout_s) for s in REGISTRY.schedules),
        *([(ws.name, ws.handler, ws.memory_mb, ws.timeout_s)] if (ws := REGISTRY.websocket) else []),
    ]


def referenced_ids(value: Any) -> set[str]:
    """Logical ids a template value points at through Ref or Fn::GetAtt."""
    if isinstance(value, dict):
        found = set()
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= referenced_ids(inner)
        return found
    if isinstance(value, list):
        return set().union(*(referenced_ids(v) for v in value)) if value else set()
    return set()


# --- data -------------------------------------------------------------------------------
def test_table_is_on_demand_with_pitr_ttl_and_gsi(synth: Synth) -> None:
    table = RESOURCES.table
    synth.template.resource_count_is("AWS::DynamoDB::Table", 1)
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": table.ttl_attribute, "Enabled": True},
                    "SSESpecification": {"SSEEnabled": True},
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
            ),
        },
    )


def test_buckets_are_encrypted_private_and_refuse_plain_http(synth: Synth) -> None:
    buckets = synth.of_type("AWS::S3::Bucket")
    assert len(buckets) == len(RESOURCES.buckets) + 2  # and the access log bucket, and the console's files
    for props in (res["Properties"] for res in buckets.values()):
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    policies = synth.of_type("AWS::S3::BucketPolicy")
    guarded = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert guarded == set(buckets)


def test_data_buckets_log_access_to_the_expiring_access_log_bucket(synth: Synth) -> None:
    from infra_cdk.components.data import ACCESS_LOG_DAYS

    data = synth.stack.data
    logs_id = synth.logical_id(data.access_logs)
    for logical, bucket in data.buckets.items():
        assert synth.props(synth.logical_id(bucket))["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": logs_id},
            "LogFilePrefix": f"{logical}/",
        }
    rules = synth.props(logs_id)["LifecycleConfiguration"]["Rules"]
    assert [rule.get("ExpirationInDays") for rule in rules] == [ACCESS_LOG_DAYS]


def test_every_queue_redrives_to_its_encrypted_dlq(synth: Synth) -> None:
    queues = {
        res["Properties"]["QueueName"]: (key, res["Properties"])
        for key, res in synth.of_type("AWS::SQS::Queue").items()
    }
    assert len(queues) == 2 * len(RESOURCES.queues)
    for queue in RESOURCES.queues:
        suffix = ".fifo" if queue.fifo else ""
        _, main = queues[f"{PREFIX}-{queue.logical}{suffix}"]
        dlq_id, dlq = queues[f"{PREFIX}-{queue.dlq_logical}{suffix}"]
        assert main.get("FifoQueue", False) is queue.fifo
        assert dlq.get("FifoQueue", False) is queue.fifo
        assert main["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": queue.max_receive_count,
        }
        assert main["VisibilityTimeout"] == queue.visibility_timeout_s
        assert dlq["MessageRetentionPeriod"] == queue.dlq_retention_s
        assert dlq["MessageRetentionPeriod"] > main["MessageRetentionPeriod"]
        assert main["SqsManagedSseEnabled"] is True
        assert dlq["SqsManagedSseEnabled"] is True
    ssl_only = {
        ref
        for policy in synth.of_type("AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for ref in referenced_ids(policy["Properties"]["Queues"])
    }
    assert ssl_only == {key for key, _ in queues.values()}


def test_secrets_exist_with_generated_values(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::SecretsManager::Secret", len(RESOURCES.secrets))
    for secret in RESOURCES.secrets:
        synth.template.has_resource_properties(
            "AWS::SecretsManager::Secret",
            {
                "Description": secret.description,
                "GenerateSecretString": Match.object_like(
                    {"ExcludePunctuation": True, "PasswordLength": Match.any_value()}
                ),
            },
        )


# --- functions --------------------------------------------------------------------------
def test_one_function_per_registry_entry_with_its_sizing(synth: Synth) -> None:
    expected = all_functions()
    # and one more per function with streaming routes, behind its function URL
    assert len(synth.functions()) == len(expected) + len(REGISTRY.streaming_functions())
    for _name, handler, memory, timeout in expected:
        synth.template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": handler,
                "MemorySize": memory,
                "Timeout": timeout,
                "Runtime": "python3.12",
                "Architectures": ["x86_64"],
                "TracingConfig": {"Mode": "Active"},
            },
        )
    layers = {key for key in synth.of_type("AWS::Lambda::LayerVersion") if not is_cdk_provided(key)}
    assert len(layers) == 1 + len(DEPENDENCY_LAYERS)
    runtime = synth.stack.runtime
    core = synth.logical_id(runtime.core_layer)
    for name, handler, *_ in expected:
        (function,) = (f for f in registry_functions() if f.name == name)
        attached = synth.props(synth.function_id(handler))["Layers"]
        # The core layer and the registry's dependency layers (disjoint, so their order is free).
        assert len(attached) == 1 + len(function.layers)
        assert referenced_ids(attached) == {
            core,
            *(synth.logical_id(runtime.deps_layers[layer]) for layer in function.layers),
        }, name


def test_streaming_routes_are_served_by_a_streaming_function_url_that_cloudfront_routes_to(synth: Synth) -> None:
    """API Gateway HTTP APIs buffer whole answers; the SSE routes stream from a function URL."""
    from infra_cdk.components.streaming import STREAM_HANDLER, path_pattern

    streaming = REGISTRY.streaming_functions()
    assert [f.name for f in streaming] == ["traces_api"]
    stream = synth.stack.streaming.urls["traces_api"]
    function_id = synth.logical_id(stream.function)
    props = synth.props(function_id)
    owner = REGISTRY.http_function("traces_api")
    assert props["Handler"] == STREAM_HANDLER
    assert props["Timeout"] == 900  # MOLESIGNAL_TRACE_SSE_MAX_S: a stream lasts at most 15 minutes
    variables = props["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["MOLESIGNAL_STREAM_FUNCTION"] == "traces_api"
    adapter = [layer for layer in props["Layers"] if ":layer:LambdaAdapterLayerX86:" in json.dumps(layer)]
    assert len(adapter) == 1
    assert len(props["Layers"]) == 1 + len(owner.layers) + 1
    (url,) = [
        u["Properties"]
        for u in synth.json["Resources"].values()
        if u["Type"] == "AWS::Lambda::Url" and referenced_ids(u["Properties"]["TargetFunctionArn"]) == {function_id}
    ]
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    assert url["AuthType"] == "NONE"  # the app authenticates the bearer itself
    # The script the adapter runs exists and is executable in the code asset
    script = FUNCTIONS_DIR / STREAM_HANDLER
    assert script.stat().st_mode & 0o111
    # CloudFront sends the stream path to the URL, before the API's broader /v1/* behaviour
    (distribution,) = synth.of_type("AWS::CloudFront::Distribution").values()
    behaviors = distribution["Properties"]["DistributionConfig"]["CacheBehaviors"]
    patterns = [b["PathPattern"] for b in behaviors]
    assert path_pattern("/v1/traces/{trace_id}/stream") == "/v1/traces/*/stream"
    assert patterns.index("/v1/traces/*/stream") < patterns.index("/v1/*")
    assert synth.json["Outputs"]["TracesApiStreamUrl"]


def test_function_environment_names_every_resource(synth: Synth) -> None:
    data = synth.stack.data
    expected = {
        RESOURCE_ENV["table"]: {"Ref": synth.logical_id(data.table)},
        **{RESOURCE_ENV[name]: {"Ref": synth.logical_id(bucket)} for name, bucket in data.buckets.items()},
        **{RESOURCE_ENV[name]: {"Ref": synth.logical_id(secret)} for name, secret in data.secrets.items()},
        **{RESOURCE_ENV[name]: {"Fn::GetAtt": [synth.logical_id(key), "Arn"]} for name, key in data.keys.items()},
        "MOLESIGNAL_RESOURCE_PREFIX": PREFIX,
        "MOLESIGNAL_STAGE": STAGE,
        "MOLESIGNAL_ALLOW_REMOTE_SETUP": {"Ref": "AllowRemoteSetup"},
        "POWERTOOLS_SERVICE_NAME": "molesignal",
        "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",  # molesignal/arrow_pool.py says why
    }
    for key in synth.functions():
        variables = synth.props(key)["Environment"]["Variables"]
        assert {name: variables.get(name) for name in expected} == expected, key
    parameter = synth.json["Parameters"]["AllowRemoteSetup"]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]


def test_core_layer_ships_molesignal_without_the_local_system(synth: Synth) -> None:
    layer_id = synth.logical_id(synth.stack.runtime.core_layer)
    staged = synth.outdir / synth.json["Resources"][layer_id]["Metadata"]["aws:asset:path"]
    assert (staged / "python" / "molesignal" / "resources.py").is_file()
    assert not (staged / "python" / "molesignal" / "local").exists()
    assert not list(staged.rglob("__pycache__"))


def test_placeholder_dependency_layers_are_flagged_with_the_reason(synth: Synth) -> None:
    assert synth.stack.deps_layer_placeholder
    assert any("dependency layers are placeholders (no layer build record" in message for message in synth.messages)


# --- HTTP API ---------------------------------------------------------------------------
def test_every_registry_route_exists_with_the_authorizer_exactly_when_auth(synth: Synth) -> None:
    http_api = {"Ref": synth.stack.get_logical_id(synth.stack.http.api.node.default_child)}  # type: ignore[arg-type]
    routes = {
        res["Properties"]["RouteKey"]: res["Properties"]
        for res in synth.of_type("AWS::ApiGatewayV2::Route").values()
        if res["Properties"]["ApiId"] == http_api  # the WebSocket API's routes: their own test
    }
    expected = {route.key: (route, fn) for route, fn in REGISTRY.all_routes()}
    assert set(routes) == set(expected)
    assert DEFAULT_ROUTE in routes
    (authorizer_id,) = synth.of_type("AWS::ApiGatewayV2::Authorizer")
    integrations = synth.of_type("AWS::ApiGatewayV2::Integration")
    for key, (route, owner) in expected.items():
        props = routes[key]
        assert props["AuthorizationType"] == ("CUSTOM" if route.auth else "NONE"), key
        assert (props.get("AuthorizerId") == {"Ref": authorizer_id}) is route.auth, key
        (integration_id,) = referenced_ids(props["Target"])
        integration = integrations[integration_id]["Properties"]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [synth.function_id(owner.handler), "Arn"]}, key
        assert integration["PayloadFormatVersion"] == "2.0"


def test_default_route_goes_to_platform_api(synth: Synth) -> None:
    owners = [fn for route, fn in REGISTRY.all_routes() if route.key == DEFAULT_ROUTE]
    assert [fn.name for fn in owners] == ["platform_api"]


def test_authorizer_runs_on_every_request_with_simple_responses(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGatewayV2::Authorizer", 1)
    (props,) = (res["Properties"] for res in synth.of_type("AWS::ApiGatewayV2::Authorizer").values())
    assert props["AuthorizerType"] == "REQUEST"
    assert props["EnableSimpleResponses"] is True
    assert props["AuthorizerPayloadFormatVersion"] == "2.0"
    assert props["AuthorizerResultTtlInSeconds"] == 0
    assert not props.get("IdentitySource")  # no identity source: runs without an Authorization header
    assert synth.function_id(REGISTRY.authorizer.handler) in referenced_ids(props["AuthorizerUri"])


def test_api_gateway_may_invoke_each_http_function_and_the_authorizer(synth: Synth) -> None:
    invokable = {
        next(iter(referenced_ids(res["Properties"]["FunctionName"])))
        for res in synth.of_type("AWS::Lambda::Permission").values()
        if res["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }
    handlers = [REGISTRY.authorizer.handler, *(fn.handler for fn in REGISTRY.http)]
    handlers += [REGISTRY.websocket.handler] if REGISTRY.websocket else []
    assert invokable == {synth.function_id(handler) for handler in handlers}


def test_stage_auto_deploys_with_access_logs(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": Match.object_like({"Format": Match.any_value()}),
        },
    )


# --- queue workers ----------------------------------------------------------------------
def test_each_registry_worker_reads_its_queue_reporting_partial_failures(synth: Synth) -> None:
    mappings = [res["Properties"] for res in synth.of_type("AWS::Lambda::EventSourceMapping").values()]
    assert len(mappings) == len(REGISTRY.workers)
    for worker in REGISTRY.workers:
        queue_id = synth.logical_id(synth.stack.data.queues[worker.queue])
        (mapping,) = (m for m in mappings if m["FunctionName"] == {"Ref": synth.function_id(worker.handler)})
        assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert mapping["BatchSize"] == worker.batch_size
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == worker.max_batching_window_s
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


# --- schedules --------------------------------------------------------------------------
def test_each_schedule_has_a_rule_targeting_its_function(synth: Synth) -> None:
    rules = synth.of_type("AWS::Events::Rule")
    assert len(rules) == len(REGISTRY.schedules)
    # Several jobs may share an expression (every minute): a rule is known by what it targets.
    by_target = {
        json.dumps([t["Arn"] for t in rule["Properties"]["Targets"]], sort_keys=True): rule["Properties"]
        for rule in rules.values()
    }
    for job in REGISTRY.schedules:
        target = json.dumps([{"Fn::GetAtt": [synth.function_id(job.handler), "Arn"]}], sort_keys=True)
        assert by_target[target]["ScheduleExpression"] == job.schedule


# --- IAM --------------------------------------------------------------------------------
def _statements_by_role(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for role in referenced_ids(policy["Properties"]["Roles"]):
            found.setdefault(role, []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def test_keys_rotate_and_only_their_users_reach_them(synth: Synth) -> None:
    """The content key makes and opens OTLP data keys (otlp_api); the alerts key seals
    destination secrets (alerts_api) and opens them to deliver (alerts_api, the delivery worker)."""
    expected: dict[tuple[str, str], set[str]] = {
        ("content", "otlp_api"): {"kms:GenerateDataKey", "kms:Decrypt"},
        ("alerts", "alerts_api"): {"kms:Encrypt", "kms:Decrypt"},
    }
    expected.update(
        {("alerts", w.name): {"kms:Decrypt"} for w in REGISTRY.workers if w.name == "alert_delivery_worker"}
    )
    key_ids = {}
    for key in (k for k in RESOURCES.keys if k.logical in {"content", "alerts"}):  # symmetric: they rotate
        key_ids[synth.logical_id(synth.stack.data.keys[key.logical])] = key.logical
        key_id = synth.logical_id(synth.stack.data.keys[key.logical])
        assert synth.props(key_id)["EnableKeyRotation"] is True
        synth.template.has_resource_properties(
            "AWS::KMS::Alias", {"AliasName": f"alias/{PREFIX}-{key.logical}", "TargetKeyId": Match.any_value()}
        )
    handlers = {name: handler for name, handler, _, _ in all_functions()}
    role_names = {synth.role_id(synth.function_id(handlers[name])): name for _, name in expected}
    kms_actions: dict[tuple[str, str], set[str]] = {}
    for role, statements in _statements_by_role(synth).items():
        for statement in statements:
            actions = {a for a in _actions(statement) if a.startswith("kms:")}
            if actions and referenced_ids(statement["Resource"]) & set(key_ids):
                (key_id,) = referenced_ids(statement["Resource"])
                assert role in role_names, (role, statement)
                kms_actions.setdefault((key_ids[key_id], role_names[role]), set()).update(actions)
    assert kms_actions == expected


def test_events_signing_key_is_p256_and_only_the_chain_functions_sign(synth: Synth) -> None:
    signing = next(k for k in RESOURCES.keys if k.logical == "events-signing")
    key_id = synth.logical_id(synth.stack.data.keys[signing.logical])
    assert synth.props(key_id)["KeySpec"] == "ECC_NIST_P256"
    assert synth.props(key_id)["KeyUsage"] == "SIGN_VERIFY"
    role_of = {name: synth.role_id(synth.function_id(handler)) for name, handler, _, _ in all_functions()}
    actions: dict[str, set[str]] = {}
    for role, statements in _statements_by_role(synth).items():
        for statement in statements:
            if key_id in referenced_ids(statement["Resource"]):
                actions.setdefault(role, set()).update(_actions(statement))
    assert actions == {
        role_of["events_worker"]: {"kms:Sign", "kms:GetPublicKey"},
        role_of["checkpoint_worker"]: {"kms:Sign", "kms:GetPublicKey"},
        role_of["events_api"]: {"kms:GetPublicKey"},
    }


def test_jwt_secret_is_readable_only_by_the_functions_that_verify_or_mint_tokens(synth: Synth) -> None:
    secret_id = synth.logical_id(synth.stack.data.secrets["jwt-signing-key"])

    def reaches_secret(statement: dict[str, Any]) -> bool:
        if secret_id in referenced_ids(statement["Resource"]):
            return True
        wildcard = statement["Resource"] == "*"
        return wildcard and any(action.startswith("secretsmanager:") for action in _actions(statement))

    readers = {
        role
        for role, statements in _statements_by_role(synth).items()
        if any(reaches_secret(statement) for statement in statements)
    }
    auth_api = next(fn for fn in REGISTRY.http if fn.name == "auth_api")
    expected = {
        synth.role_id(synth.function_id(REGISTRY.authorizer.handler)),
        synth.role_id(synth.function_id(auth_api.handler)),
    }
    if REGISTRY.websocket is not None:  # verifies the JWT of each connection's first frame
        expected.add(synth.role_id(synth.function_id(REGISTRY.websocket.handler)))
    assert readers == expected


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_each_role_reaches_only_what_its_function_needs(synth: Synth) -> None:
    data = synth.stack.data
    statements = _statements_by_role(synth)
    for name, handler, _, _ in all_functions():
        needs = needs_of(name)
        allowed = {synth.logical_id(data.table)} if needs.table != "none" else set()
        allowed |= {synth.logical_id(data.secrets[s]) for s in needs.secrets}
        buckets = (*needs.read_buckets, *needs.put_buckets, *needs.delete_buckets, *needs.watch_buckets)
        allowed |= {synth.logical_id(data.buckets[b]) for b in buckets}
        queues = (*needs.send_queues, *needs.consume_queues, *needs.watch_queues)
        allowed |= {synth.logical_id(data.all_queues[q]) for q in queues}
        allowed |= {synth.logical_id(data.queues[w.queue]) for w in REGISTRY.workers if w.name == name}
        keys = (*needs.encrypt_keys, *needs.decrypt_keys, *needs.seal_keys, *needs.sign_keys, *needs.public_keys)
        allowed |= {synth.logical_id(data.keys[k]) for k in keys}
        if needs.athena:
            assert data.analytics is not None
            allowed |= {
                synth.stack.get_logical_id(data.analytics.workgroup),
                synth.stack.get_logical_id(data.analytics.database),
                synth.logical_id(data.buckets["exports"]),  # athena-results/ only: see the Athena tests
            }
        if needs.live_connections:
            assert synth.stack.live is not None
            allowed.add(synth.stack.get_logical_id(synth.stack.live.api.node.default_child))  # type: ignore[arg-type]
        function_id = synth.function_id(handler)
        allowed.add(synth.props(function_id)["LoggingConfig"]["LogGroup"]["Ref"])  # its own log group only
        role = synth.role_id(function_id)
        reached: set[str] = set()
        for statement in statements.get(role, []):
            assert statement["Effect"] == "Allow"
            if statement["Resource"] == "*":
                assert {a.split(":")[0] for a in _actions(statement)} == {"xray"}, (name, statement)
            reached |= referenced_ids(statement["Resource"])
        # ARNs the stack formats itself refer to its partition, region and account.
        assert {r for r in reached if not r.startswith("AWS::")} == allowed, name


def test_health_probes_touch_no_object_and_no_message(synth: Synth) -> None:
    """platform_api (cluster health) may see that buckets and queues exist, and queue depths."""
    role = synth.role_id(synth.function_id(next(f.handler for f in REGISTRY.http if f.name == "platform_api")))
    actions = {a for statement in _statements_by_role(synth)[role] for a in _actions(statement)}
    s3_and_sqs = {a for a in actions if a.startswith(("s3:", "sqs:"))}
    assert s3_and_sqs == {"s3:ListBucket", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"}


def test_permission_table_names_only_registry_functions() -> None:
    assert set(NEEDS) <= {name for name, *_ in all_functions()}


def test_roles_use_no_managed_policy_and_name_the_gsi_instead_of_every_index(synth: Synth) -> None:
    for role in synth.of_type("AWS::IAM::Role").values():
        assert not role["Properties"].get("ManagedPolicyArns")
    index_arns = {
        json.dumps(resource)
        for statements in _statements_by_role(synth).values()
        for statement in statements
        if any(action.startswith("dynamodb:") for action in _actions(statement))
        for resource in statement["Resource"]
        if "/index/" in json.dumps(resource)
    }
    assert index_arns
    assert all(json.dumps(f"/index/{RESOURCES.table.indexes[0].name}") in arn for arn in index_arns)


# --- cdk-nag ----------------------------------------------------------------------------
# Rules the stack answers with a written reason (infra_cdk/nag.py); anything else is a defect.
ACKNOWLEDGED_RULES = {
    "AwsSolutions-L1",
    "AwsSolutions-APIG4",
    "AwsSolutions-SMG4",
    "AwsSolutions-S1",
    "AwsSolutions-IAM5",
    "AwsSolutions-CFR1",  # the console's distribution: no geo restriction,
    "AwsSolutions-CFR2",  # no WAF by default,
    "AwsSolutions-CFR3",  # the API's own access log instead of CloudFront's,
    "AwsSolutions-CFR4",  # CloudFront's default certificate (no custom domain)
}


def test_cdk_nag_aws_solutions_finds_nothing_unanswered(synth: Synth) -> None:
    assert synth.synth_error is None
    (nag,) = (report for report in synth.validation_report["pluginReports"] if report["pluginName"] == "AwsSolutions")
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []  # errors and warnings alike
    suppressed = nag.get("suppressedViolations", [])
    assert {violation["ruleName"].split("[")[0] for violation in suppressed} <= ACKNOWLEDGED_RULES
    for violation in suppressed:
        assert len(violation["reason"]) > 80, violation["ruleName"]
    # Every IAM5 acknowledgment names one wildcard: X-Ray's "*", or objects in a known place.
    wildcards = {v["ruleName"] for v in suppressed if v["ruleName"].startswith("AwsSolutions-IAM5")}
    topics = f"[Resource::arn:aws:sns:*:*:{StackConfig().alert_topic_prefix}*]"  # alert topics, by name prefix
    assert all(w.endswith(("[Resource::*]", "/*]", "/athena-results/*]", topics)) for w in wildcards), wildcards
    assert not any("Action::" in w for w in wildcards)


def test_cdk_nag_fails_the_synth_on_an_unanswered_finding(tmp_path: Path) -> None:
    from aws_cdk import aws_s3 as s3

    from infra_cdk.nag import add_checks

    app = App(outdir=str(tmp_path / "out"))
    add_checks(app)
    stack = Stack(app, "Nagged")
    s3.Bucket(stack, "Plain", enforce_ssl=True)  # no access logs: AwsSolutions-S1
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    (nag,) = (r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions")
    assert "AwsSolutions-S1" in {violation["ruleName"] for violation in nag["violations"]}


# --- cfn-lint ---------------------------------------------------------------------------
def test_template_passes_cfn_lint(synth: Synth, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    path = tmp_path / "template.json"
    path.write_text(json.dumps(synth.json))
    # W3005 (DependsOn that a GetAtt already implies) is how the CDK orders a function
    # after its role's policy; it is the only finding cfn-lint has on CDK output.
    matches = lint_file(path, ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]))
    assert [str(match) for match in matches] == []


# --- the worker loop with settings the registry does not use yet ------------------------
def test_queue_worker_gets_an_sqs_event_source_reporting_partial_failures(tmp_path: Path) -> None:
    queue = RESOURCES.queues[0]
    worker = QueueWorker(
        name="sample_worker",
        handler="sample_worker.handler.lambda_handler",
        queue=queue.logical,
        batch_size=25,
        max_batching_window_s=3,
        timeout_s=queue.visibility_timeout_s,
    )
    config = StackConfig(stage=STAGE, prefix=PREFIX)
    deps = resolve_deps_layers(config, tmp_path)
    stack = Stack(App(outdir=str(tmp_path / "out"), context=cdk_json_context()), "Workers")
    data = DataStore(stack, "Data", resources=RESOURCES, config=config)
    runtime = LambdaRuntime(
        stack,
        "Runtime",
        assets=AssetPaths(FUNCTIONS_DIR, CORE_LAYER_DIR, deps.paths),
        data=data,
        environment=data.environment(),
        log_retention_days=7,
    )
    QueueWorkers(stack, "Workers", workers=(worker,), runtime=runtime, data=data)
    template = Template.from_stack(stack)

    queue_id = stack.resolve(data.queues[queue.logical].queue_arn)["Fn::GetAtt"][0]
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": 25,
            "MaximumBatchingWindowInSeconds": 3,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": worker.handler})


# --- Athena -----------------------------------------------------------------------------
def _pseudo_free(ids: set[str]) -> set[str]:
    return {i for i in ids if not i.startswith("AWS::")}


def test_glue_database_and_athena_workgroup_write_expiring_encrypted_results(synth: Synth) -> None:
    analytics = synth.stack.data.analytics
    assert analytics is not None
    exports_id = synth.logical_id(synth.stack.data.buckets["exports"])
    (database,) = synth.of_type("AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == PREFIX.replace("-", "_")
    assert database["Properties"]["CatalogId"] == {"Ref": "AWS::AccountId"}
    (workgroup,) = synth.of_type("AWS::Athena::WorkGroup").values()
    props = workgroup["Properties"]
    assert props["Name"] == f"{PREFIX}-query"
    assert props["State"] == "ENABLED"
    config = props["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert config["ResultConfiguration"] == {
        "OutputLocation": {"Fn::Join": ["", ["s3://", {"Ref": exports_id}, "/athena-results/"]]},
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    rules = synth.props(exports_id)["LifecycleConfiguration"]["Rules"]
    assert {"Id": "ExpireExportFiles", "Prefix": "exports/", "ExpirationInDays": 8, "Status": "Enabled"} in rules
    assert {"Id": "ExpireAthenaResults", "Prefix": "athena-results/", "ExpirationInDays": 1, "Status": "Enabled"} in [
        {k: rule.get(k) for k in ("Id", "Prefix", "ExpirationInDays", "Status")} for rule in rules
    ]


def test_functions_are_told_the_athena_database_workgroup_and_output(synth: Synth) -> None:
    analytics = synth.stack.data.analytics
    assert analytics is not None
    exports_id = synth.logical_id(synth.stack.data.buckets["exports"])
    expected = {
        "MOLESIGNAL_ATHENA_DATABASE": {"Ref": synth.stack.get_logical_id(analytics.database)},
        "MOLESIGNAL_ATHENA_WORKGROUP": {"Ref": synth.stack.get_logical_id(analytics.workgroup)},
        "MOLESIGNAL_ATHENA_OUTPUT": {"Fn::Join": ["", ["s3://", {"Ref": exports_id}, "/athena-results/"]]},
    }
    for key in synth.functions():
        variables = synth.props(key)["Environment"]["Variables"]
        assert {name: variables.get(name) for name in expected} == expected, key


def test_only_the_query_functions_run_athena_on_its_workgroup_tables_and_results_prefix(synth: Synth) -> None:
    analytics = synth.stack.data.analytics
    assert analytics is not None
    workgroup_id = synth.stack.get_logical_id(analytics.workgroup)
    database_id = synth.stack.get_logical_id(analytics.database)
    exports_id = synth.logical_id(synth.stack.data.buckets["exports"])
    lake_id = synth.logical_id(synth.stack.data.buckets["lake"])
    role_of = {name: synth.role_id(synth.function_id(handler)) for name, handler, _, _ in all_functions()}
    # otlp_api: the session-content read; events_api: listing and reading audit events; the
    # alert evaluator: scheduled rules' queries.
    query_roles = [role_of["query_api"], role_of["otlp_api"], role_of["events_api"], role_of["alert_evaluation_worker"]]
    statements = _statements_by_role(synth)
    for role, found in statements.items():
        services = {action.split(":")[0] for statement in found for action in _actions(statement)}
        if role not in query_roles:
            assert not services & {"athena", "glue"}, role
    for query_role in query_roles:
        mine = statements[query_role]
        if query_role == role_of["events_api"]:
            # It also presigns export downloads: a read grant on the exports bucket, checked apart.
            reads = [
                s
                for s in mine
                if exports_id in referenced_ids(s["Resource"])
                and "athena-results" not in json.dumps(s["Resource"])
                and (
                    any(a.startswith("s3:GetObject") for a in _actions(s))
                    or sorted(_actions(s)) == ["s3:GetBucketLocation", "s3:ListBucket"]
                )
                and not any(a.startswith("s3:PutObject") for a in _actions(s))
            ]
            assert reads, "events_api reads export files to presign them"
            mine = [s for s in mine if all(s is not r for r in reads)]
        _check_athena_statements(mine, workgroup_id, database_id, exports_id)
    # Athena reads the lake with the function's own rights; query_api reads it, and SQL-table DML
    # writes new objects and deletes its own failed outputs (no bucket-level or policy actions).
    on_lake = {
        a for s in statements[role_of["query_api"]] if lake_id in referenced_ids(s["Resource"]) for a in _actions(s)
    }
    assert on_lake and all(
        a.startswith(("s3:Get", "s3:List", "s3:PutObject", "s3:Abort", "s3:DeleteObject")) for a in on_lake
    )


def _check_athena_statements(mine: list[dict[str, Any]], workgroup_id: str, database_id: str, exports_id: str) -> None:
    from infra_cdk.components.analytics import ATHENA_ACTIONS, GLUE_ACTIONS, RESULTS_OBJECT_ACTIONS

    (athena_statement,) = (s for s in mine if any(a.startswith("athena:") for a in _actions(s)))
    assert sorted(_actions(athena_statement)) == sorted(ATHENA_ACTIONS)
    assert _pseudo_free(referenced_ids(athena_statement["Resource"])) == {workgroup_id}
    assert ":workgroup/" in json.dumps(athena_statement["Resource"])

    (glue_statement,) = (s for s in mine if any(a.startswith("glue:") for a in _actions(s)))
    assert sorted(_actions(glue_statement)) == sorted(GLUE_ACTIONS)
    resources = [json.dumps(r) for r in glue_statement["Resource"]]
    assert len(resources) == 3
    assert any(r.endswith(':catalog"]]}') for r in resources)
    assert any(":database/" in r and database_id in r for r in resources)
    assert any(":table/" in r and database_id in r and r.endswith('/*"]]}') for r in resources)

    # On the exports bucket: the location, a listing confined to the results prefix, and
    # objects under it — nothing of the export files themselves.
    on_exports = [s for s in mine if exports_id in referenced_ids(s["Resource"])]
    by_action = {tuple(sorted(_actions(s))): s for s in on_exports}
    assert set(by_action) == {("s3:GetBucketLocation",), ("s3:ListBucket",), tuple(sorted(RESULTS_OBJECT_ACTIONS))}
    assert by_action[("s3:ListBucket",)]["Condition"] == {"StringLike": {"s3:prefix": ["athena-results/*"]}}
    assert json.dumps(by_action[tuple(sorted(RESULTS_OBJECT_ACTIONS))]["Resource"]).endswith('"/athena-results/*"]]}')


def test_console_is_served_by_cloudfront_with_the_api_on_the_same_origin(synth: Synth) -> None:
    from infra_cdk.components.console import api_path_patterns
    from registry import REGISTRY

    (distribution,) = synth.of_type("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (association,) = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    live = REGISTRY.websocket.path if REGISTRY.websocket else None  # to the WebSocket API: its own test
    patterns = {b["PathPattern"]: b for b in config["CacheBehaviors"] if b["PathPattern"] != live}
    streams = {"/v1/traces/*/stream"}  # to the streaming function URL (the streaming test)
    assert REGISTRY.console is not None
    embed = REGISTRY.console.framable  # the share viewer's embed, from the bucket (its own test)
    assert set(patterns) == set(api_path_patterns(REGISTRY.api_prefixes())) | streams | {embed}
    assert len(patterns) <= 25  # CloudFront's default limit of cache behaviours
    for pattern in streams:
        assert patterns.pop(pattern)["AllowedMethods"] == ["GET", "HEAD"]
    patterns.pop(embed)
    for prefix in REGISTRY.api_prefixes():  # every API prefix reaches API Gateway, none the bucket
        assert any(
            prefix == p or (p.endswith("/*") and prefix.startswith(p[:-1])) or prefix == p[:-2] for p in patterns
        ), prefix
    for behavior in patterns.values():
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert "DELETE" in behavior["AllowedMethods"]
    # The S3 origin is reached only through origin access control, never as a public website.
    assert synth.of_type("AWS::CloudFront::OriginAccessControl")
    assert "ConsoleUrl" in synth.json["Outputs"]


def test_the_share_viewer_is_the_consoles_and_only_its_embed_may_be_framed(synth: Synth) -> None:
    """/r/<shortId> is no API path: the console's shell answers it from the bucket (the
    rewrite function), and the embed's behaviour alone sends a CSP that lets other sites frame it."""
    from registry import REGISTRY

    assert REGISTRY.console is not None
    assert not any(p == "/r" or p.startswith("/r/") for p in REGISTRY.api_prefixes())
    (distribution,) = synth.of_type("AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    behaviors = config["CacheBehaviors"]
    (embed,) = [b for b in behaviors if b["PathPattern"] == REGISTRY.console.framable]
    assert REGISTRY.console.framable == "/r/*/embed"
    api = [b for b in behaviors if b["PathPattern"] in ("/v1/*", "/api/*")]
    assert api and all(b["TargetOriginId"] != embed["TargetOriginId"] for b in api)  # the bucket, not the API
    assert embed["TargetOriginId"] == config["DefaultCacheBehavior"]["TargetOriginId"]
    assert embed["FunctionAssociations"] == config["DefaultCacheBehavior"]["FunctionAssociations"]
    policies = synth.of_type("AWS::CloudFront::ResponseHeadersPolicy")

    def csp(behavior: dict[str, Any]) -> str:
        (logical_id,) = referenced_ids(behavior["ResponseHeadersPolicyId"])
        config = policies[logical_id]["Properties"]["ResponseHeadersPolicyConfig"]
        return str(config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    assert csp(embed).endswith("frame-ancestors *")
    assert csp(config["DefaultCacheBehavior"]).endswith("frame-ancestors 'self'")
    assert csp(config["DefaultCacheBehavior"]) == REGISTRY.console.content_security_policy()


def test_console_routes_rewrite_to_the_app_shell_but_not_assets() -> None:
    from infra_cdk.components.console import _rewrite_function_code, api_path_patterns
    from registry import StaticSite

    code = _rewrite_function_code(StaticSite())
    assert '"/docs": "/docs.html"' in code and 'request.uri = "/index.html"' in code and '"/assets/"' in code
    assert api_path_patterns(("/api/v1/query", "/api/v1/orgs", "/health", "/v1/api/sql")) == [
        "/api/*",
        "/health",
        "/health/*",
        "/v1/*",
    ]


def test_trace_tiers_are_lifecycle_rules_that_skip_pinned_objects(synth: Synth) -> None:
    from molesignal.resources import tiering_of

    tiering = tiering_of("blobs")
    rules = [
        rule
        for bucket in synth.of_type("AWS::S3::Bucket").values()
        for rule in (bucket["Properties"].get("LifecycleConfiguration") or {}).get("Rules", [])
        if rule.get("Id") == "trace-tiers"
    ]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["Prefix"] == tiering.prefix
    assert rule["TagFilters"] == [{"Key": tiering.tag_key, "Value": tiering.tag_auto}]
    assert rule["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": tiering.warm_after_days},
        {"StorageClass": "GLACIER", "TransitionInDays": tiering.cold_after_days},
    ]


def test_only_the_alert_senders_may_publish_to_alert_topics_and_nothing_else(synth: Synth) -> None:
    senders = {name for name, *_ in all_functions() if needs_of(name).publish_alerts}
    assert senders == {"alerts_api", "alert_delivery_worker"}
    handlers = {name: handler for name, handler, _, _ in all_functions()}
    publishers = set()
    for role, statements in _statements_by_role(synth).items():
        for statement in statements:
            actions = {a for a in _actions(statement) if a.startswith(("sns:", "ses:"))}
            if actions:
                assert actions == {"sns:Publish"}, statement  # no SES grant without alertEmailFrom
                assert statement["Resource"] == f"arn:aws:sns:*:*:{StackConfig().alert_topic_prefix}*"
                publishers.add(role)
    assert publishers == {synth.role_id(synth.function_id(handlers[name])) for name in senders}


def test_e_mail_may_be_sent_from_the_configured_sender_only() -> None:
    from aws_cdk import aws_iam as iam

    from infra_cdk.components.alerting import AlertChannels

    stack = Stack(App(), "Channels")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    AlertChannels(email_from="alerts@ops.example.com").grant(role, needs_of("alert_delivery_worker"))
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (ses,) = [s for s in statements if s["Action"] == "ses:SendEmail"]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": "alerts@ops.example.com"}}
    text = json.dumps(ses["Resource"])
    assert "identity/alerts@ops.example.com" in text and "identity/ops.example.com" in text and "*" not in text
    with pytest.raises(ValueError, match="alertEmailFrom"):
        StackConfig(alert_email_from="*@example.com")


def test_live_queries_websocket_api_routes_and_connection_grants(synth: Synth) -> None:
    """GET /v1/ws deploys as a WebSocket API: $connect, $default and $disconnect to the live_ws
    function, and the writers (SQL, ingest) may post to its connections (ADR 0021)."""
    apis = synth.template.find_resources("AWS::ApiGatewayV2::Api", {"Properties": {"ProtocolType": "WEBSOCKET"}})
    assert len(apis) == 1
    routes = synth.template.find_resources("AWS::ApiGatewayV2::Route")
    keys = {
        r["Properties"]["RouteKey"] for r in routes.values() if r["Properties"]["ApiId"] == {"Ref": next(iter(apis))}
    }
    assert keys == {"$connect", "$default", "$disconnect"}
    policies = synth.template.find_resources("AWS::IAM::Policy")
    granted = [
        logical
        for logical, policy in policies.items()
        if "execute-api:ManageConnections" in json.dumps(policy["Properties"]["PolicyDocument"])
    ]
    assert any("QueryApi" in name for name in granted), granted
    assert any("IngestWorker" in name for name in granted), granted
    assert any("LiveWs" in name for name in granted), granted
    assert not any("AuthApi" in name for name in granted), granted


def test_the_console_origin_forwards_v1_ws_to_the_websocket_api_before_the_http_api(synth: Synth) -> None:
    (distribution,) = synth.of_type("AWS::CloudFront::Distribution").values()
    behaviors = distribution["Properties"]["DistributionConfig"]["CacheBehaviors"]
    patterns = [b["PathPattern"] for b in behaviors]
    assert "/v1/ws" in patterns and patterns.index("/v1/ws") < patterns.index("/v1/*"), patterns
