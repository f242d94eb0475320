"""Forms API over HTTP: the manifest devices poll (ETag/304), immutable versions, publishing."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from server.app import ROOT
from server.catalog import Catalog
from server.forms import parse_definition
from tests.support import assert_problem, latest_version, submission

FORMS = "/api/v1/forms"
SIX = {"danh_gia_tieu_chi", "hoa_giai", "khen_thuong", "mo_hinh", "nam_tinh_hinh", "tuyen_truyen"}
LABEL = {"vi": "Ghi chú thêm", "en": "Extra note"}
HOA_GIAI = latest_version("hoa_giai")  # what a fresh server publishes last
HOA_GIAI_FILE = f"hoa_giai.v{HOA_GIAI}.yaml"


def definition(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "schemas" / name).read_text("utf-8"))  # type: ignore[no-any-return]


def publish(api: Any, body: dict[str, Any], who: str = "admin") -> Any:
    return api.client.post(FORMS, json=body, headers=api.auth(who))


def manifest(api: Any, **headers: str) -> Any:
    return api.client.get(FORMS, headers={**api.auth("officer"), **headers})


def new_form() -> dict[str, Any]:
    return {
        "form_id": "thu_nghiem",
        "title": {"vi": "Biểu mẫu thử nghiệm", "en": "Pilot form"},
        "fields": [{"name": "ghi_chu", "type": "text", "label": LABEL, "required": True}],
    }


# --- the manifest ----------------------------------------------------------------------


def test_manifest_lists_the_six_forms_at_their_latest_versions(api: Any) -> None:
    r = manifest(api)
    assert r.status_code == 200
    forms = {f["form_id"]: f for f in r.json()["forms"]}
    assert set(forms) == SIX
    assert {name: f["version"] for name, f in forms.items()} == {
        name: latest_version(name) for name in SIX
    }
    for f in forms.values():
        assert f["title"]["vi"] and f["title"]["en"]
        assert len(f["sha256"]) == 64


def test_manifest_etag_gives_304_with_an_empty_body(api: Any) -> None:
    etag = manifest(api).headers["etag"]
    r = manifest(api, **{"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert manifest(api, **{"If-None-Match": '"something-else"'}).status_code == 200


def test_manifest_if_none_match_star_and_lists(api: Any) -> None:
    etag = manifest(api).headers["etag"]
    assert manifest(api, **{"If-None-Match": "*"}).status_code == 304
    strong = etag.removeprefix("W/")
    assert manifest(api, **{"If-None-Match": f'"x", W/{strong}'}).status_code == 304
    assert manifest(api, **{"If-None-Match": f'"x", {strong}'}).status_code == 304


@pytest.mark.parametrize("path", ["", "/hoa_giai/versions/2"])
def test_json_and_msgpack_have_their_own_etags(api: Any, path: str) -> None:
    """One URL, two representations: a cache (or a phone) holding the JSON must never be told
    it is fresh for the MessagePack, so the tags differ and the answers vary by Accept."""
    url, msgpack = f"{FORMS}{path}", {"Accept": "application/msgpack"}
    as_json = api.client.get(url, headers=api.auth("officer"))
    as_msgpack = api.client.get(url, headers={**api.auth("officer"), **msgpack})
    assert as_json.headers["etag"] != as_msgpack.headers["etag"]
    assert "accept" in as_json.headers["vary"].lower()
    assert "private" in as_json.headers["cache-control"]  # it needs a token: no shared cache
    stale = {**api.auth("officer"), **msgpack, "If-None-Match": as_json.headers["etag"]}
    assert api.client.get(url, headers=stale).status_code == 200
    fresh = {**api.auth("officer"), **msgpack, "If-None-Match": as_msgpack.headers["etag"]}
    assert api.client.get(url, headers=fresh).status_code == 304


def test_manifest_etag_changes_after_a_publish(api: Any) -> None:
    etag = manifest(api).headers["etag"]
    assert publish(api, new_form()).status_code == 201
    r = manifest(api, **{"If-None-Match": etag})
    assert r.status_code == 200
    assert r.headers["etag"] != etag
    assert {f["form_id"] for f in r.json()["forms"]} == {*SIX, "thu_nghiem"}


@pytest.mark.parametrize("route", ["manifest", "version", "push"])
def test_a_publish_from_beside_is_loaded_off_the_event_loop(
    api: Any, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """A version `coso forms publish` added while the server runs is loaded (decoded, checked,
    compiled) by the next request that needs the catalogue; on the event loop that held every
    other request meanwhile (1.4 s at 200 versions, growing with their square)."""
    beside = Catalog(api.store)  # the command line's catalogue, on the same database
    beside.publish(parse_definition(new_form()), None, "cli")
    loaded_on_loop: list[bool] = []
    reload = api.catalog.reload

    def spy() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            loaded_on_loop.append(False)
        else:
            loaded_on_loop.append(True)
        reload()

    monkeypatch.setattr(api.catalog, "reload", spy)
    if route == "manifest":
        r = manifest(api)
        assert "thu_nghiem" in {f["form_id"] for f in r.json()["forms"]}
    elif route == "version":
        r = api.client.get(f"{FORMS}/thu_nghiem/versions/1", headers=api.auth("officer"))
        assert r.status_code == 200 and r.json()["form_id"] == "thu_nghiem"
    else:
        item = submission("thu_nghiem", {"ghi_chu": "có"}, version=1)
        r = api.client.post(
            "/api/v1/sync/push",
            json={"device_id": "phone-1", "submissions": [item]},
            headers=api.auth("officer"),
        )
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted", r.text
    assert loaded_on_loop and not any(loaded_on_loop), loaded_on_loop


def test_manifest_etag_unchanged_by_an_identical_republish(api: Any) -> None:
    etag = manifest(api).headers["etag"]
    assert publish(api, definition(HOA_GIAI_FILE)).status_code == 200
    assert manifest(api, **{"If-None-Match": etag}).status_code == 304


def test_manifest_in_msgpack(api: Any) -> None:
    r = manifest(api, Accept="application/msgpack")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/msgpack")
    assert msgspec.msgpack.decode(r.content) == manifest(api).json()


def test_manifest_gzip_when_asked(api: Any) -> None:
    r = manifest(api, **{"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert {f["form_id"] for f in r.json()["forms"]} == SIX


# --- one version -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form_id", "version"),
    [("hoa_giai", 1), ("hoa_giai", 2), ("hoa_giai", HOA_GIAI), ("mo_hinh", 1)],
)
def test_version_has_its_definition_version_and_sha256(
    api: Any, form_id: str, version: int
) -> None:
    r = api.client.get(f"{FORMS}/{form_id}/versions/{version}", headers=api.auth("officer"))
    assert r.status_code == 200
    body = r.json()
    assert body["form_id"] == form_id
    assert body["version"] == version
    assert len(body["sha256"]) == 64
    assert body["fields"]
    assert "immutable" in r.headers["cache-control"]
    assert "max-age" in r.headers["cache-control"]
    if version == latest_version(form_id):
        latest = {f["form_id"]: f for f in manifest(api).json()["forms"]}[form_id]
        assert latest["sha256"] == body["sha256"]


def test_versions_keep_their_own_field_names(api: Any) -> None:
    def names(version: int) -> list[str]:
        url = f"{FORMS}/hoa_giai/versions/{version}"
        return [
            f["name"] for f in api.client.get(url, headers=api.auth("officer")).json()["fields"]
        ]

    assert "tom_tat" in names(1)
    assert "noi_dung_vu_viec" in names(2)
    assert "tom_tat" not in names(2)


def test_version_etag_gives_304(api: Any) -> None:
    url = f"{FORMS}/hoa_giai/versions/1"
    etag = api.client.get(url, headers=api.auth("officer")).headers["etag"]
    r = api.client.get(url, headers={**api.auth("officer"), "If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert "immutable" in r.headers["cache-control"]


def test_version_in_msgpack(api: Any) -> None:
    url = f"{FORMS}/hoa_giai/versions/2"
    r = api.client.get(url, headers={**api.auth("officer"), "Accept": "application/msgpack"})
    assert r.headers["content-type"].startswith("application/msgpack")
    assert (
        msgspec.msgpack.decode(r.content) == api.client.get(url, headers=api.auth("officer")).json()
    )


@pytest.mark.parametrize(
    "path", [f"hoa_giai/versions/{HOA_GIAI + 1}", "hoa_giai/versions/0", "khong_co/versions/1"]
)
def test_version_404(api: Any, path: str) -> None:
    assert_problem(api.client.get(f"{FORMS}/{path}", headers=api.auth("officer")), 404)


def test_a_published_version_never_changes(api: Any) -> None:
    url = f"{FORMS}/hoa_giai/versions/{HOA_GIAI}"
    before = api.client.get(url, headers=api.auth("officer")).content
    nxt = definition(HOA_GIAI_FILE)
    nxt["fields"].append({"name": "ghi_chu", "type": "text", "label": LABEL})
    assert publish(api, nxt).json()["version"] == HOA_GIAI + 1
    assert api.client.get(url, headers=api.auth("officer")).content == before


# --- publishing ------------------------------------------------------------------------


def test_publish_new_version_201_then_identical_republish_200(api: Any) -> None:
    nxt = definition(HOA_GIAI_FILE)
    nxt["fields"].append({"name": "ghi_chu", "type": "text", "label": LABEL})
    first = publish(api, nxt)
    assert first.status_code == 201
    assert first.json()["form_id"] == "hoa_giai"
    assert first.json()["version"] == HOA_GIAI + 1
    again = publish(api, copy.deepcopy(nxt))
    assert again.status_code == 200
    assert again.json() == first.json()
    url = f"{FORMS}/hoa_giai/versions/{HOA_GIAI + 1}"
    body = api.client.get(url, headers=api.auth("officer")).json()
    assert body["sha256"] == first.json()["sha256"]
    latest = {f["form_id"]: f["version"] for f in manifest(api).json()["forms"]}["hoa_giai"]
    assert latest == HOA_GIAI + 1


def test_publish_a_new_form_is_version_1(api: Any) -> None:
    r = publish(api, new_form())
    assert r.status_code == 201
    assert r.json()["version"] == 1


def test_publish_refuses_a_type_change_with_a_path(api: Any) -> None:
    nxt = definition(HOA_GIAI_FILE)
    index = next(i for i, f in enumerate(nxt["fields"]) if f["name"] == "so_buoi_hoa_giai")
    nxt["fields"][index] = {"name": "so_buoi_hoa_giai", "type": "text", "label": LABEL}
    body = assert_problem(publish(api, nxt), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        (f"fields[{index}]", "type_changed")
    ]
    latest = {f["form_id"]: f["version"] for f in manifest(api).json()["forms"]}["hoa_giai"]
    assert latest == HOA_GIAI


def test_publish_refuses_a_type_change_inside_a_repeat(api: Any) -> None:
    nxt = definition(HOA_GIAI_FILE)
    parties = next(i for i, f in enumerate(nxt["fields"]) if f["name"] == "cac_ben")
    inner = nxt["fields"][parties]["fields"]
    index = next(i for i, f in enumerate(inner) if f["name"] == "nam_sinh")
    inner[index] = {"name": "nam_sinh", "type": "date", "label": LABEL}
    body = assert_problem(publish(api, nxt), 422)
    assert [e["path"] for e in body["errors"]] == [f"fields[{parties}].fields[{index}]"]


def test_publish_refuses_a_type_change_through_a_rename(api: Any) -> None:
    nxt = definition(HOA_GIAI_FILE)
    index = next(i for i, f in enumerate(nxt["fields"]) if f["name"] == "noi_dung_vu_viec")
    nxt["fields"][index] = {
        "name": "noi_dung",
        "type": "integer",
        "label": LABEL,
        "previous_names": ["noi_dung_vu_viec", "tom_tat"],
    }
    body = assert_problem(publish(api, nxt), 422)
    assert body["errors"][0]["path"].startswith(f"fields[{index}]")


@pytest.mark.parametrize("who", ["officer", "supervisor"])
def test_publish_needs_admin(api: Any, who: str) -> None:
    assert_problem(publish(api, new_form(), who=who), 403)
    assert len(manifest(api).json()["forms"]) == 6


def test_publish_yaml_body(api: Any, tmp_path: Path) -> None:
    text = yaml.safe_dump(new_form(), allow_unicode=True)
    r = api.client.post(
        FORMS,
        content=text.encode(),
        headers={**api.auth("admin"), "Content-Type": "application/yaml"},
    )
    assert r.status_code == 201
    as_json = publish(api, new_form())
    assert as_json.status_code == 200
    assert as_json.json() == r.json()


def test_publish_the_real_yaml_file_again_is_a_no_op(api: Any) -> None:
    text = (ROOT / "schemas" / "hoa_giai.v2.yaml").read_bytes()
    r = api.client.post(
        FORMS, content=text, headers={**api.auth("admin"), "Content-Type": "application/yaml"}
    )
    assert r.status_code == 200
    assert r.json()["version"] == 2


def test_publish_msgpack_body(api: Any) -> None:
    r = api.client.post(
        FORMS,
        content=msgspec.msgpack.encode(new_form()),
        headers={**api.auth("admin"), "Content-Type": "application/msgpack"},
    )
    assert r.status_code == 201
    assert publish(api, new_form()).status_code == 200


def test_publish_nfd_text_is_the_same_definition_as_nfc(api: Any) -> None:
    import unicodedata

    nfc = publish(api, new_form()).json()
    nfd = msgspec.json.decode(
        unicodedata.normalize("NFD", msgspec.json.encode(new_form()).decode())
    )
    r = publish(api, nfd)
    assert r.status_code == 200
    assert r.json() == nfc


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"\xff\xfe not utf-8", "application/yaml", 400),
        (b'{"form_id": "x\\ud800", "fields": []}', "application/json", 400),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 400),
        (b"{" * 50_000, "application/json", 400),
        (b"a: [", "application/yaml", 400),
        (b"!!python/object:os.system {}", "application/yaml", 400),
        (b"", "application/json", 400),
        (b"- 1\n- 2\n", "application/yaml", 422),
        (msgspec.msgpack.encode({1: 2, "fields": [{3: 4}]}), "application/msgpack", 422),
        (msgspec.msgpack.encode([1, 2]), "application/msgpack", 422),
    ],
    ids=[
        "not utf-8",
        "lone surrogate",
        "deep json",
        "unclosed json",
        "bad yaml",
        "yaml python tag",
        "empty",
        "yaml list",
        "msgpack int keys",
        "msgpack list",
    ],
)
def test_publish_garbage_is_400_or_422_never_500(
    api: Any, content: bytes, content_type: str, status: int
) -> None:
    """A body that is not YAML, JSON or MessagePack at all is malformed (400); one that is,
    but is no form definition, is 422 with the problems."""
    r = api.client.post(
        FORMS, content=content, headers={**api.auth("admin"), "Content-Type": content_type}
    )
    assert_problem(r, status)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"form_id": "a", "form_id": "b"}', "application/json"),
        (b"form_id: a\ntitle: {vi: x, en: y}\nform_id: b\n", "application/yaml"),
    ],
)
def test_publish_refuses_a_key_given_twice(api: Any, content: bytes, content_type: str) -> None:
    """JSON and YAML both let the last of two equal keys win silently: a definition with one
    is refused instead of publishing whichever came last."""
    r = api.client.post(
        FORMS, content=content, headers={**api.auth("admin"), "Content-Type": content_type}
    )
    errors = assert_problem(r, 422)["errors"]
    assert next((e["path"], e["code"]) for e in errors) == ("form_id", "duplicate_key")


def test_a_messagepack_definition_with_a_key_given_twice_is_refused(api: Any) -> None:
    """msgspec keeps the last of two equal keys of a MessagePack map: a field with `type`
    twice was published as the second (found by a regression probe)."""
    enc = msgspec.msgpack.encode
    field = b"\x84" + enc("name") + enc("a") + enc("type") + enc("text")
    field += enc("label") + enc({"vi": "A", "en": "A"}) + enc("type") + enc("integer")
    body = b"\x83" + enc("form_id") + enc("hai_lan") + enc("title") + enc({"vi": "T", "en": "T"})
    body += enc("fields") + b"\x91" + field
    assert msgspec.msgpack.decode(body)["fields"][0]["type"] == "integer"  # as msgspec reads it
    headers = {**api.auth("admin"), "Content-Type": "application/msgpack"}
    r = api.client.post(FORMS, content=body, headers=headers)
    errors = assert_problem(r, 422)["errors"]
    assert [(e["path"], e["code"]) for e in errors] == [("fields[0].type", "duplicate_key")]
    r = api.client.get(f"{FORMS}/hai_lan/versions/1", headers=api.auth("admin"))
    assert r.status_code == 404  # nothing published


@pytest.mark.parametrize(
    "content_type", ["image/png", "text/plain", "application/x-www-form-urlencoded", "text/xml"]
)
def test_publish_refuses_other_media_types(api: Any, content_type: str) -> None:
    body = msgspec.json.encode(new_form())
    r = api.client.post(
        FORMS, content=body, headers={**api.auth("admin"), "Content-Type": content_type}
    )
    assert_problem(r, 415)


def test_publish_malformed_msgpack_is_400(api: Any) -> None:
    r = api.client.post(
        FORMS, content=b"\xc1", headers={**api.auth("admin"), "Content-Type": "application/msgpack"}
    )
    assert_problem(r, 400)


def test_publish_yaml_that_does_not_parse_is_400_naming_the_line(api: Any) -> None:
    """Not YAML at all: 400 `malformed_body`, with the `syntax` entry the CLI shows too (the
    README lists the code; the API kept it to itself)."""
    headers = {**api.auth("admin"), "Content-Type": "application/yaml"}
    r = api.client.post(FORMS, content=b"form_id: a\nfields: [b\n", headers=headers)
    problem = assert_problem(r, 400)
    assert problem["code"] == "malformed_body"
    [entry] = problem["errors"]
    assert entry["code"] == "syntax" and "line" in entry["message"]


def nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"name": "la", "type": "text", "label": LABEL}
    for level in range(depth, 0, -1):
        inner = {"name": f"nhom_{level}", "type": "repeat", "label": LABEL, "fields": [inner]}
    return {**new_form(), "fields": [inner]}


@pytest.mark.parametrize("depth", [9, 250, 400])
@pytest.mark.parametrize("media", ["json", "msgpack", "yaml"])
def test_publish_refuses_repeat_groups_nested_too_deep_never_500(
    api: Any, depth: int, media: str
) -> None:
    """Repeat groups inside one another at most 8 deep: deeper is 422 at the ninth group, in
    every body type (a RecursionError here once answered 500)."""
    encode = {
        "json": msgspec.json.encode,
        "msgpack": msgspec.msgpack.encode,
        "yaml": lambda d: b"---\n" + msgspec.json.encode(d),  # JSON is YAML's flow style
    }[media]
    r = api.client.post(
        FORMS,
        content=encode(nested(depth)),
        headers={**api.auth("admin"), "Content-Type": f"application/{media}"},
    )
    body = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        (".".join(["fields[0]"] * 9), "too_deep")
    ]
    assert publish(api, nested(8)).status_code == 201


@pytest.mark.parametrize(
    "content",
    [b"a: &a [*a]\n", b"form_id: ab\nfields: &f [{name: a, fields: *f}]\n"],
    ids=["list", "fields"],
)
def test_publish_refuses_a_yaml_alias_inside_itself(api: Any, content: bytes) -> None:
    r = api.client.post(
        FORMS, content=content, headers={**api.auth("admin"), "Content-Type": "application/yaml"}
    )
    assert [e["code"] for e in assert_problem(r, 422)["errors"]] == ["too_deep"]


def test_publish_yaml_with_merge_keys(api: Any) -> None:
    text = (
        "form_id: tieu_chi_thu\n"
        'title: {vi: "Chấm điểm", en: "Scoring"}\n'
        "fields:\n"
        "  - &score {name: tieu_chi_01, type: integer, min: 0, max: 10, required: true,\n"
        '            label: {vi: "Tiêu chí 1", en: "Criterion 1"}}\n'
        '  - {<<: *score, name: tieu_chi_02, label: {vi: "Tiêu chí 2", en: "Criterion 2"}}\n'
    )
    headers = {**api.auth("admin"), "Content-Type": "application/yaml"}
    r = api.client.post(FORMS, content=text.encode(), headers=headers)
    assert r.status_code == 201, r.text
    url = f"{FORMS}/tieu_chi_thu/versions/1"
    fields = api.client.get(url, headers=api.auth("officer")).json()["fields"]
    assert [(f["name"], f["max"], f["label"]["en"]) for f in fields] == [
        ("tieu_chi_01", 10, "Criterion 1"),
        ("tieu_chi_02", 10, "Criterion 2"),
    ]


@pytest.mark.parametrize(
    "respell",
    [
        lambda f: f.update(previous_names=[]),
        lambda f: f.update(min=1.0),
        lambda f: f.update(min=1.0, max=10.0, previous_names=[], choices=[]),
    ],
    ids=["empty previous_names", "1.0", "all"],
)
def test_publish_what_means_the_same_again_is_a_no_op(api: Any, respell: Any) -> None:
    """PROTOCOL: re-publishing a definition identical to a published version returns it; an
    empty list or `1.0` for `1` is the same definition."""
    body = new_form()
    body["fields"].append({"name": "so", "type": "decimal", "label": LABEL, "min": 1, "max": 10})
    first = publish(api, body)
    assert first.status_code == 201
    again = copy.deepcopy(body)
    respell(again["fields"][1])
    r = publish(api, again)
    assert r.status_code == 200
    assert r.json() == first.json()
    url = f"{FORMS}/thu_nghiem/versions/1"
    served = api.client.get(url, headers=api.auth("officer")).json()["fields"][1]
    assert served == {"name": "so", "type": "decimal", "label": LABEL, "min": 1, "max": 10}


def test_a_version_an_older_coso_hashed_otherwise_is_the_same_definition(api: Any) -> None:
    """A coso before 2026-11-27 hashed `previous_names: []` and `10.0` into its canonical
    encoding; the version it published keeps that hash. Publishing the same file after the
    upgrade is a no-op all the same, never a version phones download for good (found by an
    upgrade probe: v2 came of the very file that was v1)."""
    body = new_form()
    body["fields"].append({"name": "so", "type": "decimal", "label": LABEL, "min": 0, "max": 10})
    first = publish(api, body)
    assert first.status_code == 201
    with api.store.write() as w:  # the hash an older coso stored
        w.conn.execute("UPDATE forms SET sha256 = ? WHERE form_id = 'thu_nghiem'", ["0" * 64])
    api.catalog.reload()
    r = publish(api, body)
    assert r.status_code == 200, r.text
    assert r.json() == {**first.json(), "sha256": "0" * 64}
    manifest = api.client.get(FORMS, headers=api.auth("officer")).json()["forms"]
    assert [f["version"] for f in manifest if f["form_id"] == "thu_nghiem"] == [1]


@pytest.mark.parametrize(
    "spelling", ["02", "+2", "2_0", "%202%20", "%EF%BC%92", "%D9%A2", "2.0", "-1", "0", "x"]
)
def test_a_version_has_one_url(api: Any, spelling: str) -> None:
    """A version's document is cached for a year under its URL: only `/versions/2` names
    version 2; `02`, `+2`, a fullwidth or Arabic-Indic digit (which int() reads) are 404."""
    assert (
        api.client.get("/api/v1/forms/hoa_giai/versions/2", headers=api.auth("officer")).status_code
        == 200
    )
    r = api.client.get(f"/api/v1/forms/hoa_giai/versions/{spelling}", headers=api.auth("officer"))
    assert assert_problem(r, 404)["code"] == "unknown_form"
    assert "max-age" not in r.headers.get("cache-control", "")


def test_a_served_version_published_again_with_a_change_is_the_next_version(api: Any) -> None:
    """An admin copies the latest version from the API, changes a label and posts it: it was
    refused 422 for the keys the server adds (`version`, `sha256`, `renames`: found by a
    probe). Those are ignored; the rest is checked as ever."""
    admin = api.auth("admin")
    manifest = api.client.get("/api/v1/forms", headers=admin).json()["forms"]
    latest = next(f for f in manifest if f["form_id"] == "hoa_giai")["version"]
    served = api.client.get(f"/api/v1/forms/hoa_giai/versions/{latest}", headers=admin).json()
    assert {"version", "sha256", "renames"} <= set(served)
    same = api.client.post("/api/v1/forms", json=served, headers=admin)
    assert same.status_code == 200 and same.json()["version"] == latest  # unchanged
    served["title"] = {"vi": "Vụ việc hòa giải", "en": "Mediation case"}
    r = api.client.post("/api/v1/forms", json={**served, "version": 1}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == latest + 1
    wrong = api.client.post("/api/v1/forms", json={**served, "mau": 1}, headers=admin)
    assert [e["path"] for e in wrong.json()["errors"]] == ["mau"]
