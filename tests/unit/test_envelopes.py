from __future__ import annotations

from molesignal.web.envelopes import Family, error_body, family_for_path


def test_family_by_path() -> None:
    assert family_for_path("/api/v1/auth/login") is Family.CORE
    assert family_for_path("/metrics") is Family.CORE
    assert family_for_path("/v1/api/sql") is Family.SQL
    assert family_for_path("/v1/files/a/b/c/d") is Family.SQL
    assert family_for_path("/health") is Family.SQL
    assert family_for_path("/healthz") is Family.CORE


def test_sql_envelope_maps_status_to_spec_codes_and_keeps_named_codes() -> None:
    assert error_body(Family.SQL, 403, "forbidden", "no")["error"]["code"] == "PERMISSION_DENIED"
    assert error_body(Family.SQL, 400, "INVALID_SQL", "bad")["error"]["code"] == "INVALID_SQL"
    assert error_body(Family.CORE, 400, "invalid_argument", "bad") == {"error": "bad", "code": "invalid_argument"}
