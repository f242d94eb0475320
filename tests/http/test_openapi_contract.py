"""The OpenAPI document against what the server answers, for the answers the fuzz test
(test_fuzz.py) cannot reach: MessagePack bodies (`Accept: application/msgpack`), a database
another writer holds (503 `busy`), and the one thing a parameter's schema can say that the
handler checks by hand (the export's `format`). An integrator writing a client from the
document must find every status, media type and value the server uses there.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from server import export
from server.api.docs import FORM_EXAMPLE
from tests.support import assert_problem, hoa_giai, submission

MSGPACK = "application/msgpack"


def _document(api: Any) -> dict[str, Any]:
    r = api.client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _documented(doc: dict[str, Any], method: str, path: str, status: int, media: str) -> Any:
    """The schema the document gives for `status` of `method path` in `media`."""
    responses = doc["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path}: {status} is not documented"
    content = responses[str(status)].get("content", {})
    assert media in content, f"{method.upper()} {path} {status}: {media} is not documented"
    return content[media]["schema"]


def _conforms(doc: dict[str, Any], schema: Any, value: Any) -> None:
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]})
    errors = [str(e) for e in validator.iter_errors(value)]
    assert not errors, errors


def _push(api: Any, headers: dict[str, str]) -> Any:
    item = submission("hoa_giai", hoa_giai(random.Random(4)), version=2)
    return api.client.post(
        "/api/v1/sync/push",
        json={"device_id": "phone-1", "submissions": [item]},
        headers={**api.auth("officer"), **headers},
    )


def test_every_json_answer_is_documented_as_messagepack_too(api: Any) -> None:
    """`Accept: application/msgpack` gets MessagePack from every JSON endpoint of the API
    (PROTOCOL, Conventions): the document lists that media type, with the JSON's schema."""
    doc = _document(api)
    for path, item in doc["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in item.items():
            for status, response in op["responses"].items():
                content = response.get("content", {})
                if status.startswith("2") and "application/json" in content:
                    assert content.get(MSGPACK) == content["application/json"], (
                        method,
                        path,
                        status,
                    )


def test_messagepack_answers_conform_to_the_document(api: Any) -> None:
    doc = _document(api)
    accept = {"Accept": MSGPACK}
    r = _push(api, accept)
    assert r.headers["content-type"] == MSGPACK
    pushed = msgspec.msgpack.decode(r.content)
    _conforms(doc, _documented(doc, "post", "/api/v1/sync/push", 200, MSGPACK), pushed)
    record_id = pushed["results"][0]["record_id"]
    gets = {
        "/api/v1/forms": ("/api/v1/forms", "officer"),
        "/api/v1/forms/{form_id}/versions/{version}": (
            "/api/v1/forms/hoa_giai/versions/2",
            "officer",
        ),
        "/api/v1/sync/pull": ("/api/v1/sync/pull", "officer"),
        "/api/v1/records": ("/api/v1/records", "supervisor"),
        "/api/v1/records/{record_id}": (f"/api/v1/records/{record_id}", "supervisor"),
        "/api/v1/conflicts": ("/api/v1/conflicts", "supervisor"),
        "/api/v1/me": ("/api/v1/me", "officer"),
        "/api/v1/audit": ("/api/v1/audit", "admin"),
    }
    for path, (url, who) in gets.items():
        r = api.client.get(url, headers={**api.auth(who), **accept})
        assert r.status_code == 200, (url, r.text)
        assert r.headers["content-type"] == MSGPACK, url
        schema = _documented(doc, "get", path, 200, MSGPACK)
        _conforms(doc, schema, msgspec.msgpack.decode(r.content))
    r = api.client.post("/api/v1/forms", json=FORM_EXAMPLE, headers={**api.auth("admin"), **accept})
    assert r.status_code == 201, r.text
    schema = _documented(doc, "post", "/api/v1/forms", 201, MSGPACK)
    _conforms(doc, schema, msgspec.msgpack.decode(r.content))


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    raise sqlite3.OperationalError("database is locked")
    yield  # pragma: no cover


def test_the_503_of_a_busy_database_is_documented_on_every_write(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that waited its busy_timeout out for another writer is 503 `busy` with
    `Retry-After` (reproduced on a running server by holding `BEGIN IMMEDIATE` on its file
    for over 30 s while a phone pushed)."""
    doc = _document(api)
    record_id = _push(api, {}).json()["results"][0]["record_id"]
    head = api.client.get(f"/api/v1/records/{record_id}", headers=api.auth("supervisor"))
    monkeypatch.setattr(api.store, "write", _locked)
    api.client.event_hooks["response"] = []  # a 503 on purpose: not the suite's "no 5xx"
    resolve = {"heads": head.json()["heads"], "values": {"trang_thai": "hoa_giai_thanh"}}
    writes = [
        ("/api/v1/sync/push", _push(api, {})),
        (
            "/api/v1/forms",
            api.client.post("/api/v1/forms", json=FORM_EXAMPLE, headers=api.auth("admin")),
        ),
        (
            "/api/v1/records/{record_id}/resolve",
            api.client.post(
                f"/api/v1/records/{record_id}/resolve",
                json=resolve,
                headers=api.auth("supervisor"),
            ),
        ),
    ]
    for path, r in writes:
        body = assert_problem(r, 503)
        assert body["code"] == "busy", body
        _conforms(doc, _documented(doc, "post", path, 503, "application/problem+json"), body)
        headers = doc["paths"][path]["post"]["responses"]["503"].get("headers", {})
        assert "Retry-After" in headers, (path, "Retry-After is not documented")


def test_429_documents_its_retry_after(api: Any) -> None:
    doc = _document(api)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "429" in op["responses"]:
                assert "Retry-After" in op["responses"]["429"].get("headers", {}), (method, path)


def test_the_export_formats_are_the_documented_ones(api: Any) -> None:
    """`format` takes csv, xlsx or jsonl (PROTOCOL, Pull): anything else is 400
    `bad_format`, so the parameter's schema lists exactly those."""
    doc = _document(api)
    op = doc["paths"]["/api/v1/forms/{form_id}/export"]["get"]
    (param,) = [p for p in op["parameters"] if p["name"] == "format"]
    assert param["schema"].get("enum") == list(export.MEDIA_TYPES), param
    for fmt in param["schema"]["enum"]:
        r = api.client.get(
            f"/api/v1/forms/hoa_giai/export?format={fmt}", headers=api.auth("supervisor")
        )
        assert r.status_code == 200, (fmt, r.text)
    r = api.client.get("/api/v1/forms/hoa_giai/export?format=pdf", headers=api.auth("supervisor"))
    assert assert_problem(r, 400)["code"] == "bad_format"


def test_conditional_gets_document_if_none_match_and_etag(api: Any) -> None:
    """`GET /forms` and a version answer `If-None-Match` with 304 (PROTOCOL, Forms API): the
    document lists the request header and the `ETag` of the 200 and the 304."""
    doc = _document(api)
    urls = {
        "/api/v1/forms": "/api/v1/forms",
        "/api/v1/forms/{form_id}/versions/{version}": "/api/v1/forms/hoa_giai/versions/1",
    }
    for path, url in urls.items():
        op = doc["paths"][path]["get"]
        headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert headers == ["If-None-Match"], (path, headers)
        for status in ("200", "304"):
            assert "ETag" in op["responses"][status].get("headers", {}), (path, status)
        r = api.client.get(url, headers=api.auth("officer"))
        etag = r.headers["etag"]
        again = api.client.get(url, headers={**api.auth("officer"), "If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.headers["etag"] == etag
        assert not again.content


def test_every_documented_error_is_problem_json_with_a_detail(api: Any) -> None:
    """Every 4xx/5xx the document lists is application/problem+json whose schema requires
    type, title, status and detail (PROTOCOL: every error has them), never litestar's own
    error shape (`status_code`, `extra`)."""
    doc = _document(api)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    content = response.get("content", {})
                    assert list(content) == ["application/problem+json"], (method, path, status)
