"""What alert delivery may reach outside the stack: SES from one sender, SNS topics by name prefix."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from infra_cdk.nag import acknowledge
from infra_cdk.permissions import Needs


@dataclass(frozen=True)
class AlertChannels:
    email_from: str = ""  # the SES-verified sender; empty: no function may send e-mail
    topic_prefix: str = "molesignal-alerts"

    def topic_arn_pattern(self) -> str:
        # Tenants' topics live in their own accounts and regions; their topic policy lets our role
        # publish. The name prefix is what confines the grant (and the API checks the same prefix).
        return f"arn:aws:sns:*:*:{self.topic_prefix}*"

    def grant(self, role: iam.Role, needs: Needs) -> None:
        if needs.send_email and self.email_from:
            domain = self.email_from.rsplit("@", 1)[1]
            identities = [
                f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/{identity}"
                for identity in (self.email_from, domain)  # verified as an address or as its domain
            ]
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail"],
                    resources=identities,
                    conditions={"StringEquals": {"ses:FromAddress": self.email_from}},
                )
            )
        if needs.publish_alerts:
            pattern = self.topic_arn_pattern()
            role.add_to_principal_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[pattern]))
            acknowledge(role, "IAM5", "IAM5-alert-topics", finding=f"Resource::{pattern}")
