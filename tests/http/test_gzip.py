"""Gzip request bodies: streamed, member after member, corrupt or trailing bytes refused."""

import gzip
import random

import msgspec
import pytest

from tests.conftest import Api
from tests.support import assert_problem, hoa_giai, submission

HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def _body(n: int) -> bytes:
    rng = random.Random(n)
    items = [submission("hoa_giai", hoa_giai(rng), version=2) for _ in range(n)]
    return msgspec.json.encode({"device_id": "phone-gz", "submissions": items})


def test_a_body_of_two_gzip_members_is_one_body(api: Api) -> None:
    body = _body(3)
    half = len(body) // 2
    two = gzip.compress(body[:half]) + gzip.compress(body[half:])
    r = api.client.post(
        "/api/v1/sync/push", content=two, headers={**HEADERS, **api.auth("officer")}
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 3


def test_bytes_after_the_gzip_stream_are_refused_and_nothing_is_stored(api: Api) -> None:
    body = gzip.compress(_body(2)) + b"not gzip at all"
    r = api.client.post(
        "/api/v1/sync/push", content=body, headers={**HEADERS, **api.auth("officer")}
    )
    assert assert_problem(r, 400)["code"] == "bad_gzip"
    page = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    assert page["records"] == []


def test_a_truncated_gzip_body_is_refused(api: Api) -> None:
    body = gzip.compress(_body(2))[:-20]
    r = api.client.post(
        "/api/v1/sync/push", content=body, headers={**HEADERS, **api.auth("officer")}
    )
    assert assert_problem(r, 400)["code"] == "bad_gzip"


def test_a_gzip_body_cut_inside_its_header_or_empty_is_refused(api: Api) -> None:
    for body in (gzip.compress(_body(1))[:5], b""):
        r = api.client.post(
            "/api/v1/sync/push", content=body, headers={**HEADERS, **api.auth("officer")}
        )
        assert assert_problem(r, 400)["code"] == "bad_gzip", body


def test_x_gzip_is_gzip(api: Api) -> None:
    """RFC 9110 8.4.1.3: a recipient SHOULD take `x-gzip` as `gzip` (older HTTP stacks send it)."""
    for coding in ("x-gzip", "X-GZIP"):
        body = _body(2)
        r = api.client.post(
            "/api/v1/sync/push",
            content=gzip.compress(body),
            headers={**HEADERS, "Content-Encoding": coding, **api.auth("officer")},
        )
        assert r.status_code == 200, (coding, r.text)
        assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 2


@pytest.mark.parametrize("coding", ["br", "deflate", "zstd"])
def test_a_coding_other_than_gzip_is_415_saying_which_to_use(api: Api, coding: str) -> None:
    """RFC 9110 15.5.16: a 415 for a content coding names those accepted (Accept-Encoding)."""
    r = api.client.post(
        "/api/v1/sync/push",
        content=_body(1),
        headers={**HEADERS, "Content-Encoding": coding, **api.auth("officer")},
    )
    assert assert_problem(r, 415)["code"] == "unsupported_encoding"
    assert r.headers["accept-encoding"] == "gzip"
    r = api.client.post(
        "/api/v1/sync/push",
        content=b"x",
        headers={**api.auth("officer"), "Content-Type": "text/csv"},
    )
    assert assert_problem(r, 415)["code"] == "unsupported_media_type"
    assert "accept-encoding" not in r.headers
