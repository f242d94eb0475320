"""Data of older form versions reaches the latest names, inside repeat groups too, and a new
version that would lose or misfile some of it is refused."""

import copy
import random
import re
from typing import Any

from server.forms import parse_definition
from tests.conftest import Api
from tests.support import assert_problem, hoa_giai, latest_schema, latest_version, submission


def test_a_rename_inside_a_repeat_group_maps_old_and_stored_data(api: Api) -> None:
    rng = random.Random(7)
    old = submission("hoa_giai", hoa_giai(rng), version=2)
    assert api.push("officer", [old])[0]["status"] == "accepted"
    nxt = latest_schema("hoa_giai")
    parties = next(f for f in nxt["fields"] if f["name"] == "cac_ben")
    name = next(f for f in parties["fields"] if f["name"] == "ho_ten")
    name["name"], name["previous_names"] = "ho_va_ten", ["ho_ten"]
    result, created = api.catalog.publish(parse_definition(nxt), None, None)
    assert created and result.version == latest_version("hoa_giai") + 1
    rec = api.client.get(f"/api/v1/records/{old['id']}", headers=api.auth("supervisor")).json()
    assert rec["form_version"] == result.version
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


# --- what a new version may not do to the data collected ---------------------------------------

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LABEL = {"vi": "Nhãn", "en": "Label"}


def field(name: str, type_: str = "text", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": LABEL, **options}


def publish(api: Api, *fields: dict[str, Any]) -> Any:
    body = {"form_id": "thu_nghiem", "title": LABEL, "fields": list(fields)}
    return api.client.post("/api/v1/forms", json=body, headers=api.auth("admin"))


def record(api: Api, record_id: str) -> Any:
    r = api.client.get(f"/api/v1/records/{record_id}", headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_rename_that_would_keep_two_fields_under_one_name_is_refused(api: Api) -> None:
    """v1 has `ho` and `ten`; a v2 keeping `ten` with `previous_names: [ho]` would leave each
    record one of its two values. It is refused, and the records keep both."""
    assert publish(api, field("ho"), field("ten")).status_code == 201
    item = submission("thu_nghiem", {"ho": "Nguyễn", "ten": "An"}, version=1)
    assert api.push("officer", [item])[0]["status"] == "accepted"
    body = assert_problem(publish(api, field("ten", previous_names=["ho"])), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        ("fields[0].previous_names[0]", "rename_collision")
    ]
    assert body["errors"][0]["message"].startswith("'ho' và 'ten' là hai trường của phiên bản 1")
    assert record(api, item["id"])["data"] == {"ho": "Nguyễn", "ten": "An"}


def test_a_name_renamed_away_is_not_given_to_a_new_field(api: Api) -> None:
    """v1 `ten` became `ho_ten` in v2; a v3 adding a new field `ten` would read v1's names as
    the new field's. It is refused, with the way to say "this is the same field"."""
    assert publish(api, field("ten")).status_code == 201
    item = submission("thu_nghiem", {"ten": "Nguyễn Văn A"}, version=1)
    assert api.push("officer", [item])[0]["status"] == "accepted"
    assert publish(api, field("ho_ten", previous_names=["ten"])).status_code == 201
    body = assert_problem(publish(api, field("ho_ten"), field("ten")), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("fields[1].name", "name_reused")]
    assert "list 'ho_ten' in previous_names" in body["errors"][0]["message"]
    assert record(api, item["id"])["data"] == {"ho_ten": "Nguyễn Văn A"}
    # renamed back, saying so: the data follows
    assert publish(api, field("ten", previous_names=["ho_ten"])).status_code == 201
    assert record(api, item["id"])["data"] == {"ten": "Nguyễn Văn A"}


def test_a_type_change_through_a_renamed_group_is_refused(api: Api) -> None:
    assert publish(api, field("g", "repeat", fields=[field("x")])).status_code == 201
    item = submission("thu_nghiem", {"g": [{"x": "Nguyễn Văn A"}]}, version=1)
    assert api.push("officer", [item])[0]["status"] == "accepted"
    v2 = field("g2", "repeat", previous_names=["g"], fields=[field("x", "integer")])
    body = assert_problem(publish(api, v2), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        ("fields[0].fields[0]", "type_changed")
    ]
    assert record(api, item["id"])["data"] == {"g": [{"x": "Nguyễn Văn A"}]}


def test_records_remapped_by_a_publish_and_its_audit_entry_spell_times_as_pushes_do(
    api: Api,
) -> None:
    """One spelling of a time everywhere: UTC, milliseconds, `Z` (item.now_iso)."""
    assert publish(api, field("a")).status_code == 201
    item = submission("thu_nghiem", {"a": "x"}, version=1)
    api.push("officer", [item])
    assert TIME.fullmatch(record(api, item["id"])["updated_at"])
    assert publish(api, field("b", previous_names=["a"])).status_code == 201
    rec = record(api, item["id"])
    assert rec["data"] == {"b": "x"}
    assert TIME.fullmatch(rec["updated_at"]), rec["updated_at"]
    audit = api.client.get("/api/v1/audit", headers=api.auth("admin")).json()["entries"]
    publishes = [e for e in audit if e["action"] == "form.publish"]
    assert publishes
    assert all(TIME.fullmatch(e["at"]) for e in audit), [e["at"] for e in audit]


def test_a_resolve_with_a_fields_older_name_settles_it_under_the_new_one(api: Api) -> None:
    """A supervisor looks at a conflict on `b`; an admin publishes a version renaming `b` to
    `c`; the supervisor's resolution, sent with `b`, settles `c` (as a phone's data of the
    older version lands under `c`); a bad value is reported at the name sent."""
    assert publish(api, field("a"), field("b", max_length=5)).status_code == 201
    root = submission("thu_nghiem", {"a": "x", "b": "y"}, version=1)
    api.push("officer", [root])
    edits = [
        submission("thu_nghiem", {"b": v}, version=1, record_id=root["id"], parents=[root["id"]])
        for v in ("B1", "B2")
    ]
    assert api.push("officer", edits)[-1]["status"] == "conflict"
    seen = record(api, root["id"])
    assert [c["field"] for c in seen["conflicts"]] == ["b"]
    renamed = field("c", max_length=5, previous_names=["b"])
    assert publish(api, field("a"), renamed).status_code == 201
    url = f"/api/v1/records/{root['id']}/resolve"

    def resolve(values: dict[str, Any]) -> Any:
        body = {"heads": seen["heads"], "values": values}
        return api.client.post(url, json=body, headers=api.auth("supervisor"))

    problem = assert_problem(resolve({"b": "too long"}), 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("values.b", "max_length")]
    problem = assert_problem(resolve({"b": "B1", "c": "B2"}), 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("values.c", "duplicate")]
    r = resolve({"b": "B1"})
    assert r.status_code == 200, r.text
    settled = r.json()["record"]
    assert settled["data"]["c"] == "B1" and "b" not in settled["data"]
    assert settled["conflicts"] == []


def test_a_group_edited_on_a_version_without_one_of_its_sub_fields_keeps_that_data(
    api: Api,
) -> None:
    """PROTOCOL: removing a field from a form never hides data already collected. v1's
    parties had `ten`; v2 removed it. An officer on v2 edits a party: the items go back
    whole, `ten` with them (it was refused as unknown), and the record keeps it."""
    party = {"name": "ben", "type": "repeat", "label": LABEL}
    v1 = publish(api, {**party, "fields": [field("ten"), field("tuoi", "integer")]})
    assert v1.status_code in (200, 201), v1.text
    first = submission("thu_nghiem", {"ben": [{"ten": "An", "tuoi": 30}]}, version=1)
    assert api.push("officer", [first])[0]["status"] == "accepted"
    v2 = publish(api, {**party, "fields": [field("tuoi", "integer")]})
    assert v2.status_code in (200, 201), v2.text
    held = record(api, first["id"])["data"]["ben"]
    assert held == [{"ten": "An", "tuoi": 30}]
    item = {**held[0], "tuoi": 31}  # the item as the record holds it, one value changed
    edit = submission(
        "thu_nghiem", {"ben": [item]}, version=2, record_id=first["id"], parents=[first["id"]]
    )
    assert api.push("officer", [edit])[0]["status"] == "accepted"
    assert record(api, first["id"])["data"]["ben"] == [{"ten": "An", "tuoi": 31}]
    # checked as v1 checked it: a number where v1 had text is still refused
    wrong = submission(
        "thu_nghiem",
        {"ben": [{"ten": 5, "tuoi": 31}]},
        version=2,
        record_id=first["id"],
        parents=[edit["id"]],
    )
    [refused] = api.push("officer", [wrong])
    assert [(e["path"], e["code"]) for e in refused["errors"]] == [
        ("submissions[0].data.ben[0].ten", "type")
    ]


# --- removed fields and choices, and choices in another order --------------------------------


def test_a_removed_field_is_not_renamed_onto_the_field_its_data_was_kept_beside(
    api: Api,
) -> None:
    """v2 removed `cu` and added `moi`; a v2 submission may carry both (a record keeps what
    a removed field collected). A v3 calling `moi` what `cu` was would keep one value of the
    two: refused, and the record keeps both."""
    assert publish(api, field("ten"), field("cu")).status_code == 201
    assert publish(api, field("ten"), field("moi")).status_code == 201
    both = submission("thu_nghiem", {"ten": "r", "moi": "NEW", "cu": "OLD"}, version=2)
    assert api.push("officer", [both])[0]["status"] == "accepted"
    problem = assert_problem(publish(api, field("ten"), field("moi", previous_names=["cu"])), 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("fields[1].previous_names[0]", "rename_collision")
    ]
    assert record(api, both["id"])["data"] == {"ten": "r", "moi": "NEW", "cu": "OLD"}


def test_choices_in_another_order_in_a_later_version_tick_the_same_boxes(api: Api) -> None:
    """v2 lists v1's choices in another order. A v2 phone sending back the boxes a v1 phone
    ticked, beside an edit of another field, writes no new value for them: no conflict with
    a v1 phone's real change, which is the record's value."""
    choices = [{"value": v, "label": LABEL} for v in ("x", "y", "z")]
    tick = field("t", "select_multiple", choices=choices)
    assert publish(api, field("a"), tick).status_code == 201
    assert publish(api, field("a"), {**tick, "choices": choices[::-1]}).status_code == 201
    root = submission("thu_nghiem", {"a": "1", "t": ["z", "x"]}, version=1)
    assert api.push("officer", [root])[0]["status"] == "accepted"
    assert record(api, root["id"])["data"]["t"] == ["x", "z"]  # the first version's order
    same = submission(
        "thu_nghiem",
        {"a": "2", "t": ["z", "x"]},
        version=2,
        record_id=root["id"],
        parents=[root["id"]],
    )
    other = submission(
        "thu_nghiem", {"t": ["y", "x"]}, version=1, record_id=root["id"], parents=[root["id"]]
    )
    assert [r["status"] for r in api.push("officer", [same, other])] == ["accepted", "accepted"]
    rec = record(api, root["id"])
    assert rec["conflicts"] == []
    assert rec["data"] == {"a": "2", "t": ["x", "y"]}


def test_a_choice_removed_since_is_kept_accepted_and_may_settle_a_conflict(api: Api) -> None:
    """v2 removes choice `c`. A v1 phone writes `c`, a v2 phone `b`: the supervisor may keep
    `c` (one of the values listed), and a phone sending the whole form back with `c` in it
    is not refused."""
    choices = [{"value": v, "label": LABEL} for v in ("a", "b", "c")]
    one = field("loai", "select_one", choices=choices)
    many = field("nhan", "select_multiple", choices=choices)
    assert publish(api, field("x"), one, many).status_code == 201
    fewer = {"choices": choices[:2]}
    assert publish(api, field("x"), {**one, **fewer}, {**many, **fewer}).status_code == 201
    root = submission("thu_nghiem", {"x": "1", "loai": "a", "nhan": ["a"]}, version=1)
    api.push("officer", [root])
    v1 = submission(
        "thu_nghiem",
        {"loai": "c", "nhan": ["a", "c"]},
        version=1,
        record_id=root["id"],
        parents=[root["id"]],
    )
    v2 = submission(
        "thu_nghiem",
        {"loai": "b", "nhan": ["b"]},
        version=2,
        record_id=root["id"],
        parents=[root["id"]],
    )
    assert api.push("officer", [v1, v2])[-1]["status"] == "conflict"
    seen = record(api, root["id"])
    assert [c["field"] for c in seen["conflicts"]] == ["loai", "nhan"]
    r = api.client.post(
        f"/api/v1/records/{root['id']}/resolve",
        json={"heads": seen["heads"], "values": {"loai": "c", "nhan": ["c", "a"]}},
        headers=api.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    settled = r.json()["record"]
    assert settled["conflicts"] == []
    assert settled["data"]["loai"] == "c" and settled["data"]["nhan"] == ["a", "c"]
    whole = submission(
        "thu_nghiem",
        {**settled["data"], "x": "2"},
        version=2,
        record_id=root["id"],
        parents=settled["heads"],
    )
    assert api.push("officer", [whole])[0]["status"] == "accepted"
    assert record(api, root["id"])["data"] == {"x": "2", "loai": "c", "nhan": ["a", "c"]}
    # a value no version had is still refused
    bad = submission(
        "thu_nghiem", {"loai": "d"}, version=2, record_id=root["id"], parents=[whole["id"]]
    )
    [refused] = api.push("officer", [bad])
    assert [(e["path"], e["code"]) for e in refused["errors"]] == [
        ("submissions[0].data.loai", "choice")
    ]


def test_a_push_may_resolve_a_removed_field_as_a_resolution_does(api: Api) -> None:
    """A resolution of a removed field's conflict is stored with `resolves` naming it; a phone
    may send such a submission too, and one stored sent again is a duplicate, not refused."""
    assert publish(api, field("a"), field("old")).status_code == 201
    assert publish(api, field("a")).status_code == 201
    root = submission("thu_nghiem", {"a": "1", "old": "A"}, version=1)
    api.push("officer", [root])
    edits = [
        submission("thu_nghiem", {"old": v}, version=1, record_id=root["id"], parents=[root["id"]])
        for v in ("B", "C")
    ]
    assert api.push("officer", edits)[-1]["status"] == "conflict"
    heads = record(api, root["id"])["heads"]
    settle = submission("thu_nghiem", {"old": "B"}, version=2, record_id=root["id"], parents=heads)
    settle["resolves"] = ["old"]
    assert api.push("officer", [settle])[0]["status"] == "accepted"
    rec = record(api, root["id"])
    assert rec["conflicts"] == [] and rec["data"]["old"] == "B"
    assert api.push("officer", [settle])[0]["status"] == "duplicate"
    unknown = submission(
        "thu_nghiem", {"a": "2"}, version=2, record_id=root["id"], parents=rec["heads"]
    )
    unknown["resolves"] = ["never"]
    [refused] = api.push("officer", [unknown])
    assert [(e["path"], e["code"]) for e in refused["errors"]] == [
        ("submissions[0].resolves[0]", "unknown_field")
    ]


def test_each_version_served_says_where_earlier_names_went(api: Api) -> None:
    """A phone holding data of an older version (a case, an unsent edit) reads and edits it
    under the names of the version it shows: each version carries `renames`, chains followed
    and repeat groups' sub-fields as `group.old`; fixed once published (part of the
    immutable answer)."""
    group = {"name": "g", "type": "repeat", "label": LABEL}
    assert publish(api, field("a"), {**group, "fields": [field("x")]}).status_code == 201
    renamed_group = {**group, "fields": [field("y", previous_names=["x"])]}
    assert publish(api, field("b", previous_names=["a"]), renamed_group).status_code == 201
    assert publish(api, field("c", previous_names=["b"]), renamed_group).status_code == 201

    def served(version: int) -> Any:
        url = f"/api/v1/forms/thu_nghiem/versions/{version}"
        r = api.client.get(url, headers=api.auth("officer"))
        assert r.status_code == 200, r.text
        return r.json()

    assert served(1)["renames"] == {}
    assert served(2)["renames"] == {"a": "b", "g.x": "y"}
    assert served(3)["renames"] == {"a": "c", "b": "c", "g.x": "y"}


def test_a_resolve_with_a_groups_older_sub_field_names_reads_them_as_the_latest(
    api: Api,
) -> None:
    """A supervisor picks one of a repeat group's competing values as it was shown before a
    publish renamed a sub-field: it settles the conflict, read under the new names, as a
    phone's data of the older version is (found by a probe: 422, `unknown_field`)."""
    rng = random.Random(11)
    root = submission("hoa_giai", hoa_giai(rng), version=2)
    api.push("officer", [root])
    rid = root["id"]
    competing = []
    for name in ("Lê Văn Một", "Lê Văn Hai"):
        parties = copy.deepcopy(root["data"]["cac_ben"])
        parties[0]["ho_ten"] = name
        competing.append(
            submission("hoa_giai", {"cac_ben": parties}, version=2, record_id=rid, parents=[rid])
        )
    assert api.push("officer", competing)[-1]["status"] == "conflict"
    seen = record(api, rid)
    [conflict] = seen["conflicts"]
    picked = conflict["values"][0]["value"]
    assert "ho_ten" in picked[0]
    nxt = latest_schema("hoa_giai")
    parties_field = next(f for f in nxt["fields"] if f["name"] == "cac_ben")
    name_field = next(f for f in parties_field["fields"] if f["name"] == "ho_ten")
    name_field["name"], name_field["previous_names"] = "ho_va_ten", ["ho_ten"]
    assert api.catalog.publish(parse_definition(nxt), None, None)[1]
    r = api.client.post(
        f"/api/v1/records/{rid}/resolve",
        json={"heads": seen["heads"], "values": {"cac_ben": picked}},
        headers=api.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    settled = r.json()["record"]
    assert settled["conflicts"] == []
    assert settled["data"]["cac_ben"][0]["ho_va_ten"] == picked[0]["ho_ten"]
    assert all("ho_ten" not in p for p in settled["data"]["cac_ben"])

    # One item naming the sub-field twice, by both names, in either order: refused at the
    # second name, not one value silently kept (found by a probe: 200, the later one kept)
    later = record(api, rid)
    for second in ("ho_ten", "ho_va_ten"):
        first = "ho_va_ten" if second == "ho_ten" else "ho_ten"
        both = copy.deepcopy(later["data"]["cac_ben"])
        rest = {k: v for k, v in both[1].items() if k != "ho_va_ten"}
        both[1] = {first: "Trần Thị Ba", **rest, second: "Trần Thị Tư"}
        r = api.client.post(
            f"/api/v1/records/{rid}/resolve",
            json={"heads": later["heads"], "values": {"cac_ben": both}},
            headers=api.auth("supervisor"),
        )
        problem = assert_problem(r, 422)
        errors = [(e["path"], e["code"]) for e in problem["errors"]]
        assert errors == [(f"values.cac_ben[1].{second}", "duplicate")], problem
    assert record(api, rid)["heads"] == later["heads"]  # nothing stored

    # A value refused under a sub-field's older name is said at that name, as sent (it was
    # said at the new one, beside the group's sent name: found by a regression probe)
    wrong = copy.deepcopy(picked)
    wrong[0]["ho_ten"] = "x" * 500
    r = api.client.post(
        f"/api/v1/records/{rid}/resolve",
        json={"heads": later["heads"], "values": {"cac_ben": wrong}},
        headers=api.auth("supervisor"),
    )
    problem = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("values.cac_ben[0].ho_ten", "max_length")
    ]


def test_a_renaming_publish_changes_only_the_records_that_hold_the_field(api: Api) -> None:
    """A version renames `b` to `c`: the records holding `b` change (pulled again, under
    `c`); one without it keeps its state, `updated_at` and place in the change order, so the
    phones do not pull every record of the form again (found by a probe)."""
    assert publish(api, field("a"), field("b")).status_code == 201
    without = submission("thu_nghiem", {"a": "x"}, version=1)
    holding = submission("thu_nghiem", {"a": "y", "b": "z"}, version=1)
    api.push("officer", [without, holding])
    page = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    before = {r["record_id"]: r for r in page["records"]}
    assert publish(api, field("a"), field("c", previous_names=["b"])).status_code == 201
    after = api.client.get(
        f"/api/v1/records?since={page['next']}", headers=api.auth("supervisor")
    ).json()
    assert [r["record_id"] for r in after["records"]] == [holding["id"]]
    assert after["records"][0]["data"] == {"a": "y", "c": "z"}
    kept = record(api, without["id"])
    assert kept["form_version"] == 2  # derived under the new names (none of them its own)
    assert kept["updated_at"] == before[without["id"]]["updated_at"]
    assert kept["data"] == {"a": "x"}


def test_an_edit_made_between_a_removal_and_a_renamed_return_is_taken_and_replays(
    api: Api,
) -> None:
    """v1 `g{ho_ten, tuoi}`; v2 removes `tuoi`; an officer's v2 edit sends the group item back
    with its `tuoi`. v3 brings `tuoi` back as `tuoi_moi`. That edit sent again (its answer
    lost) was `rejected` (unknown_field), and another v2 edit saved offline before v3 too,
    for ever (found by a probe): now `duplicate` and `accepted`, kept under the new name."""
    group = field("g", "repeat", fields=[field("ho_ten"), field("tuoi", "integer")])
    assert publish(api, group).status_code == 201
    assert publish(api, field("g", "repeat", fields=[field("ho_ten")])).status_code == 201
    first = submission("thu_nghiem", {"g": [{"ho_ten": "A", "tuoi": 30}]}, version=1)
    e1 = submission(
        "thu_nghiem",
        {"g": [{"ho_ten": "A2", "tuoi": 30}]},
        version=2,
        record_id=first["id"],
        parents=[first["id"]],
    )
    assert [r["status"] for r in api.push("officer", [first, e1])] == ["accepted", "accepted"]
    back = field("tuoi_moi", "integer", max=20, previous_names=["tuoi"])
    assert publish(api, field("g", "repeat", fields=[field("ho_ten"), back])).status_code == 201
    assert [r["status"] for r in api.push("officer", [e1])] == ["duplicate"]
    e2 = submission(
        "thu_nghiem",
        {"g": [{"ho_ten": "A3", "tuoi": 30}]},  # above v3's max: not v2's rule
        version=2,
        record_id=first["id"],
        parents=[e1["id"]],
    )
    assert [r["status"] for r in api.push("officer", [e2])] == ["accepted"]
    assert record(api, first["id"])["data"] == {"g": [{"ho_ten": "A3", "tuoi_moi": 30}]}


def test_the_latest_version_refuses_a_removed_fields_older_name(api: Api) -> None:
    """v1 `a`; v2 renames it `b`; v3 removes it. Two v3 edits, `{a: 7}` and `{b: 8}`, were
    both accepted and stored as two fields, with no conflict, and the export showed only 8
    (found by a regression probe): the latest version's data is stored as it comes."""
    assert publish(api, field("ten"), field("a", "integer")).status_code == 201
    b = field("b", "integer", previous_names=["a"])
    assert publish(api, field("ten"), b).status_code == 201
    assert publish(api, field("ten")).status_code == 201
    first = submission("thu_nghiem", {"ten": "x", "b": 1}, version=2)
    old_name = submission(
        "thu_nghiem", {"a": 7}, version=3, record_id=first["id"], parents=[first["id"]]
    )
    new_name = submission(
        "thu_nghiem", {"b": 8}, version=3, record_id=first["id"], parents=[first["id"]]
    )
    results = api.push("officer", [first, old_name, new_name])
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert [(e["path"], e["code"]) for e in results[1]["errors"]] == [
        ("submissions[1].data.a", "unknown_field")
    ]
    assert record(api, first["id"])["data"] == {"ten": "x", "b": 8}
