"""A version published outside the server's own requests (`coso forms publish` while it
runs) is the latest for every request from then on: a supervisor's resolution is made under
it, not under the version the server's catalogue held before."""

from __future__ import annotations

import copy
import random

from server.app import ROOT
from server.catalog import Catalog
from server.form_source import read_source
from server.forms import parse_definition
from tests.conftest import Api
from tests.support import hoa_giai, latest_version, submission

LATEST = latest_version("hoa_giai")
NEXT = LATEST + 1


def _next_renaming_mediators() -> object:
    """The latest shipped hoa_giai with `hoa_giai_vien` renamed: the version after it."""
    text = (ROOT / "schemas" / f"hoa_giai.v{LATEST}.yaml").read_text("utf-8")
    nxt = copy.deepcopy(read_source(text))
    field = next(f for f in nxt["fields"] if f["name"] == "hoa_giai_vien")
    field["name"], field["previous_names"] = "thanh_vien_to", ["hoa_giai_vien"]
    return parse_definition(nxt)


def test_a_resolution_after_a_publish_by_the_cli_uses_the_new_version(api: Api) -> None:
    case = submission("hoa_giai", hoa_giai(random.Random(3)), version=LATEST)
    assert api.push("officer", [case])[0]["status"] == "accepted"
    # the CLI publishes the next version into the same database: the server's catalogue is not told
    result, created = Catalog(api.store).publish(_next_renaming_mediators(), None, "cli")
    assert created and result.version == NEXT
    url = f"/api/v1/records/{case['id']}"
    rec = api.client.get(url, headers=api.auth("supervisor")).json()
    assert rec["form_version"] == NEXT and "thanh_vien_to" in rec["data"]
    # the supervisor settles the field under the name the record shows
    body = {"heads": rec["heads"], "values": {"thanh_vien_to": "Tổ hòa giải số 3"}, "note": None}
    r = api.client.post(f"{url}/resolve", json=body, headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
    rec = r.json()["record"]
    assert rec["form_version"] == NEXT
    assert rec["data"]["thanh_vien_to"] == "Tổ hòa giải số 3"
    assert "hoa_giai_vien" not in rec["data"]
    detail = api.client.get(url, headers=api.auth("supervisor")).json()
    mine = next(s for s in detail["submissions"] if s["id"] == r.json()["submission_id"])
    assert mine["form_version"] == NEXT


def test_a_resolution_of_another_field_after_a_publish_keeps_the_new_version(api: Api) -> None:
    case = submission("hoa_giai", hoa_giai(random.Random(4)), version=LATEST)
    assert api.push("officer", [case])[0]["status"] == "accepted"
    Catalog(api.store).publish(_next_renaming_mediators(), None, "cli")
    url = f"/api/v1/records/{case['id']}"
    heads = api.client.get(url, headers=api.auth("supervisor")).json()["heads"]
    body = {"heads": heads, "values": {"so_buoi_hoa_giai": 1}}
    r = api.client.post(f"{url}/resolve", json=body, headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
    rec = r.json()["record"]
    assert rec["form_version"] == NEXT, rec
    assert "thanh_vien_to" in rec["data"] and "hoa_giai_vien" not in rec["data"]
