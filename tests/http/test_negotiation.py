"""Content negotiation as RFC 9110 reads it: `q=0` means "not this", the preferred type wins,
and every JSON answer of the API comes as MessagePack to a client that asks for it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

MSGPACK = "application/msgpack"


def _is_msgpack(r: Any) -> bool:
    return bool(r.headers["content-type"].startswith(MSGPACK))


@pytest.mark.parametrize(
    "accept",
    [
        "application/msgpack;q=0",
        "application/msgpack; q=0.0",
        "application/json, application/msgpack;q=0",
        "application/json;q=0.9, application/msgpack;q=0.1",
        "application/msgpack;q=0.5, */*",
    ],
)
def test_msgpack_refused_or_less_preferred_gets_json(api: Any, accept: str) -> None:
    for path in ("/api/v1/records", "/api/v1/forms", "/api/v1/forms/hoa_giai/versions/2"):
        r = api.client.get(path, headers={**api.auth("supervisor"), "Accept": accept})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json"), (path, accept)
        r.json()


@pytest.mark.parametrize(
    "accept",
    [
        "application/msgpack",
        "application/msgpack, application/json;q=0.5",
        "application/json;q=0, application/msgpack",
        "application/json, application/msgpack",
        "*/*;q=0.1, application/msgpack",
    ],
)
def test_msgpack_asked_for_gets_msgpack(api: Any, accept: str) -> None:
    r = api.client.get("/api/v1/records", headers={**api.auth("supervisor"), "Accept": accept})
    assert r.status_code == 200 and _is_msgpack(r), accept
    assert msgspec.msgpack.decode(r.content)["records"] == []


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/x-msgpack", "application/x-msgpack"),
        ("application/vnd.msgpack", "application/vnd.msgpack"),
        ("application/json;q=0.5, application/x-msgpack", "application/x-msgpack"),
        ("application/x-msgpack;q=0.5, application/msgpack", MSGPACK),
    ],
)
def test_every_msgpack_spelling_taken_as_a_body_is_answered_so(
    api: Any, accept: str, media: str
) -> None:
    """The spellings a body may come in (Content-Type) are those Accept is read with: a client
    that sent `application/x-msgpack` and asked for it back got JSON. It gets the spelling it
    preferred."""
    for path in ("/api/v1/records", "/api/v1/forms", "/api/v1/forms/hoa_giai/versions/2"):
        r = api.client.get(path, headers={**api.auth("supervisor"), "Accept": accept})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(media), (path, accept)
        msgspec.msgpack.decode(r.content)


@pytest.mark.parametrize(
    "accept", ["application/x-msgpack;q=0", "application/json, application/vnd.msgpack;q=0.5"]
)
def test_other_msgpack_spellings_refused_or_less_preferred_get_json(api: Any, accept: str) -> None:
    r = api.client.get("/api/v1/me", headers={**api.auth("officer"), "Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")


def test_me_comes_as_msgpack_when_asked(api: Any) -> None:
    as_json = api.client.get("/api/v1/me", headers=api.auth("officer"))
    r = api.client.get("/api/v1/me", headers={**api.auth("officer"), "Accept": MSGPACK})
    assert r.status_code == 200 and _is_msgpack(r), r.headers
    assert msgspec.msgpack.decode(r.content) == as_json.json()
    assert "accept" in r.headers["vary"].lower()


def _big_get(api: Any, accept_encoding: str) -> Any:
    headers = {**api.auth("admin"), "Accept-Encoding": accept_encoding}
    return api.client.get("/api/v1/audit", headers=headers)  # over 1 KiB: compressible


@pytest.mark.parametrize(
    "accept_encoding", ["gzip;q=0", "gzip; q=0, br", "identity, gzip;q=0.000", "GZIP;Q=0"]
)
def test_gzip_refused_with_q0_is_not_sent(api: Any, accept_encoding: str) -> None:
    r = _big_get(api, accept_encoding)
    assert r.status_code == 200
    assert "content-encoding" not in r.headers, (accept_encoding, r.headers)
    assert r.json()["entries"]


@pytest.mark.parametrize(
    "accept_encoding", ["gzip", "br, gzip", "gzip;q=0.5", "deflate, gzip;q=1", "GZIP", "*"]
)
def test_gzip_accepted_is_sent(api: Any, accept_encoding: str) -> None:
    r = _big_get(api, accept_encoding)
    assert r.headers.get("content-encoding") == "gzip", accept_encoding
    assert msgspec.json.decode(r.content)["entries"]  # httpx inflated it


@pytest.mark.parametrize(
    "path", ["/api/v1/forms", "/api/v1/forms/hoa_giai/versions/2", "/app/app.js"]
)
def test_gzipped_and_plain_answers_carry_weak_etags(api: Any, path: str) -> None:
    """A strong ETag names one sequence of bytes (RFC 9110 8.8.1): the gzipped answer and the
    plain one are two, and a 304 cannot tell which it stands for. Both tags are weak, the same,
    and either gets 304 whatever the client accepts."""
    answers = {}
    for coding in ("gzip", "identity"):
        r = api.client.get(path, headers={**api.auth("admin"), "Accept-Encoding": coding})
        assert r.status_code == 200
        answers[coding] = r
    assert answers["gzip"].headers.get("content-encoding") == "gzip"  # the case that matters
    assert "content-encoding" not in answers["identity"].headers
    tags = {coding: r.headers["etag"] for coding, r in answers.items()}
    assert tags["gzip"] == tags["identity"] and tags["gzip"].startswith('W/"'), tags
    for coding in ("gzip", "identity"):
        headers = {**api.auth("admin"), "Accept-Encoding": coding, "If-None-Match": tags["gzip"]}
        again = api.client.get(path, headers=headers)
        assert again.status_code == 304
        assert again.headers["etag"] == tags["gzip"]


@pytest.mark.parametrize("path", ["/api/v1/forms", "/api/v1/forms/hoa_giai/versions/2"])
def test_every_form_of_an_answer_names_the_same_vary(api: Any, path: str) -> None:
    """RFC 9110 15.4.5: a 304 carries the Vary of the 200 it stands for. The gzipped 200 said
    "Accept,Accept-Encoding", the plain one and the 304 only "Accept": a cache could then give
    the plain body to a client that asked for gzip, or keep the wrong one."""
    seen = set()
    for accept_encoding in ("gzip", "identity", ""):
        headers = {**api.auth("admin"), "Accept-Encoding": accept_encoding}
        r = api.client.get(path, headers=headers)
        assert r.status_code == 200
        again = api.client.get(path, headers={**headers, "If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        for answer in (r, again):
            values = answer.headers.get_list("vary")
            assert len(values) == 1, values  # one header, nothing named twice
            names = [n.strip().lower() for n in values[0].split(",")]
            assert len(names) == len(set(names)), values
            seen.add(frozenset(names))
    assert seen == {frozenset({"accept", "accept-encoding"})}


@pytest.mark.parametrize(
    ("path", "one"),
    [
        ("/api/v1/forms/hoa_giai/versions/2/", "/api/v1/forms/hoa_giai/versions/2"),
        ("/api/v1/forms/", "/api/v1/forms"),
        ("/api/v1/records/", "/api/v1/records"),
        ("/api/v1/records/%2F", "/api/v1/records"),
        ("/api/v1/records//", "/api/v1/records"),
        ("/api/v1//records", "/api/v1/records"),
        ("/api/v1/audit/", "/api/v1/audit"),
        # outside the API too (found by a white-box probe: these were 200)
        ("/healthz/", "/healthz"),
        ("/healthz//", "/healthz"),
        ("/healthz%2F", "/healthz"),
        ("/schema//openapi.json", "/schema/openapi.json"),
        ("/schema/openapi.json/", "/schema/openapi.json"),
        ("/app/%2Findex.html", "/app/index.html"),
        ("/app//index.html", "/app/index.html"),
    ],
)
def test_an_api_resource_has_one_url(api: Any, path: str, one: str) -> None:
    """A form version is immutable and cached for a year: served at `versions/2/` as well,
    a client cached it twice; an encoded slash in an id read as a path (`records/%2F` was
    the list). Those are 404, and the one URL answers."""
    r = api.client.get(path, headers=api.auth("admin"))
    assert r.status_code == 404, (path, r.status_code)
    assert r.headers["content-type"] == "application/problem+json"
    assert "immutable" not in r.headers.get("cache-control", "")
    assert api.client.get(one, headers=api.auth("admin")).status_code == 200


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize(
    "path", ["/api/v1/records/x%2Fresolve", "/api/v1/records/x/resolve/", "/api/v1/forms%2F"]
)
@pytest.mark.parametrize("signed_in", [True, False])
def test_a_url_that_is_not_the_one_is_404_for_every_method(
    api: Any, method: str, path: str, signed_in: bool
) -> None:
    """`GET records/x%2Fresolve` was 405 with `Allow: OPTIONS, POST` (the decoded path is
    the resolve route), while the POST was 404: the URL is no resource's, whatever the
    method, and whoever asks."""
    headers = api.auth("supervisor") if signed_in else {}
    r = api.client.request(method, path, headers=headers)
    assert r.status_code == 404, (method, path, r.status_code)
    assert "allow" not in r.headers
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-content-type-options"] == "nosniff"  # the edge's headers, as ever
