"""The live-query plan: which relation a subscription watches, and the filter compiled once
for each change's rows (molesignal/live/plan.py), and the frames clients send (protocol.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from molesignal.errors import DomainError
from molesignal.live import protocol
from molesignal.live.plan import plan
from molesignal.live.rows_filter import matching_rows
from molesignal.live.session import error_code


def test_a_stream_subscription_watches_the_default_namespace_and_filters_by_its_where() -> None:
    live = plan("org1", "SELECT msg FROM logs WHERE level = 'error' ORDER BY _timestamp DESC LIMIT 20")
    assert live.relation == "default.logs"
    assert "LIMIT 20" in live.initial_sql
    rows = pa.table({"level": ["info", "error"], "msg": ["quiet", "loud"], "_timestamp": [1, 2]})
    assert matching_rows(live.filter_sql, rows) == [{"msg": "loud"}]


@pytest.mark.parametrize("qualifier", ["default", "main", "org1"])
def test_every_stream_qualifier_names_the_same_relation(qualifier: str) -> None:
    assert plan("org1", f"SELECT * FROM {qualifier}.logs").relation == "default.logs"


def test_an_alias_in_the_where_survives_compilation() -> None:
    live = plan("org1", "SELECT o.id FROM app.orders AS o WHERE o.status = 'open'")
    assert live.relation == "app.orders"
    rows = pa.table({"id": [1, 2], "status": ["open", "closed"]})
    assert matching_rows(live.filter_sql, rows) == [{"id": 1}]


def test_the_initial_batch_is_bounded_even_when_the_sql_asks_for_more() -> None:
    assert plan("org1", "SELECT id FROM app.orders LIMIT 999999", max_initial_rows=1000).initial_sql.endswith(
        "LIMIT 1000"
    )
    assert plan("org1", "SELECT id FROM app.orders", last_rows=5).initial_sql.endswith("LIMIT 5")


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT a.id FROM app.a AS a JOIN app.b AS b ON a.id = b.id", "UNSUPPORTED"),  # a join
        ("SELECT count(*) FROM app.orders", "UNSUPPORTED"),  # an aggregate
        ("SELECT DISTINCT status FROM app.orders", "UNSUPPORTED"),  # DISTINCT
        ("WITH x AS (SELECT 1) SELECT * FROM x", "UNSUPPORTED"),  # a CTE
        ("SELECT * FROM system.users", "PERMISSION_DENIED"),  # SYSTEM, below dba
        ("SELECT * FROM __ms_live_rows", "PERMISSION_DENIED"),  # the reserved name of the rows view
        ("SELECT * FROM app.orders LIMIT ALL", "INVALID_SQL"),  # a LIMIT that is no number
        ("SELEC 1", "INVALID_SQL"),  # not SQL
    ],
)
def test_what_a_live_query_refuses(sql: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        plan("org1", sql)
    assert error_code(refused.value) == code


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[]", "PROTOCOL"),  # not an object
        ('{"type": "subscribe"}', "PROTOCOL"),  # no subscription
        ('{"type": "subscribe", "subscription": {"id": " ", "sql": "SELECT 1"}}', "INVALID_SUBSCRIPTION_ID"),
        ('{"type": "subscribe", "subscription": {"id": "a", "sql": ""}}', "INVALID_SQL"),
        ('{"type": "authenticate", "method": "basic", "token": "x"}', "UNAUTHORIZED"),  # only JWTs
        ('{"type": "unsubscribe"}', "INVALID_SUBSCRIPTION_ID"),
    ],
)
def test_malformed_frames_name_their_fault(frame: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        protocol.parse(frame)
    assert error_code(refused.value) == code
