"""cdk-nag's AwsSolutions pack on every synth, and every finding the stack accepts, with why.

``build_app`` adds the pack, so ``cdk synth``/``deploy`` fail on a finding nobody has
answered, and ``tests/infra/test_stack.py`` asserts the report is clean. What could be fixed
was fixed in the constructs (server access logs, a role per function with only its own log
group instead of the AWS managed basic-execution policy, explicit S3 and DynamoDB actions,
the GSI named instead of ``index/*``). What remains is acknowledged where the finding is
made, with one of the reasons below; a finding id names the rule and, for IAM5, the exact
wildcard, so a new wildcard is a new finding.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"

# Each reason is what a reviewer would ask for: why the rule does not apply, or what
# replaces it.
REASONS: dict[str, str] = {
    "L1": (
        "python3.12 is chosen on purpose (docs/adr/0004-lambda-python-3-12.md): the tests run on 3.11 and "
        "the dependency layers are built and import-checked for 3.12; AWS supports it until 2028. Moving "
        "to a newer runtime is a decision of its own, with the layers rebuilt for it."
    ),
    "APIG4": (
        "public by the API contract: health and metrics probes, the OpenAPI document, first-run setup, "
        "login/refresh/status and the catch-all that answers 404 in the caller's envelope. They "
        "authenticate nothing or check credentials in the body themselves (docs/api.md)."
    ),
    "APIG4-ws": (
        "the WebSocket API (live queries) authenticates in its first frame: browsers cannot send an "
        "Authorization header with a WebSocket upgrade, and a token in the URL would land in access logs. "
        "A connection that does not send a valid JWT gets auth_error and is closed; nothing is read "
        "before it (docs/adr/0021-live-queries-over-websocket.md)."
    ),
    "SMG4": (
        "the JWT signing key cannot rotate on a schedule yet: every function caches the key and verifies "
        "with that one key, so a rotation would sign out every session at once. Rotation needs a verifier "
        "that accepts the previous key during an overlap (docs/deploy.md, 'Not done yet')."
    ),
    "S1": (
        "this is the server access log bucket itself; logging its own writes into itself would log the "
        "log deliveries. Its objects expire (ACCESS_LOG_DAYS in components/data.py)."
    ),
    "CFR1": (
        "the console and API serve tenants wherever they are; who may call is decided by tokens, per-org "
        "IP allowlists and quotas, not by country."
    ),
    "CFR2": (
        "no WAF by default: the API authenticates every call and rate-limits per org, and a web ACL is an "
        "operator choice with its own cost; docs/deploy.md says where to attach one."
    ),
    "CFR3": (
        "the distribution serves the console's static files and forwards the API, whose every request is "
        "already in the API Gateway stage's access log; the files bucket has server access logs."
    ),
    "CFR4": (
        "the stack has no custom domain, so CloudFront's default certificate is used and its TLS policy "
        "cannot be raised; an operator adding a domain attaches an ACM certificate with TLSv1.2_2021 "
        "(docs/deploy.md)."
    ),
    "IAM5-xray": (
        "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource-level permissions: '*' is the "
        "only resource AWS accepts for them (added by tracing=ACTIVE)."
    ),
    "IAM5-objects": (
        "object keys are built at run time from the org, stream and time, inside the one bucket this "
        "function needs; the grant is the object actions it calls (no s3:* action wildcard)."
    ),
    "IAM5-glue-tables": (
        "the query functions create one Glue table per org and stream at run time "
        "(docs/adr/0005-athena-partition-projection.md); the grant stays inside the stack's own database."
    ),
    "IAM5-alert-topics": (
        "SNS alert destinations are tenants' topics in their own accounts and regions, unknown at deploy "
        "time; the grant is sns:Publish only, to topics whose name starts with the configured prefix (the "
        "API refuses other topic ARNs), and each topic's own policy must also allow this role."
    ),
    "IAM5-customer-buckets": (
        "an S3 log stream writes to a bucket its org names at run time, outside the stack; only "
        "PutObject(Acl) is granted, and the customer's bucket policy must also allow this role."
    ),
    "IAM5-live-connections": (
        "WebSocket connection ids are made by API Gateway when a client connects; the grant is "
        "execute-api:ManageConnections (post, close) on this stack's WebSocket API and stage only."
    ),
    "IAM5-athena-results": (
        "Athena names its result objects after query ids it chooses; the grant is confined to the "
        "athena-results/ prefix, which expires after a day."
    ),
}


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, reason_key: str | None = None, *, finding: str = "") -> None:
    """Accept ``AwsSolutions-<rule>[<finding>]`` on ``construct`` with the written reason."""
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{PACK}::{rule_id}", reason=REASONS[reason_key or rule]))


def arn_token(construct: IConstruct) -> str:
    """How cdk-nag spells ``Fn::GetAtt [X, Arn]`` in a finding: ``<LogicalId.Arn>``."""
    return f"<{Stack.of(construct).get_logical_id(construct.node.default_child)}.Arn>"  # type: ignore[arg-type]
