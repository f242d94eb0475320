"""Who may call what: every route of the app, read from litestar's route table, against an
explicit table of the least role it needs and how it treats areas.

A route added without a line here fails `test_the_table_covers_every_route`. Each route is
then called by every role, from inside and from outside the area of a real record: one in
the officer's commune (Hà Nội) and one in another province (Hồ Chí Minh City).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import pytest

from server.auth import RANK
from tests.conftest import OFFICER_AREA, OTHER_PROVINCE, Api
from tests.support import hoa_giai, submission, uuid7

Role = Literal["public", "officer", "supervisor", "admin"]
# How a route treats areas:
#   none     the same for everyone with the role (forms, me, audit)
#   record   names one record: 403 when it is outside the caller's area
#   listing  lists records: 200, holding the caller's area only
#   items    push: 200, an item editing a record outside the area is rejected `forbidden`
Area = Literal["none", "record", "listing", "items"]


@dataclass(frozen=True)
class Target:
    """The record a request is about, and the area it lies in."""

    record_id: str
    area: str


Request = Callable[[Api, Target], tuple[str, dict[str, Any]]]  # -> (url, httpx kwargs)


@dataclass(frozen=True)
class Rule:
    least: Role
    area: Area
    request: Request


def heads(api: Api, record_id: str) -> list[str]:
    row = api.store.record(record_id)
    assert row is not None
    return list(msgspec.json.decode(row.doc)["heads"])


def edit(api: Api, t: Target) -> tuple[str, dict[str, Any]]:
    item = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 4},
        version=2,
        record_id=t.record_id,
        parents=heads(api, t.record_id),
    )
    return "/api/v1/sync/push", {"json": {"device_id": "matrix", "submissions": [item]}}


def resolve(api: Api, t: Target) -> tuple[str, dict[str, Any]]:
    body = {"heads": heads(api, t.record_id), "values": {"trang_thai": "dang_hoa_giai"}}
    return f"/api/v1/records/{t.record_id}/resolve", {"json": body}


def new_form(api: Api, t: Target) -> tuple[str, dict[str, Any]]:
    form = {
        "form_id": f"thu_{uuid7()[-8:]}",
        "title": {"vi": "Thử", "en": "Trial"},
        "fields": [{"name": "ghi_chu", "type": "text", "label": {"vi": "Ghi chú", "en": "Note"}}],
    }
    return "/api/v1/forms", {"json": form}


def get(url: str) -> Request:
    return lambda api, t: (url.format(record_id=t.record_id), {})


API = "/api/v1"
MISSING_DOCS_PAGE = "/schema/{path:str}"
ACCESS: dict[tuple[str, str], Rule] = {
    ("GET", f"{API}/forms"): Rule("officer", "none", get(f"{API}/forms")),
    ("POST", f"{API}/forms"): Rule("admin", "none", new_form),
    ("GET", f"{API}/forms/{{form_id:str}}/versions/{{version:str}}"): Rule(
        "officer", "none", get(f"{API}/forms/hoa_giai/versions/2")
    ),
    ("GET", f"{API}/forms/{{form_id:str}}/export"): Rule(
        "supervisor", "listing", get(f"{API}/forms/hoa_giai/export?format=jsonl")
    ),
    ("POST", f"{API}/sync/push"): Rule("officer", "items", edit),
    ("GET", f"{API}/sync/pull"): Rule("officer", "listing", get(f"{API}/sync/pull")),
    ("GET", f"{API}/records"): Rule("supervisor", "listing", get(f"{API}/records")),
    ("GET", f"{API}/records/{{record_id:str}}"): Rule(
        "supervisor", "record", get(f"{API}/records/{{record_id}}")
    ),
    ("POST", f"{API}/records/{{record_id:str}}/resolve"): Rule("supervisor", "record", resolve),
    ("GET", f"{API}/conflicts"): Rule("supervisor", "listing", get(f"{API}/conflicts")),
    ("GET", f"{API}/me"): Rule("officer", "none", get(f"{API}/me")),
    ("GET", f"{API}/audit"): Rule("admin", "none", get(f"{API}/audit")),
    ("GET", "/"): Rule("public", "none", get("/")),
    ("GET", "/healthz"): Rule("public", "none", get("/healthz")),
    ("GET", "/app"): Rule("public", "none", get("/app")),
    ("GET", "/app/{file_path:path}"): Rule("public", "none", get("/app/app.js")),
    ("HEAD", "/app/{file_path:path}"): Rule("public", "none", get("/app/index.html")),
    ("GET", "/schema"): Rule("public", "none", get("/schema")),
    ("GET", "/schema/openapi.json"): Rule("public", "none", get("/schema/openapi.json")),
    ("GET", "/schema/openapi.yaml"): Rule("public", "none", get("/schema/openapi.yaml")),
    ("GET", "/schema/openapi.yml"): Rule("public", "none", get("/schema/openapi.yml")),
    ("GET", "/schema/swagger"): Rule("public", "none", get("/schema/swagger")),
    ("GET", "/schema/redoc"): Rule("public", "none", get("/schema/redoc")),
    ("GET", "/schema/rapidoc"): Rule("public", "none", get("/schema/rapidoc")),
    ("GET", "/schema/elements"): Rule("public", "none", get("/schema/elements")),
    ("GET", "/schema/oauth2-redirect.html"): Rule(
        "public", "none", get("/schema/oauth2-redirect.html")
    ),
    # the OpenAPI router's answer for a page it does not have: 404
    ("GET", MISSING_DOCS_PAGE): Rule("public", "none", get("/schema/nothing-here")),
}

# Every caller, with the area it works in ("" is everywhere).
CALLERS = {
    "officer": ("officer", OFFICER_AREA),
    "other_officer": ("officer", "01.00004"),
    "supervisor": ("supervisor", "01"),
    "other_supervisor": ("supervisor", "79"),
    "admin": ("admin", ""),
}


def routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers; OPTIONS is litestar's, on every path."""
    return {
        (method, path)
        for path, handlers in app.route_handler_method_map.items()
        for method in handlers
        if method != "OPTIONS"
    }


def test_the_table_covers_every_route(api: Api) -> None:
    assert routes(api.client.app) == set(ACCESS)


@pytest.fixture
def records(api: Api) -> dict[str, Target]:
    """A record in the officer's commune and one in another province, each with an open
    conflict (two offline edits of one field), so every listing has both to show or hide."""
    api.tokens["hcm_officer"] = api.user("hcm_officer", "officer", OTHER_PROVINCE)
    rng = random.Random(7)
    out = {}
    for where, who in (("own", "officer"), ("other", "hcm_officer")):
        first = submission("hoa_giai", hoa_giai(rng), version=2, rng=rng)
        edits = [
            submission(
                "hoa_giai", {"trang_thai": value}, version=2, record_id=first["id"],
                parents=[first["id"]], rng=rng,
            )
            for value in ("dang_hoa_giai", "hoa_giai_thanh")
        ]  # fmt: skip
        results = api.push(who, [first, *edits])
        assert results[-1]["status"] == "conflict", results
        area = OFFICER_AREA if who == "officer" else OTHER_PROVINCE
        out[where] = Target(first["id"], area)
    return out


def inside(caller_area: str, area: str) -> bool:
    return caller_area == "" or area == caller_area or area.startswith(caller_area + ".")


def call(api: Api, method: str, url: str, kwargs: dict[str, Any], token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.client.request(method, url, headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_every_role_in_and_out_of_area(
    api: Api, records: dict[str, Target], method: str, path: str
) -> None:
    rule = ACCESS[(method, path)]
    for caller, (role, caller_area) in CALLERS.items():
        for target in records.values():
            url, kwargs = rule.request(api, target)
            r = call(api, method, url, kwargs, api.tokens[caller])
            seen = f"{caller} {method} {url} -> {r.status_code} {r.text[:300]}"
            if rule.least != "public" and RANK[role] < RANK[rule.least]:
                assert r.status_code == 403, seen
                assert r.headers["content-type"] == "application/problem+json", seen
                continue
            mine = inside(caller_area, target.area)
            if rule.area == "record" and not mine:
                assert r.status_code == 403, seen
                continue
            if path == MISSING_DOCS_PAGE:
                assert r.status_code == 404, seen
                continue
            assert 200 <= r.status_code < 300, seen
            if rule.area == "listing":
                # every record the caller may see is listed; the other one never is
                for other in records.values():
                    listed = other.record_id in r.text
                    assert listed == inside(caller_area, other.area), (other, seen)
            if rule.area == "items":
                (result,) = r.json()["results"]
                if mine:
                    assert result["status"] in ("accepted", "conflict"), seen
                else:
                    assert result["status"] == "rejected", seen
                    assert result["reason"] == "forbidden", seen


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_no_token_or_a_bad_one_is_401_except_public_routes(
    api: Api, records: dict[str, Target], method: str, path: str
) -> None:
    rule = ACCESS[(method, path)]
    url, kwargs = rule.request(api, records["own"])
    for token in (None, "not-a-token", api.tokens["officer"] + "x"):
        r = call(api, method, url, kwargs, token)
        seen = f"{token} {method} {url} -> {r.status_code} {r.text[:300]}"
        if rule.least == "public":
            expected = 404 if path == MISSING_DOCS_PAGE else 200
            assert r.status_code == expected, seen
        else:
            assert r.status_code == 401, seen
            # RFC 6750 3.1: a token sent and refused is invalid_token; none sent, no error
            challenge = "Bearer" if token is None else 'Bearer error="invalid_token"'
            assert r.headers["www-authenticate"] == challenge, seen
            assert r.json()["status"] == 401, seen


def test_options_answers_only_the_allowed_methods(api: Api) -> None:
    """OPTIONS needs no token (litestar answers it for every path), and tells nothing but the
    methods, all of them (HEAD wherever GET is), as a 405 does: no body, no data."""
    for path, handlers in api.client.app.route_handler_method_map.items():
        url = path.replace("{form_id:str}", "hoa_giai").replace("{version:str}", "1")
        url = url.replace("{record_id:str}", uuid7()).replace("{file_path:path}", "app.js")
        url = url.replace("{path:str}", "x")
        r = api.client.options(url)
        assert r.status_code == 204, (url, r.text)
        assert r.content == b""
        expected = {*handlers, "OPTIONS"} | ({"HEAD"} if "GET" in handlers else set())
        assert set(r.headers["allow"].replace(" ", "").split(",")) == expected, url
