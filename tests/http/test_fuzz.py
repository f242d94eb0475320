"""Schemathesis against the app's own OpenAPI document, as each role.

Every operation gets generated requests (the documented examples, schema-driven fuzzing and
schemathesis' coverage cases, valid and invalid). Checks: no 5xx, the response conforms to
the documented schema, and every error is `application/problem+json` with its status in
the body. The run is bounded: a few examples per operation here, more in CI
(`HYPOTHESIS_PROFILE=ci`).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server import sync
from server.api.docs import FORM_EXAMPLE, PUSH_EXAMPLE, RESOLVE_EXAMPLE
from server.app import ROOT, Settings, create_app
from server.auth import add_user
from server.catalog import Catalog, publish_files, schema_files
from server.store import Store
from server.web import FailedAuthLimiter
from tests.support import hoa_giai, submission

ROLES = ("officer", "supervisor", "admin")
EXAMPLES = 60 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 15


@schemathesis.check
def errors_are_problem_json(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """RFC 9457: an error names its status, type and title, as application/problem+json."""
    if response.status_code < 400:
        return
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == "application/problem+json", f"{response.status_code} sent as {media!r}"
    body = json.loads(response.content)
    assert body["status"] == response.status_code, body
    assert body["type"].startswith("urn:coso:problem:"), body
    assert body["title"], body


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_problem_json,
]


@schemathesis.serializer("application/msgpack")
def to_msgpack(ctx: Any, value: Any) -> bytes:
    try:
        return msgspec.msgpack.encode(value)
    except OverflowError:  # an integer MessagePack cannot carry: send bytes that are not msgpack
        return msgspec.json.encode(value)


# The document the app serves at /schema/openapi.json, read when the module is collected:
# schemathesis makes one test item per operation from it. Requests go to the app in-process;
# schemathesis starts the app's lifespan (which opens SETTINGS.db) for each test item and
# ends it after, so the database is a file that the `tokens` fixture fills first.
SETTINGS = Settings(db=":memory:")
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_dict(APP.openapi_schema.to_schema())
schema.app = APP


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The real forms, a user per role, and records (one with an open conflict) to pull."""
    SETTINGS.db = str(tmp_path_factory.mktemp("fuzz") / "coso.db")
    store = Store(SETTINGS.db)
    catalog = Catalog(store)
    publish_files(catalog, schema_files(ROOT / "schemas"))
    tokens: dict[str, str] = {}
    users = {}
    for role, area in (("officer", "01.00070"), ("supervisor", "01"), ("admin", "")):
        users[role], tokens[role] = add_user(store, f"fuzz-{role}", role, area)
    rng = random.Random(6)
    items = [submission("hoa_giai", hoa_giai(rng), version=2, rng=rng) for _ in range(5)]
    first = items[0]
    for value in ("dang_hoa_giai", "hoa_giai_thanh"):  # two edits of one field, offline
        items.append(
            submission(
                "hoa_giai",
                {"trang_thai": value},
                version=2,
                record_id=first["id"],
                parents=[first["id"]],
                rng=rng,
            )
        )
    raws = [msgspec.Raw(msgspec.json.encode(i)) for i in items]
    results = sync.push(store, catalog, users["officer"], "fuzz-phone", raws)
    assert {r.status for r in results} <= {"accepted", "conflict"}, results
    store.close()
    # Schemathesis sends bad tokens on purpose (the API documents bearer auth); the limit on
    # failed sign-ins (tested in test_hardening) would answer 429 to the rest of the run.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("server.app.FailedAuthLimiter", lambda: FailedAuthLimiter(limit=10**9))
        yield tokens


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case, role: str, tokens: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)


def test_the_fuzzed_document_is_the_one_served(api: Any) -> None:
    r = api.client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(json.dumps(APP.openapi_schema.to_schema()))


def test_every_api_route_is_fuzzed() -> None:
    """No route under /api (nor /healthz) is left out of the document, and so of the run."""
    documented = {
        (method.upper(), path)
        for path, item in APP.openapi_schema.to_schema()["paths"].items()
        for method in item
    }
    served = {
        (method, route.path_format)
        for route in APP.routes
        for method in getattr(route, "methods", ())
        if method != "OPTIONS"
        and not route.path.startswith(("/app", "/schema"))
        and route.path != "/"  # only a redirect to /app/, kept out of the API document
    }
    assert documented == served


def test_the_documented_examples_work(api: Any) -> None:
    """The examples in the document (sent by the fuzzer's examples phase, and by "Try it
    out" in /schema) are real requests that succeed, in this order."""
    r = api.client.post("/api/v1/sync/push", json=PUSH_EXAMPLE, headers=api.auth("officer"))
    assert r.json()["results"][0]["status"] == "accepted", r.text
    r = api.client.post("/api/v1/forms", json=FORM_EXAMPLE, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    record = RESOLVE_EXAMPLE["heads"][0]
    url = f"/api/v1/records/{record}/resolve"
    r = api.client.post(url, json=RESOLVE_EXAMPLE, headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
