"""One error shape for every error: each failure the API can answer with, pinned as RFC 9457
problem+json with `type`, `title`, `status` (= the HTTP status), `detail`, and `errors` with
a path where the problem is in the request."""

from __future__ import annotations

import base64
import gzip
import json
import random
import tracemalloc
from typing import Any

import msgspec
import pytest

from server import cursor
from tests.support import assert_problem, hoa_giai, latest_version, submission, uuid7

PUSH = "/api/v1/sync/push"
MiB = 1024 * 1024


def envelope(n: int = 0) -> dict[str, Any]:
    rng = random.Random(n)
    return {
        "device_id": "phone-1",
        "submissions": [submission("hoa_giai", hoa_giai(rng), version=2) for _ in range(n)],
    }


def post_raw(api: Any, body: bytes, who: str = "officer", **headers: str) -> Any:
    headers = {"content-type": "application/json", **headers}
    return api.client.post(PUSH, content=body, headers={**api.auth(who), **headers})


def codes(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["path"], e["code"]) for e in body["errors"]}


# --- 400 -------------------------------------------------------------------------------


def test_400_malformed_json_body(api: Any) -> None:
    body = assert_problem(post_raw(api, b'{"device_id": "phone-1", "submissions": ['), 400)
    assert body["type"].endswith("malformed_body")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("limit=0", "min"),
        ("limit=abc", "type"),
        ("limit=1001", "max"),
        ("limit=1.5", "type"),
        # one spelling of a number: these were read as 1000, 100 and 1, and `+5` refused
        ("limit=1e3", "type"),
        ("limit=1E2", "type"),
        ("limit=1.0", "type"),
        ("limit=%2B5", "type"),
        ("limit=%205", "type"),
        ("limit=", "type"),
        ("limit=%D9%A3", "type"),  # an Arabic-Indic 3
        ("limit=0100", "type"),  # in litestar's words, not ours
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/records", "/api/v1/conflicts", "/api/v1/sync/pull", "/api/v1/audit"]
)
def test_400_bad_query_parameter_names_it(api: Any, path: str, query: str, code: str) -> None:
    """With the code README's table gives a value out of its bounds or of the wrong type (it
    was `invalid`, whatever the fault)."""
    r = api.client.get(f"{path}?{query}", headers=api.auth("admin"))
    body = assert_problem(r, 400)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("limit", code)]


@pytest.mark.parametrize("since", ["garbage", "YzE6eDp5", "%%%", "A" * 5000])
@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/sync/pull", "/api/v1/audit"])
def test_400_garbage_cursor(api: Any, path: str, since: str) -> None:
    r = api.client.get(path, params={"since": since}, headers=api.auth("admin"))
    assert assert_problem(r, 400)["type"].endswith("bad_cursor")


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/audit"])
def test_400_cursor_past_any_sequence(api: Any, path: str) -> None:
    db_id = api.client.get("/healthz").json()["database"]
    since = cursor.make(db_id, 10**30)
    r = api.client.get(path, params={"since": since}, headers=api.auth("admin"))
    assert_problem(r, 400)


def test_400_deeply_nested_json(api: Any) -> None:
    """Nesting past any decoder in the envelope itself is a 400 (in an item, only that item is
    refused: tests/http/test_push.py)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"device_id": "phone-1", "drafts": ' + deep + b', "submissions": []}'
    assert_problem(post_raw(api, body), 400)


def test_400_corrupt_gzip(api: Any) -> None:
    r = post_raw(api, b"this is not gzip", **{"content-encoding": "gzip"})
    assert assert_problem(r, 400)["type"].endswith("bad_gzip")


def test_400_truncated_gzip(api: Any) -> None:
    whole = gzip.compress(json.dumps(envelope(3)).encode())
    assert_problem(post_raw(api, whole[: len(whole) // 2], **{"content-encoding": "gzip"}), 400)


def test_400_malformed_msgpack(api: Any) -> None:
    assert_problem(post_raw(api, b"\xc1\xc1", **{"content-type": "application/msgpack"}), 400)


# --- 401 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic b2ZmaWNlcjpzZWNyZXQ="},
        {"Authorization": "bearer"},
    ],
    ids=["no token", "bad token", "empty token", "basic scheme", "scheme only"],
)
def test_401(api: Any, headers: dict[str, str]) -> None:
    r = api.client.get("/api/v1/forms", headers=headers)
    assert_problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_401_comes_before_the_body_is_read(api: Any) -> None:
    assert_problem(api.client.post(PUSH, content=b"{oops"), 401)


# --- 403 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "method", "path"),
    [
        ("officer", "GET", "/api/v1/records"),
        ("officer", "GET", "/api/v1/conflicts"),
        ("officer", "GET", "/api/v1/audit"),
        ("supervisor", "GET", "/api/v1/audit"),
        ("supervisor", "POST", "/api/v1/forms"),
        ("officer", "POST", "/api/v1/forms"),
    ],
)
def test_403_wrong_role(api: Any, who: str, method: str, path: str) -> None:
    r = api.client.request(method, path, json={}, headers=api.auth(who))
    assert assert_problem(r, 403)["type"].endswith("forbidden")


def test_403_record_of_another_area(api: Any) -> None:
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(1)), version=2)])
    r = api.client.get(f"/api/v1/records/{item['record_id']}", headers=api.auth("other_supervisor"))
    assert_problem(r, 403)


# --- 404 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing",
        "/nothing",
        "/api/v2/forms",
        f"/api/v1/forms/hoa_giai/versions/{latest_version('hoa_giai') + 1}",
        "/api/v1/forms/hoa_giai/versions/0",
        "/api/v1/forms/hoa_giai/versions/v1",
        "/api/v1/forms/khong_co/versions/1",
        "/api/v1/records/01a21f2e-fa7f-77d2-b0aa-deeb92b4521c",  # no such record
        "/api/v1/records/not-a-uuid",
    ],
)
def test_404(api: Any, path: str) -> None:
    assert_problem(api.client.get(path, headers=api.auth("admin")), 404)


def test_404_resolve_unknown_record(api: Any) -> None:
    r = api.client.post(
        f"/api/v1/records/{uuid7()}/resolve",
        json={"heads": [uuid7()], "values": {"trang_thai": "hoa_giai_thanh"}},
        headers=api.auth("supervisor"),
    )
    assert_problem(r, 404)


# --- 405 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/forms", {"GET", "POST"}),
        ("PUT", PUSH, {"POST"}),
        ("GET", PUSH, {"POST"}),
        ("POST", "/api/v1/records", {"GET"}),
    ],
)
def test_405_says_what_is_allowed(api: Any, method: str, path: str, allowed: set[str]) -> None:
    r = api.client.request(method, path, headers=api.auth("admin"))
    assert_problem(r, 405)
    assert allowed <= {m.strip() for m in r.headers["allow"].split(",")}  # RFC 9110 15.5.6


# --- 409 -------------------------------------------------------------------------------


def test_409_stale_resolve_heads(api: Any) -> None:
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(2)), version=2)])
    r = api.client.post(
        f"/api/v1/records/{item['record_id']}/resolve",
        json={"heads": [uuid7()], "values": {"trang_thai": "hoa_giai_thanh"}},
        headers=api.auth("supervisor"),
    )
    assert assert_problem(r, 409)["type"].endswith("stale_heads")


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/sync/pull", "/api/v1/audit"])
def test_409_cursor_of_another_database(api: Any, path: str) -> None:
    kind = cursor.AUDIT if path.endswith("audit") else cursor.CHANGES
    since = cursor.make("other-db-id", 5, kind)
    r = api.client.get(path, params={"since": since}, headers=api.auth("admin"))
    assert assert_problem(r, 409)["type"].endswith("reset_required")


def test_400_a_cursor_of_the_other_list(api: Any) -> None:
    """The audit log's numbers and the records' count different things: a cursor of one
    given to the other skipped or replayed entries with a 200 (found by a probe)."""
    api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(3)), version=2)])
    admin = api.auth("admin")
    audit_next = api.client.get("/api/v1/audit", params={"limit": 1}, headers=admin).json()["next"]
    records_next = api.client.get("/api/v1/records", headers=admin).json()["next"]
    for path, since in (
        ("/api/v1/records", audit_next),
        ("/api/v1/conflicts", audit_next),
        ("/api/v1/sync/pull", audit_next),
    ):
        r = api.client.get(path, params={"since": since}, headers=admin)
        problem = assert_problem(r, 400)
        assert problem["code"] == "bad_cursor"
        assert [e["path"] for e in problem["errors"]] == ["since"]
    # the audit log's own cursors were tagged as the records' before the kinds: one kept by
    # a client from an older coso starts the log over (409), it is not refused as garbage
    r = api.client.get("/api/v1/audit", params={"since": records_next}, headers=admin)
    assert assert_problem(r, 409)["code"] == "reset_required"
    # each list's own cursor goes on
    assert api.client.get("/api/v1/audit", params={"since": audit_next}, headers=admin).is_success
    r = api.client.get("/api/v1/records", params={"since": records_next}, headers=admin)
    assert r.is_success


@pytest.mark.parametrize("seq", ["+1", " 1", "1_0", "\u0661"])  # the last: Arabic-Indic 1
def test_400_a_cursor_spelt_otherwise_than_made(api: Any, seq: str) -> None:
    since = base64.urlsafe_b64encode(f"c1:{api.store.db_id}:{seq}".encode()).decode()
    r = api.client.get("/api/v1/records", params={"since": since}, headers=api.auth("admin"))
    assert assert_problem(r, 400)["code"] == "bad_cursor"


# --- 413 -------------------------------------------------------------------------------


def test_413_more_than_1000_items(api: Any) -> None:
    body = {"device_id": "phone-1", "submissions": [{}] * 1001}
    r = api.client.post(PUSH, json=body, headers=api.auth("officer"))
    assert_problem(r, 413)


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_413_many_tiny_items_before_they_are_read(api: Any, codec: str) -> None:
    """Ten kB of gzip inflating to 10 MiB of `[0,0,0,…]`: read as a list before it was
    counted, it made millions of objects (about 370 MB in JSON, 750 MB in MessagePack, for
    each such request at once; found by a white-box probe). Refused before."""
    n = 5 * MiB - 40 if codec == "json" else 10 * MiB - 100
    if codec == "json":
        raw = b'{"device_id": "may", "submissions": [' + b"0," * (n - 1) + b"0]}"
    else:
        raw = msgspec.msgpack.encode({"device_id": "may", "submissions": [None] * n})
    bomb = gzip.compress(raw, compresslevel=9)
    assert len(bomb) < 32 * 1024 and len(raw) <= 10 * MiB
    headers = {"content-encoding": "gzip", "content-type": f"application/{codec}"}
    tracemalloc.start()
    try:
        r = post_raw(api, bomb, **headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert assert_problem(r, 413)["code"] == "too_many_items"
    assert peak < 60 * MiB, peak  # the body, inflated, and a copy or two: no object an item


def test_413_body_over_10_mib(api: Any) -> None:
    assert_problem(post_raw(api, b" " * (10 * MiB + 1)), 413)


def test_413_gzip_bomb(api: Any) -> None:
    bomb = gzip.compress(b"[" + b" " * (12 * MiB) + b"]", compresslevel=9)
    assert len(bomb) < 16 * 1024
    assert_problem(post_raw(api, bomb, **{"content-encoding": "gzip"}), 413)


# --- 415 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-encoding": "br"},
        {"content-encoding": "deflate"},
    ],
)
def test_415(api: Any, headers: dict[str, str]) -> None:
    body = assert_problem(post_raw(api, json.dumps(envelope(1)).encode(), **headers), 415)
    # the header at fault by its name, as two Content-Type headers are
    [name] = headers
    assert codes(body) == {(name.title(), "choice")}


# --- a path to what was wrong, whatever the status ----------------------------------------


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/v1/records?form_id=khong_co", ("form_id", "unknown_form")),
        ("/api/v1/conflicts?form_id=khong_co", ("form_id", "unknown_form")),
        ("/api/v1/forms/khong_co/export", ("form_id", "unknown_form")),
        ("/api/v1/forms/khong_co/versions/1", ("form_id", "unknown_form")),
        ("/api/v1/forms/hoa_giai/versions/99", ("version", "unknown_version")),
    ],
)
def test_an_unknown_form_or_version_is_named_at_its_parameter(
    api: Any, path: str, error: tuple[str, str]
) -> None:
    r = api.client.get(path, headers=api.auth("supervisor"))
    assert codes(assert_problem(r, 404)) == {error}


def test_an_area_outside_the_callers_is_named_at_area(api: Any) -> None:
    """A script could not tell a wrong `area` from a role that may not export."""
    r = api.client.get("/api/v1/forms/hoa_giai/export?area=79", headers=api.auth("supervisor"))
    body = assert_problem(r, 403)
    assert codes(body) == {("area", "forbidden")}
    assert "79" in body["detail"] and "(01)" in body["detail"]


def test_stale_heads_are_named_at_heads_with_the_records_heads_now(api: Any) -> None:
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(3)), version=2)])
    r = api.client.post(
        f"/api/v1/records/{item['record_id']}/resolve",
        json={"heads": [uuid7()], "values": {"trang_thai": "hoa_giai_thanh"}},
        headers=api.auth("supervisor"),
    )
    body = assert_problem(r, 409)
    assert codes(body) == {("heads", "stale_heads")}
    # the heads as they are written, not as Python writes a list
    assert body["detail"].endswith(f"the record's heads are now {item['record_id']}")


# --- 422 -------------------------------------------------------------------------------


def test_422_invalid_definition_lists_every_error(api: Any) -> None:
    label = {"vi": "Nhãn", "en": "Label"}
    definition = {
        "form_id": "Bad-Id",
        "title": {"vi": "Thử", "en": "Test"},
        "fields": [
            {"name": "ten", "type": "text", "label": label},
            {"name": "ten", "type": "text", "label": label},
            {"name": "loai", "type": "select_one", "label": label},
            {"name": "so", "type": "integer", "label": label, "min": 5, "max": 1},
            {"name": "mau", "type": "colour", "label": label},
        ],
    }
    r = api.client.post("/api/v1/forms", json=definition, headers=api.auth("admin"))
    body = assert_problem(r, 422)
    assert {path for path, _ in codes(body)} >= {
        "form_id",
        "fields[1].name",
        "fields[2].choices",
        "fields[3].max",
        "fields[4].type",
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"device_id": 5, "submissions": []}, ("device_id", "type")),
        ({"device_id": "", "submissions": []}, ("device_id", "required")),
        ({"device_id": "p" * 201, "submissions": []}, ("device_id", "max_length")),
        ({"device_id": "p", "submissions": "x"}, ("submissions", "type")),
        ({"submissions": []}, ("device_id", "required")),
        ([], ("", "type")),
        # every error, not only the first
        (
            {"device_id": 5, "submissions": 3, "extra": 1},
            {("device_id", "type"), ("submissions", "type"), ("extra", "unknown_field")},
        ),
    ],
)
def test_422_push_envelope_of_the_wrong_shape(api: Any, body: Any, error: Any) -> None:
    """Each error with README's code for it (a wrong JSON type is `type`, a bound its own), as
    an item's are: they were all `invalid`."""
    r = api.client.post(PUSH, json=body, headers=api.auth("officer"))
    assert codes(assert_problem(r, 422)) == (error if isinstance(error, set) else {error})


@pytest.mark.parametrize("msgpack", [False, True])
def test_a_push_item_of_the_wrong_shape_gets_every_error(api: Any, msgpack: bool) -> None:
    """msgspec stops at the first wrong key: another client's developer fixed one mistake a
    round trip. Every key that does not fit is named, the rest of the batch unharmed."""
    sid = uuid7()
    bad = {"id": sid, "form_version": "x", "data": 5, "bogus": 1}
    good = submission("hoa_giai", hoa_giai(random.Random(4)), version=2)
    body = {"device_id": "phone-1", "submissions": [bad, good]}
    headers = api.auth("officer")
    if msgpack:
        headers = {**headers, "Content-Type": "application/msgpack"}
        r = api.client.post(PUSH, content=msgspec.msgpack.encode(body), headers=headers)
    else:
        r = api.client.post(PUSH, json=body, headers=headers)
    assert r.status_code == 200, r.text
    refused, taken = r.json()["results"]
    assert (refused["id"], refused["reason"], taken["status"]) == (sid, "invalid", "accepted")
    assert {(e["path"], e["code"]) for e in refused["errors"]} == {
        ("submissions[0].form_id", "required"),
        ("submissions[0].form_version", "type"),
        ("submissions[0].captured_at", "required"),
        ("submissions[0].data", "type"),
        ("submissions[0].bogus", "unknown_field"),
    }
    assert all(" / " in e["message"] for e in refused["errors"])


def test_shape_errors_past_fifty_are_counted(api: Any) -> None:
    """As every answer's: 50 listed, then how many more (made only as far as listed)."""
    item = {**submission("hoa_giai", hoa_giai(random.Random(7)), version=2), "form_version": "x"}
    item.update({f"k{n}": 0 for n in range(300)})
    [result] = api.push("officer", [item])
    errors = result["errors"]
    assert len(errors) == 51
    assert (errors[0]["path"], errors[0]["code"]) == ("submissions[0].form_version", "type")
    assert {e["code"] for e in errors[1:50]} == {"unknown_field"}
    assert (errors[50]["path"], errors[50]["code"]) == ("submissions[0].k49", "too_many_errors")
    assert errors[50]["message"].startswith("Còn 251 lỗi khác, từ đây / 251 more errors")


def test_a_body_too_large_to_read_twice_names_its_first_shape_error_only(api: Any) -> None:
    """Read again whole for every error, 700,000 unknown keys in an 8 MB push cost 2 s of CPU
    and 250 MB each: past SHAPE_BYTES, the first error msgspec stopped at is the answer."""
    body: dict[str, Any] = {"device_id": 5, "submissions": []}
    body.update({f"k{n}": 0 for n in range(40_000)})  # ~400 KB
    r = api.client.post(PUSH, json=body, headers=api.auth("officer"))
    assert codes(assert_problem(r, 422)) == {("device_id", "type")}


def test_a_msgpack_key_that_is_not_text_is_the_error_named(api: Any) -> None:
    """A key of another type has no path of its own: the other errors listed beside it left
    it out. It is named at the object that holds it, as msgspec names it, beside the rest."""
    item = {**submission("hoa_giai", hoa_giai(random.Random(6)), version=2), 1: "x"}
    item["form_version"] = "2"
    body = msgspec.msgpack.encode({"device_id": "phone-1", "submissions": [item]})
    headers = {**api.auth("officer"), "Content-Type": "application/msgpack"}
    r = api.client.post(PUSH, content=body, headers=headers)
    [result] = r.json()["results"]
    assert {(e["path"], e["code"]) for e in result["errors"]} == {
        ("submissions[0]", "type"),
        ("submissions[0].form_version", "type"),
    }
    [key] = [e for e in result["errors"] if e["path"] == "submissions[0]"]
    assert "a key: Expected `str`, got `int`" in key["message"]


def test_422_resolve_body_of_the_wrong_shape(api: Any) -> None:
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(3)), version=2)])
    heads = [item["id"]]
    for body, errors in (
        # every error, not only the first msgspec stops at
        ({"heads": "x", "values": []}, {("heads", "type"), ("values", "type")}),
        (
            {"heads": "x", "values": 5, "note": 7, "bogus": 1},
            {("heads", "type"), ("values", "type"), ("note", "type"), ("bogus", "unknown_field")},
        ),
        ({"heads": [], "values": {"ket_qua": "x"}}, {("heads", "min_items")}),
        ({"heads": heads, "values": {"ket_qua": "x"}, "note": 5}, {("note", "type")}),
        (
            {"heads": heads, "values": {"ket_qua": "x"}, "note": "x" * 4001},
            {("note", "max_length")},
        ),
        ({"heads": heads}, {("values", "required")}),
        ({}, {("heads", "required"), ("values", "required")}),
    ):
        r = api.client.post(
            f"/api/v1/records/{item['record_id']}/resolve",
            json=body,
            headers=api.auth("supervisor"),
        )
        assert codes(assert_problem(r, 422)) == errors, body


def test_422_a_resolve_value_no_decoder_holds_names_its_field(api: Any) -> None:
    """`1e400`, a 5,000-digit integer, a key that is not text: the error's path names the
    field in `values` (it was `values[...]`, or empty), as a push names it in `data`."""
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(4)), version=2)])
    url = f"/api/v1/records/{item['record_id']}/resolve"
    sup = api.auth("supervisor")
    heads = f'["{item["id"]}"]'.encode()
    for number in (b"1e400", b"9" * 5000):
        body = b'{"heads": ' + heads + b', "values": {"ket_qua": "x", "so_buoi_hoa_giai": '
        json_body = {**sup, "Content-Type": "application/json"}
        r = api.client.post(url, content=body + number + b"}}", headers=json_body)
        errors = assert_problem(r, 422)["errors"]
        assert [e["path"] for e in errors] == ["values.so_buoi_hoa_giai"], errors
    body = msgspec.msgpack.encode({"heads": [item["id"]], "values": {1: "x"}})
    r = api.client.post(url, content=body, headers={**sup, "Content-Type": "application/msgpack"})
    errors = assert_problem(r, 422)["errors"]
    assert [e["path"] for e in errors] == ["values"], errors


def test_422_a_resolve_note_with_nul(api: Any) -> None:
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(5)), version=2)])
    r = api.client.post(
        f"/api/v1/records/{item['record_id']}/resolve",
        json={"heads": [item["id"]], "values": {"ket_qua": "x"}, "note": "đã\x00 xem"},
        headers=api.auth("supervisor"),
    )
    errors = assert_problem(r, 422)["errors"]
    assert [(e["path"], e["code"]) for e in errors] == [("note", "control_character")]


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_413_many_tiny_items_after_one_nested_too_deep(api: Any, codec: str) -> None:
    """The first item nested past the decoders, the count was not read before the body was
    split item by item: an object for each of millions of tiny items (found by a probe of
    the fix above). It stops at the one past the limit."""
    n = 300_000
    if codec == "json":
        items = b"[" * 5000 + b"]" * 5000 + b",0" * (n - 1)
        raw = b'{"device_id": "may", "submissions": [' + items + b"]}"
    else:
        head = msgspec.msgpack.encode({"device_id": "may"})[1:]  # the map's one entry
        items = b"\x91" * 5000 + b"\xc0" + b"\x00" * (n - 1)
        array = b"\xdd" + n.to_bytes(4, "big") + items
        raw = b"\x82" + head + msgspec.msgpack.encode("submissions") + array
    headers = {"content-encoding": "gzip", "content-type": f"application/{codec}"}
    tracemalloc.start()
    try:
        r = post_raw(api, gzip.compress(raw), **headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert assert_problem(r, 413)["code"] == "too_many_items"
    assert peak < 4 * len(raw) + 2 * MiB, peak  # the body and copies of it, not an item's object
