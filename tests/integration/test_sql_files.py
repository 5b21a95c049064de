"""FILE columns over HTTP (spec 004): ``FILE("contract")`` in a multipart INSERT, the download
at ``GET /v1/files/{namespace}/{table}/{subfolder}/{file_id}``, who may read it, the upload
limits, hostile paths, and the file of a deleted row collected after the grace."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from molesignal import aws
from molesignal.lake import garbage
from molesignal.lake.layout import table_blob_key
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    assert_sql_error,
    create_org,
    create_user,
    ensure_setup,
    login,
    rows_of,
    sql_ok,
)

CONTRACT = b"%PDF-1.4 the contract\n" * 100


@pytest.fixture(scope="module")
def org(base_url: str) -> Iterator[dict[str, Any]]:
    """One org for the module (users are slow to create); each test writes rows of its own ids."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        ensure_setup(client)
        yield _org(client, login(client, "root", ROOT_PASSWORD))


def _org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    people: dict[str, Any] = {role: create_user(client, admin, role) for role in ("dba", "service", "viewer")}
    people["alice"] = create_user(client, admin, "editor")
    people["bob"] = create_user(client, admin, "editor")
    sql_ok(
        client,
        people["dba"],
        "CREATE NAMESPACE app; CREATE TABLE app.docs (id TEXT PRIMARY KEY, attachment FILE);"
        "CREATE TABLE app.limits (id TEXT PRIMARY KEY, attachment FILE);"
        "CREATE SHARED TABLE app.library (id TEXT PRIMARY KEY, attachment FILE);"
        "CREATE STREAM TABLE app.feed (id TEXT PRIMARY KEY, body TEXT) WITH (TTL_SECONDS = 3600)",
    )
    return {"id": org_id, "admin": admin, **people}


def post_sql(
    client: httpx.Client, who: Session, sql: str, files: dict[str, tuple[str, bytes, str]], **fields: str
) -> httpx.Response:
    parts: dict[str, Any] = {name: (None, value) for name, value in {"sql": sql, **fields}.items()}
    parts.update({f"file:{name}": value for name, value in files.items()})
    return client.post("/v1/api/sql", files=parts, headers=who.headers)


def insert_contract(
    client: httpx.Client, who: Session, table: str = "app.docs", row_id: str | None = None
) -> dict[str, Any]:
    row_id = row_id or uuid.uuid4().hex
    response = post_sql(
        client,
        who,
        f"INSERT INTO {table} (id, attachment) VALUES ('{row_id}', FILE(\"contract\"))",
        {"contract": ("contract.pdf", CONTRACT, "application/pdf")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["row_count"] == 1
    rows = rows_of(sql_ok(client, who, f"SELECT attachment FROM {table} WHERE id = $1", [row_id])[0])
    return dict(orjson.loads(str(rows[0]["attachment"])))


def file_url(ref: dict[str, Any], table: str = "docs", namespace: str = "app") -> str:
    return f"/v1/files/{namespace}/{table}/{ref['sub']}/{ref['id']}"


def test_the_documents_file_insert_and_its_download(client: httpx.Client, org: dict[str, Any]) -> None:
    """Spec 004: ``INSERT INTO app.docs (id, attachment) VALUES ('d1', FILE("contract"))`` with part file:contract."""
    ref = insert_contract(client, org["alice"])
    assert ref["name"] == "contract.pdf" and ref["size"] == len(CONTRACT) and ref["mime"] == "application/pdf"
    assert ref["sha256"] == hashlib.sha256(CONTRACT).hexdigest()
    response = client.get(file_url(ref), headers=org["alice"].headers)
    assert response.status_code == 200, response.text
    assert response.content == CONTRACT
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "contract.pdf" in response.headers["content-disposition"]


def test_a_users_file_is_theirs_unless_acted_for(client: httpx.Client, org: dict[str, Any], root: Session) -> None:
    ref = insert_contract(client, org["alice"])
    url = file_url(ref)
    # bob's scope holds no such file: the same 404 as a file that never existed
    assert_sql_error(client.get(url, headers=org["bob"].headers), 404, "FILE_NOT_FOUND")
    # an editor may not act for another user
    assert_sql_error(
        client.get(url, params={"user_id": org["alice"].user}, headers=org["bob"].headers), 403, "PERMISSION_DENIED"
    )
    for actor in ("service", "dba"):
        response = client.get(url, params={"user_id": org["alice"].user}, headers=org[actor].headers)
        assert response.status_code == 200 and response.content == CONTRACT, (actor, response.text)
    # another org's dba, naming alice and the same path: nothing there
    other = create_user(client, create_user(client, root, "admin", org_id=create_org(client, root)), "dba")
    sql_ok(client, other, "CREATE NAMESPACE app; CREATE TABLE app.docs (id TEXT PRIMARY KEY, attachment FILE)")
    response = client.get(url, params={"user_id": org["alice"].user}, headers=other.headers)
    assert response.status_code in (403, 404), response.text
    assert response.json()["status"] == "error"


def test_shared_table_files_are_the_orgs_readers(client: httpx.Client, org: dict[str, Any]) -> None:
    ref = insert_contract(client, org["dba"], "app.library")
    for reader in ("viewer", "bob", "alice"):
        response = client.get(file_url(ref, "library"), headers=org[reader].headers)
        assert response.status_code == 200 and response.content == CONTRACT, reader
    # user_id means nothing on a SHARED table
    bad = client.get(file_url(ref, "library"), params={"user_id": "x"}, headers=org["dba"].headers)
    assert_sql_error(bad, 400, "INVALID_REQUEST")


HOSTILE_PATHS = [
    ("a SYSTEM table", "/v1/files/system/users/f0000/" + "0" * 32, 400, "INVALID_REQUEST"),
    ("a STREAM table", "/v1/files/app/feed/f0000/" + "0" * 32, 400, "INVALID_REQUEST"),
    ("an ingest stream", "/v1/files/default/logs/f0000/" + "0" * 32, 400, "INVALID_REQUEST"),
    ("a file id that is no id", "/v1/files/app/docs/f0000/..secret", 400, "INVALID_REQUEST"),
    ("a subfolder that is no subfolder", "/v1/files/app/docs/..x/" + "0" * 32, 400, "INVALID_REQUEST"),
    ("a namespace that is no name", "/v1/files/a%20b/docs/f0000/" + "0" * 32, 400, "INVALID_REQUEST"),
    # the gateway decodes %2F before routing, as API Gateway does: no route has that many parts
    ("a path that climbs", "/v1/files/app/docs/f0000/..%2F..%2Fsecret", 404, "NOT_FOUND"),
    ("an unknown table", "/v1/files/app/nothing/f0000/" + "0" * 32, 404, "TABLE_NOT_FOUND"),
    ("an unknown file", "/v1/files/app/docs/f0000/" + "0" * 32, 404, "FILE_NOT_FOUND"),
]


@pytest.mark.parametrize(("what", "path", "status", "code"), HOSTILE_PATHS, ids=[h[0] for h in HOSTILE_PATHS])
def test_hostile_and_wrong_paths_are_refused(
    client: httpx.Client, org: dict[str, Any], what: str, path: str, status: int, code: str
) -> None:
    assert_sql_error(client.get(path, headers=org["dba"].headers), status, code)


def test_downloads_need_a_bearer_token(client: httpx.Client, org: dict[str, Any]) -> None:
    ref = insert_contract(client, org["alice"])
    response = client.get(file_url(ref))
    assert response.status_code == 401, response.text


LIMITS = [
    ("a file over the size limit", {"contract": ("big.bin", b"x" * (4 * 1024 * 1024 + 1), "application/pdf")}, 413,
     "FILE_TOO_LARGE"),
    ("a type a browser would run", {"contract": ("page.html", b"<script>", "text/html")}, 415, "INVALID_MIME_TYPE"),
    ("eleven files", {f"f{i}": (f"{i}.txt", b"x", "text/plain") for i in range(11)}, 400, "TOO_MANY_FILES"),
    ("a placeholder with no part", {}, 400, "MISSING_FILE"),
    ("a part no FILE() names", {"contract": ("c.pdf", b"x", "application/pdf"), "other": ("o", b"y", "text/plain")},
     400, "EXTRA_FILE"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "files", "status", "code"), LIMITS, ids=[w[0] for w in LIMITS])
def test_upload_limits_answer_the_documents_codes_and_store_nothing(
    client: httpx.Client, org: dict[str, Any], what: str, files: dict[str, Any], status: int, code: str
) -> None:
    before = _objects_of(org["id"])
    response = post_sql(
        client, org["alice"], "INSERT INTO app.limits (id, attachment) VALUES ('d1', FILE(\"contract\"))", files
    )
    assert_sql_error(response, status, code)
    assert rows_of(sql_ok(client, org["alice"], "SELECT count(*) AS n FROM app.limits")[0]) == [{"n": 0}]
    assert _objects_of(org["id"]) == before


def test_file_columns_take_only_uploads(client: httpx.Client, org: dict[str, Any]) -> None:
    """A forged reference (pointing at another scope's object) is not a file this statement stored."""
    ref = insert_contract(client, org["alice"])
    forged = orjson.dumps(ref).decode()
    response = client.post(
        "/v1/api/sql",
        json={"sql": "INSERT INTO app.docs (id, attachment) VALUES ('d2', $1)", "params": [forged]},
        headers=org["bob"].headers,
    )
    assert_sql_error(response, 400, "INVALID_SQL")


def test_a_deleted_rows_file_is_collected_after_the_grace(client: httpx.Client, org: dict[str, Any]) -> None:
    ref = insert_contract(client, org["alice"], row_id="gc1")
    replaced = insert_contract(client, org["alice"], row_id="gc2")
    response = post_sql(
        client,
        org["alice"],
        "UPDATE app.docs SET attachment = FILE(\"v2\") WHERE id = 'gc2'",
        {"v2": ("v2.txt", b"second version", "text/plain")},
    )
    assert response.status_code == 200, response.text
    sql_ok(client, org["alice"], "DELETE FROM app.docs WHERE id = 'gc1'")
    # within the grace, readers of an older snapshot may still fetch the bytes
    assert client.get(file_url(ref), headers=org["alice"].headers).status_code == 200
    rows = rows_of(sql_ok(client, org["alice"], "SELECT attachment FROM app.docs WHERE id = 'gc2'")[0])
    current = dict(orjson.loads(str(rows[0]["attachment"])))
    assert client.get(file_url(current), headers=org["alice"].headers).content == b"second version"
    later = garbage.new_delete_after(0) + 3600 * 1_000_000
    garbage.sweep(Table(), get_settings().resource_name("blobs"), now_us=later, limit=10_000)
    for gone in (ref, replaced):
        assert_sql_error(client.get(file_url(gone), headers=org["alice"].headers), 404, "FILE_NOT_FOUND")
    assert client.get(file_url(current), headers=org["alice"].headers).content == b"second version"


def _objects_of(org_id: str) -> list[str]:
    prefix = table_blob_key(org_id, "x", "x", "x", "x").split("table=", 1)[0]
    listed = aws.client("s3").list_objects_v2(Bucket=get_settings().resource_name("blobs"), Prefix=prefix)
    return [str(o["Key"]) for o in listed.get("Contents", [])]
