"""Data of older form versions reaches the latest names, inside repeat groups too."""

import copy
import random

from server.app import ROOT
from server.forms import parse_definition, read_source
from tests.conftest import Api
from tests.support import hoa_giai, submission


def test_a_rename_inside_a_repeat_group_maps_old_and_stored_data(api: Api) -> None:
    rng = random.Random(7)
    old = submission("hoa_giai", hoa_giai(rng), version=2)
    assert api.push("officer", [old])[0]["status"] == "accepted"
    v3 = read_source((ROOT / "schemas" / "hoa_giai.v2.yaml").read_text("utf-8"))
    v3 = copy.deepcopy(v3)
    parties = next(f for f in v3["fields"] if f["name"] == "cac_ben")
    name = next(f for f in parties["fields"] if f["name"] == "ho_ten")
    name["name"], name["previous_names"] = "ho_va_ten", ["ho_ten"]
    result, created = api.catalog.publish(parse_definition(v3), None, None)
    assert created and result.version == 3
    rec = api.client.get(f"/api/v1/records/{old['id']}", headers=api.auth("supervisor")).json()
    assert rec["form_version"] == 3
    names = [p["ho_va_ten"] for p in rec["data"]["cac_ben"]]
    assert names == [p["ho_ten"] for p in old["data"]["cac_ben"]]
    assert all("ho_ten" not in p for p in rec["data"]["cac_ben"])
    # a phone still on v2 edits the case: its data lands under the new name as well
    edit = copy.deepcopy(old["data"])
    edit["cac_ben"][0]["ho_ten"] = "Trần Thị Mới"
    e = submission("hoa_giai", edit, version=2, record_id=old["id"], parents=[old["id"]])
    assert api.push("officer", [e])[0]["status"] == "accepted"
    rec = api.client.get(f"/api/v1/records/{old['id']}", headers=api.auth("supervisor")).json()
    assert rec["data"]["cac_ben"][0]["ho_va_ten"] == "Trần Thị Mới"
