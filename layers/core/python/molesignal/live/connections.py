"""Connections and their subscriptions, in the single DynamoDB table.

API Gateway keeps the sockets; a function instance keeps nothing between invocations, and
the writers that fan changes out run in other functions. So what a connection is (who
authenticated on it) and what it watches live in DynamoDB:

* ``LIVE#<connection>`` / ``CONN``: the connection, and after ``authenticate`` its principal;
* ``LIVE#<connection>`` / ``SUB#<id>``: one subscription, also listed under
  ``gsi1pk = ORG#<org>#LIVE#<relation>`` so a writer finds a relation's subscribers with
  one Query per committed change.

Items expire (TTL) after API Gateway's two-hour connection limit, so a connection whose
``$disconnect`` never ran is swept by DynamoDB itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from molesignal.auth.principal import Principal
from molesignal.lake.watch import Watch
from molesignal.storage.table import Item, Table

CONNECTION_TTL_S = 2 * 3600 + 600  # API Gateway closes a WebSocket after 2 h
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100  # KalamDB's hard per-connection cap


def _pk(connection_id: str) -> str:
    return f"LIVE#{connection_id}"


def relation_listing(org_id: str, relation: str) -> str:
    return f"ORG#{org_id}#LIVE#{relation}"


@dataclass(frozen=True)
class Subscription:
    connection_id: str
    subscription_id: str
    org_id: str
    relation: str
    filter_sql: str
    user_id: str  # whose scope of a USER table the subscriber reads
    session_id: str = ""  # the login session (refresh family) the connection authenticated with

    @classmethod
    def from_item(cls, item: Item) -> Subscription:
        return cls(
            connection_id=str(item["connection_id"]),
            subscription_id=str(item["subscription_id"]),
            org_id=str(item["org_id"]),
            relation=str(item["relation"]),
            filter_sql=str(item["filter_sql"]),
            user_id=str(item["user_id"]),
            session_id=str(item.get("session_id", "")),
        )


class Connections:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    def _expires(self) -> int:
        return int(time.time()) + CONNECTION_TTL_S

    def opened(self, connection_id: str, source_ip: str) -> None:
        self.table.put(
            {
                "pk": _pk(connection_id),
                "sk": "CONN",
                "connection_id": connection_id,
                "source_ip": source_ip,
                "expires_at": self._expires(),
            }
        )

    def get(self, connection_id: str) -> Item | None:
        return self.table.get(_pk(connection_id), "CONN")

    def authenticated(self, connection_id: str, principal: Principal, source_ip: str) -> None:
        self.table.put(
            {
                "pk": _pk(connection_id),
                "sk": "CONN",
                "connection_id": connection_id,
                "source_ip": source_ip,
                "principal": principal.to_context(),
                "expires_at": self._expires(),
            }
        )

    def subscriptions(self, connection_id: str) -> list[Item]:
        return self.table.query_all(_pk(connection_id), sk_prefix="SUB#", consistent=True)

    def add(self, subscription: Subscription) -> bool:
        """File the subscription; True when writers may still hold a cached "nobody watches
        this org" (its first live subscription): the caller settles before its answer."""
        expires_at = self._expires()
        self.table.put(
            {
                "pk": _pk(subscription.connection_id),
                "sk": f"SUB#{subscription.subscription_id}",
                "gsi1pk": relation_listing(subscription.org_id, subscription.relation),
                "gsi1sk": f"{subscription.connection_id}#{subscription.subscription_id}",
                "connection_id": subscription.connection_id,
                "subscription_id": subscription.subscription_id,
                "org_id": subscription.org_id,
                "relation": subscription.relation,
                "filter_sql": subscription.filter_sql,
                "user_id": subscription.user_id,
                "session_id": subscription.session_id,
                "expires_at": expires_at,
            }
        )
        return Watch(self.table).live_subscribed(subscription.org_id, expires_at)

    def remove(self, connection_id: str, subscription_id: str) -> bool:
        found = self.table.get(_pk(connection_id), f"SUB#{subscription_id}") is not None
        self.table.delete(_pk(connection_id), f"SUB#{subscription_id}")
        return found

    def drop(self, connection_id: str) -> int:
        """Forget a connection and everything it subscribed to; returns the items removed."""
        items = self.table.query_all(_pk(connection_id), consistent=True)
        for item in items:
            self.table.delete(str(item["pk"]), str(item["sk"]))
        return len(items)

    def watching(self, org_id: str, relation: str) -> list[Subscription]:
        """The subscriptions on one org's relation: the writer's one Query per change."""
        items = self.table.query_all(relation_listing(org_id, relation), index="gsi1")
        return [Subscription.from_item(item) for item in items]
