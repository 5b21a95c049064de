"""Realtime predicates: compiled by the query guard, evaluated over an Arrow batch in DuckDB."""

from __future__ import annotations

import pyarrow as pa
import pytest

from molesignal.alerts.predicate import BatchEvaluator, PredicateCheck, check_against_schema, compile_predicate
from molesignal.alerts.template import context, render
from molesignal.query.errors import InvalidSql, PermissionDenied

BATCH = pa.table(
    {
        "level": ["error", "info", "error", "error"],
        "service": ["api", "api", "web", "api"],
        "status": [500, 200, 503, None],
        "msg": ["a", "b", "c", "d"],
    }
)


def _check(key: str, where: str, group_by: tuple[str, ...] = ()) -> PredicateCheck:
    return PredicateCheck(key, compile_predicate(where, org_id="o", stream="app"), group_by)


def test_the_condition_is_rendered_from_the_checked_tree_with_its_columns() -> None:
    compiled = compile_predicate("app.level = 'error'  AND  Service = 'api' -- note", org_id="o", stream="app")
    assert compiled.sql == "level = 'error' AND Service = 'api'"
    assert compiled.columns == {"level", "service"}


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("1 = 1 UNION SELECT * FROM app", PermissionDenied),
        ("x IN (SELECT x FROM other)", PermissionDenied),
        ("sum(status) > 1", PermissionDenied),
        ("row_number() OVER () = 1", PermissionDenied),
        ("getenv('HOME') = ''", PermissionDenied),
        ("1 = 1; DELETE FROM app", InvalidSql),
        ("", InvalidSql),
    ],
)
def test_anything_but_one_row_condition_is_refused(where: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        compile_predicate(where, org_id="o", stream="app")


def test_ungrouped_checks_share_one_pass_and_report_the_first_matching_row() -> None:
    evaluator = BatchEvaluator(BATCH)
    outcomes = evaluator.run(
        [
            _check("errors", "level = 'error'"),
            _check("api5xx", "service = 'api' AND status >= 500"),
            _check("none", "msg = 'z'"),
        ]
    )
    assert outcomes["errors"].matched == 3 and outcomes["api5xx"].matched == 1 and outcomes["none"].matched == 0
    errors_sample = evaluator.sample("errors", {})
    assert errors_sample is not None and errors_sample["msg"] == "a" and "__ms_row" not in errors_sample
    assert evaluator.sample("api5xx", {}) == {"level": "error", "service": "api", "status": 500, "msg": "a"}
    assert evaluator.sample("none", {}) is None


def test_grouped_checks_report_every_group_seen_matched_or_not() -> None:
    outcome = BatchEvaluator(BATCH).run([_check("g", "level = 'error'", ("service",))])["g"]
    by_group = {g.labels["service"]: g.matched for g in outcome.groups}
    assert by_group == {"api": 2, "web": 1}


def test_a_missing_column_is_null_and_a_type_error_fails_only_its_own_check() -> None:
    outcomes = BatchEvaluator(BATCH).run(
        [_check("missing", "region = 'eu'"), _check("bad", "msg > 5"), _check("good", "level = 'info'")]
    )
    assert outcomes["missing"].matched == 0 and not outcomes["missing"].error
    assert outcomes["bad"].error and outcomes["good"].matched == 1


def test_binding_against_a_stream_schema_reports_type_errors_early() -> None:
    compiled = compile_predicate("status > 'x' AND level = 'error'", org_id="o", stream="app")
    check_against_schema(compiled, (), {"status": "string", "level": "string"})
    with pytest.raises(InvalidSql, match="does not fit"):
        check_against_schema(compile_predicate("level > 5", org_id="o", stream="app"), (), {"level": "string"})


def test_templates_fill_known_names_and_drop_unknown_ones() -> None:
    values = context(labels={"service": "api"}, sample={"msg": "boom", "service": "row"}, base={"count": 2.0})
    assert render("{{count}} from {{ service }}: {{msg}} {{row.service}} {{nope}}!", values) == "2 from api: boom row !"


def test_checks_grouped_by_the_same_columns_share_a_query_and_a_bad_one_fails_alone() -> None:
    evaluator = BatchEvaluator(BATCH)
    outcomes = evaluator.run(
        [
            _check("errors", "level = 'error'", ("service",)),
            _check("bad", "msg > 5", ("service",)),
            _check("5xx", "status >= 500", ("service",)),
            _check("all", "level = 'error'"),
        ]
    )
    assert {g.labels["service"]: g.matched for g in outcomes["errors"].groups} == {"api": 2, "web": 1}
    assert {g.labels["service"]: g.matched for g in outcomes["5xx"].groups} == {"api": 1, "web": 1}
    assert outcomes["bad"].error and not outcomes["errors"].error
    assert evaluator.sample("5xx", {"service": "web"}) == {
        "level": "error",
        "service": "web",
        "status": 503,
        "msg": "c",
    }
    assert evaluator.sample("errors", {"service": "api"}) == {
        "level": "error",
        "service": "api",
        "status": 500,
        "msg": "a",
    }
    assert evaluator.sample("5xx", {"service": "nowhere"}) is None
    all_sample = evaluator.sample("all", {})
    assert outcomes["all"].matched == 3 and all_sample is not None and all_sample["msg"] == "a"
