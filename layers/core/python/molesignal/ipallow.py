"""Per-org IP allowlists: which source addresses may use an org's credentials.

The list is a set of IPv4/IPv6 CIDRs on the org item; an empty list allows everyone. The
authorizer checks every authenticated request against it with the source address API
Gateway saw (``requestContext.http.sourceIp``), never a client header, so the refusal is a
403 in every route family; login and token refresh check it too (after the password or
refresh token is verified, so the answer tells nothing to someone without them), so no
tokens are issued to a non-listed address. Root, the deployment owner, is never refused. An admin cannot
save a list that would refuse their own address unless they say ``force``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from molesignal.auth.principal import Principal, Role
from molesignal.errors import Conflict, Forbidden, Invalid
from molesignal.recent import forget_org, recent_org
from molesignal.storage import keys
from molesignal.storage.table import Table

MAX_ENTRIES = 200

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize(cidrs: list[str]) -> list[str]:
    if len(cidrs) > MAX_ENTRIES:
        raise Invalid(f"invalid argument: at most {MAX_ENTRIES} CIDRs")
    found: list[str] = []
    for text in cidrs:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError as exc:
            raise Invalid(f"invalid argument: {text!r} is not an IPv4 or IPv6 CIDR") from exc
        if str(network) not in found:
            found.append(str(network))
    return found


def allows(cidrs: tuple[str, ...] | list[str], source_ip: str) -> bool:
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    networks: list[Network] = [ipaddress.ip_network(c) for c in cidrs]
    return any(address.version == n.version and address in n for n in networks)


@dataclass
class Allowlists:
    table: Table

    def get(self, org_id: str) -> list[str]:
        item = self.table.get(*keys.org(org_id)) or {}
        return list(item.get("ip_allowlist") or [])

    def recent(self, org_id: str) -> tuple[str, ...]:
        """The list as this process read the org lately (a change made elsewhere applies
        within ``MOLESIGNAL_WARM_MEMO_S``)."""
        return tuple((recent_org(self.table, org_id) or {}).get("ip_allowlist") or ())

    def put(self, org_id: str, cidrs: list[str], *, by: Principal, source_ip: str, force: bool) -> list[str]:
        normalized = normalize(cidrs)
        if by.role is not Role.ROOT and by.org_id == org_id and not force and not allows(normalized, source_ip):
            raise Conflict(
                f"conflict: this list would refuse your own address {source_ip}; include it, or send force: true",
                code="would_lock_out",
            )
        pk, sk = keys.org(org_id)
        self.table.update(
            pk, sk, "SET ip_allowlist = :cidrs", values={":cidrs": normalized}, condition="attribute_exists(pk)"
        )
        forget_org(org_id)
        return normalized

    def check(self, principal: Principal, source_ip: str) -> None:
        self.check_user(principal.org_id, principal.role, source_ip)

    def check_user(self, org_id: str, role: Role, source_ip: str) -> None:
        """Refuse a user of ``org_id`` at ``source_ip`` (login and refresh use this before any
        token exists; the authorizer, through ``check``, on every other request)."""
        if role is Role.ROOT:
            return
        if not allows(self.recent(org_id), source_ip):
            raise Forbidden(
                f"forbidden: requests from {source_ip} are not in this org's IP allowlist", code="ip_not_allowed"
            )
