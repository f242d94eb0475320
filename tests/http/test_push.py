"""POST /sync/push over HTTP: every status and rejection reason, independent items, replays,
gzip and MessagePack, pending children, older form versions, NFC, clock skew, area rules."""

from __future__ import annotations

import gzip
import json
import random
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from server.item import content_hash
from server.protocol import MAX_REREAD
from tests.support import assert_problem, hoa_giai, latest_version, submission, uuid7

PUSH = "/api/v1/sync/push"

HOA_GIAI = latest_version("hoa_giai")  # the shipped forms' latest, as phones push


def case(seed: int = 0, **overrides: Any) -> dict[str, Any]:
    """A new mediation case (hoa_giai, its latest version)."""
    return submission("hoa_giai", hoa_giai(random.Random(seed)), version=HOA_GIAI, **overrides)


def edit(parent: dict[str, Any], data: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """An edit of `parent`'s record, made on a device that had `parent` as the head."""
    rid = parent["record_id"] or parent["id"]
    return submission(
        "hoa_giai", data, version=HOA_GIAI, record_id=rid, parents=[parent["id"]], **overrides
    )


def record(api: Any, record_id: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/records/{record_id}", headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in results]


def reasons(result: dict[str, Any]) -> tuple[str, set[tuple[str, str]]]:
    assert result["status"] == "rejected"
    assert all(" / " in e["message"] for e in result["errors"]), result  # Vietnamese / English
    return result["reason"], {(e["path"], e["code"]) for e in result["errors"]}


# --- every status ----------------------------------------------------------------------


def test_accepted_creates_a_record_in_the_officers_area(api: Any) -> None:
    item = case()
    (result,) = api.push("officer", [item])
    assert result == {"id": item["id"], "status": "accepted", "record_id": item["id"]}
    rec = record(api, item["id"])
    assert rec["area"] == "01.00070"
    assert rec["form_id"] == "hoa_giai"
    assert rec["data"] == item["data"]
    assert rec["heads"] == [item["id"]]
    assert rec["conflicts"] == []


def test_response_has_server_time(api: Any) -> None:
    r = api.client.post(
        PUSH, json={"device_id": "phone-1", "submissions": [case()]}, headers=api.auth("officer")
    )
    assert datetime.fromisoformat(r.json()["server_time"]).tzinfo is not None


def test_duplicate(api: Any) -> None:
    item = case()
    api.push("officer", [item])
    (result,) = api.push("officer", [item])
    assert result == {"id": item["id"], "status": "duplicate", "record_id": item["id"]}


def test_duplicate_within_one_batch(api: Any) -> None:
    item = case()
    assert statuses(api.push("officer", [item, item])) == ["accepted", "duplicate"]


def test_conflict_lists_the_fields_and_every_value(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    mine = edit(root, {"trang_thai": "hoa_giai_thanh", "ket_qua": "Hai bên thỏa thuận."})
    theirs = edit(root, {"trang_thai": "hoa_giai_khong_thanh", "so_buoi_hoa_giai": 3})
    assert statuses(api.push("officer", [mine], device_id="phone-1")) == ["accepted"]
    (result,) = api.push("officer2", [theirs], device_id="phone-2")
    assert result["status"] == "conflict"
    assert result["conflicts"] == ["trang_thai"]
    rec = record(api, root["id"])
    assert sorted(rec["heads"]) == sorted([mine["id"], theirs["id"]])
    assert rec["data"]["ket_qua"] == "Hai bên thỏa thuận."  # different fields merge
    assert rec["data"]["so_buoi_hoa_giai"] == 3
    (conflict,) = rec["conflicts"]
    assert conflict["field"] == "trang_thai"
    assert {(v["value"], v["submission_id"], v["device_id"]) for v in conflict["values"]} == {
        ("hoa_giai_thanh", mine["id"], "phone-1"),
        ("hoa_giai_khong_thanh", theirs["id"], "phone-2"),
    }


def test_a_duplicate_says_which_fields_of_its_record_are_in_conflict(api: Any) -> None:
    """An item sent again because the answer `conflict` was lost gets `duplicate`, with the
    record's fields in conflict now (else the phone showed the field as settled)."""
    root = case()
    api.push("officer", [root])
    mine = edit(root, {"trang_thai": "hoa_giai_thanh"})
    theirs = edit(root, {"trang_thai": "hoa_giai_khong_thanh"})
    api.push("officer", [mine], device_id="phone-1")
    (first,) = api.push("officer2", [theirs], device_id="phone-2")
    assert first["conflicts"] == ["trang_thai"]
    (again,) = api.push("officer2", [theirs], device_id="phone-2")
    assert again == {**first, "status": "duplicate"}
    # in one batch with an edit that settles it: the state after the batch
    settle = submission(
        "hoa_giai",
        {"trang_thai": "dang_hoa_giai"},  # neither value: a write, whichever is provisional
        version=HOA_GIAI,
        record_id=root["id"],
        parents=[mine["id"], theirs["id"]],
    )
    results = api.push("officer", [mine, settle], device_id="phone-1")
    assert results[0] == {"id": mine["id"], "status": "duplicate", "record_id": root["id"]}
    assert statuses(results) == ["duplicate", "accepted"]


@pytest.mark.parametrize("who", ["other_officer", "other_supervisor"])
def test_a_duplicate_tells_a_user_of_another_area_nothing_of_the_record_now(
    api: Any, who: str
) -> None:
    """The same item from a user outside the record's area (a phone handed to an officer of
    another commune, its outbox kept) is still `duplicate`: it is stored, the phone may drop
    it. But what the record holds now, its fields in conflict, is not told outside its area
    (README: "that an id exists is told, never what it holds")."""
    root = case()
    api.push("officer", [root])
    mine = edit(root, {"trang_thai": "hoa_giai_thanh"})
    theirs = edit(root, {"trang_thai": "hoa_giai_khong_thanh"})
    api.push("officer", [mine], device_id="phone-1")
    assert api.push("officer2", [theirs], device_id="phone-2")[0]["conflicts"] == ["trang_thai"]
    for item in (mine, theirs):
        (outside,) = api.push(who, [item], device_id="phone-1")
        assert outside == {"id": item["id"], "status": "duplicate", "record_id": root["id"]}
    (inside,) = api.push("supervisor", [mine], device_id="phone-1")
    assert inside["conflicts"] == ["trang_thai"]


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        ("2025-06-01T09:00:00.0000009Z", "2025-06-01T09:00:00.0000001Z"),  # past microseconds
        ("2025-06-01T16:00:00.000001+07:00", "2025-06-01T09:00:00Z"),  # another offset
        ("9000-01-01T00:00:00.000009Z", "9000-01-01T00:00:00.000001Z"),  # where floats blur
    ],
)
def test_the_provisional_value_is_the_later_capture_to_the_last_digit(
    api: Any, later: str, earlier: str
) -> None:
    """The greatest (captured_at, id) wins, compared as exact instants: the later capture
    wins even when its id sorts first."""
    root = case()
    api.push("officer", [root])
    first = edit(root, {"ket_qua": "sau"}, captured_at=later, id="0" + uuid7()[1:])
    second = edit(root, {"ket_qua": "truoc"}, captured_at=earlier, id="f" + uuid7()[1:])
    api.push("officer", [first], device_id="phone-1")
    assert api.push("officer2", [second], device_id="phone-2")[0]["status"] == "conflict"
    assert record(api, root["id"])["data"]["ket_qua"] == "sau"


def test_edits_of_different_fields_on_two_phones_do_not_conflict(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    a = edit(root, {"ket_qua": "Đã gặp hai bên."})
    b = edit(root, {"so_buoi_hoa_giai": 2})
    assert statuses(api.push("officer", [a], device_id="phone-1")) == ["accepted"]
    assert statuses(api.push("officer2", [b], device_id="phone-2")) == ["accepted"]
    rec = record(api, root["id"])
    assert rec["conflicts"] == []
    assert rec["data"]["ket_qua"] == "Đã gặp hai bên."
    assert rec["data"]["so_buoi_hoa_giai"] == 2


def test_a_group_written_with_nulls_or_without_them_is_one_value(api: Any) -> None:
    """One phone leaves a party's empty year out, another wrote it as null: the same parties,
    so the other phone's real change of them wins with no conflict."""
    data = hoa_giai(random.Random(4))
    data["cac_ben"] = [
        {"ho_ten": "Nguyễn Văn A", "vai_tro": "ben_yeu_cau", "nam_sinh": None},
        {"ho_ten": "Trần Thị B", "vai_tro": "ben_con_lai", "nam_sinh": None},
    ]
    root = submission("hoa_giai", data, version=HOA_GIAI)
    api.push("officer", [root])
    same = [{k: v for k, v in p.items() if v is not None} for p in data["cac_ben"]]
    a = edit(root, {"trang_thai": "dang_hoa_giai", "cac_ben": same})
    renamed = [same[0], {**same[1], "ho_ten": "Trần Thị B2"}]
    b = edit(root, {"cac_ben": renamed})
    api.push("officer", [a], device_id="phone-1")
    (result,) = api.push("officer2", [b], device_id="phone-2")
    assert result["status"] == "accepted", result
    rec = record(api, root["id"])
    assert rec["conflicts"] == []
    assert rec["data"]["cac_ben"] == renamed
    assert rec["data"]["trang_thai"] == "dang_hoa_giai"


def test_pending_child_then_parent_merges_both(api: Any) -> None:
    root = case()
    child = edit(root, {"trang_thai": "hoa_giai_thanh"})
    grandchild = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 4},
        version=HOA_GIAI,
        record_id=root["id"],
        parents=[child["id"]],
    )
    assert statuses(api.push("officer", [grandchild])) == ["pending"]
    assert statuses(api.push("officer", [child])) == ["pending"]
    r = api.client.get(f"/api/v1/records/{root['id']}", headers=api.auth("supervisor"))
    assert r.status_code == 404  # no record until its first submission arrives
    assert statuses(api.push("officer", [root])) == ["accepted"]
    rec = record(api, root["id"])
    assert rec["heads"] == [grandchild["id"]]
    assert rec["data"]["trang_thai"] == "hoa_giai_thanh"
    assert rec["data"]["so_buoi_hoa_giai"] == 4
    assert {s["id"]: s["status"] for s in rec["submissions"]} == {
        root["id"]: "merged",
        child["id"]: "merged",
        grandchild["id"]: "merged",
    }


def test_pending_edit_of_an_existing_record_is_marked_pending(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    lost = edit(root, {"so_buoi_hoa_giai": 1})
    late = submission(
        "hoa_giai",
        {"so_buoi_hoa_giai": 2},
        version=HOA_GIAI,
        record_id=root["id"],
        parents=[lost["id"]],
    )
    assert statuses(api.push("officer", [late])) == ["pending"]
    rec = record(api, root["id"])
    assert rec["heads"] == [root["id"]]
    assert {s["id"]: s["status"] for s in rec["submissions"]} == {
        root["id"]: "merged",
        late["id"]: "pending",
    }
    assert statuses(api.push("officer", [lost])) == ["accepted"]
    rec = record(api, root["id"])
    assert rec["heads"] == [late["id"]]
    assert rec["data"]["so_buoi_hoa_giai"] == 2


def on(root: dict[str, Any], parent_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An edit of root's record whose parent is `parent_id` (sent before or after it)."""
    return submission("hoa_giai", data, version=HOA_GIAI, record_id=root["id"], parents=[parent_id])


def test_edits_that_name_each_other_as_parent_are_a_cycle_not_pending(api: Any) -> None:
    """Pending means a parent has not come yet; an edit whose parent descends from it can
    never merge, so the one that would close the cycle is refused (`cycle`), in one batch or
    over several, and a replay changes nothing."""
    root = case()
    api.push("officer", [root])
    a, b = uuid7(), uuid7()
    results = api.push(
        "officer",
        [{**on(root, b, {"so_buoi_hoa_giai": 1}), "id": a}, {**on(root, a, {}), "id": b}],
    )
    assert statuses(results) == ["pending", "rejected"]
    assert reasons(results[1]) == ("invalid", {("submissions[1].parents", "cycle")})
    itself = uuid7()  # the shortest cycle: its own parent
    (result,) = api.push("officer", [{**on(root, itself, {}), "id": itself}])
    assert reasons(result) == ("invalid", {("submissions[0].parents", "cycle")})
    c, d, e = uuid7(), uuid7(), uuid7()
    items = [
        {**on(root, parent, {"so_buoi_hoa_giai": n}), "id": sid}
        for sid, parent, n in ((c, d, 3), (d, e, 4), (e, c, 5))
    ]
    assert statuses(api.push("officer", [items[0]])) == ["pending"]
    assert statuses(api.push("officer", [items[1]])) == ["pending"]
    for _ in range(2):  # and again, as a phone retrying would
        (result,) = api.push("officer", [items[2]])
        assert reasons(result) == ("invalid", {("submissions[0].parents", "cycle")})
    rec = record(api, root["id"])
    assert rec["heads"] == [root["id"]] and rec["data"] == root["data"]
    assert e not in {s["id"] for s in rec["submissions"]}
    # the record takes edits of its heads as before, late parents too
    lost_id = uuid7()
    late = on(root, lost_id, {"so_buoi_hoa_giai": 6})
    lost = {**on(root, root["id"], {"so_buoi_hoa_giai": 7}), "id": lost_id}
    assert statuses(api.push("officer", [late, lost])) == ["accepted", "accepted"]
    assert record(api, root["id"])["data"]["so_buoi_hoa_giai"] == 6


# --- every rejection reason ------------------------------------------------------------


def test_rejected_unknown_form(api: Any) -> None:
    (result,) = api.push("officer", [submission("khong_co", {}, version=1)])
    assert reasons(result) == ("unknown_form", {("submissions[0].form_id", "unknown_form")})


@pytest.mark.parametrize("version", [0, HOA_GIAI + 1, -1, 2**40])
def test_rejected_unknown_version(api: Any, version: int) -> None:
    (result,) = api.push("officer", [case(form_version=version)])
    assert reasons(result) == (
        "unknown_version",
        {("submissions[0].form_version", "unknown_version")},
    )


def test_rejected_invalid_with_paths_into_nested_repeats(api: Any) -> None:
    data = hoa_giai(random.Random(1))
    data["cac_ben"][1]["nam_sinh"] = 1800
    data["cac_ben"][1]["so_dien_thoai"] = "12345"
    data["cac_ben"][0]["biet_danh"] = "Tí"
    data["so_buoi_hoa_giai"] = "hai"
    del data["loai_vu_viec"]
    items = [case(), submission("hoa_giai", data, version=HOA_GIAI)]
    good, bad = api.push("officer", items)
    assert good["status"] == "accepted"
    assert reasons(bad) == (
        "invalid",
        {
            ("submissions[1].data.cac_ben[1].nam_sinh", "min"),
            ("submissions[1].data.cac_ben[1].so_dien_thoai", "pattern"),
            ("submissions[1].data.cac_ben[0].biet_danh", "unknown_field"),
            ("submissions[1].data.so_buoi_hoa_giai", "type"),
            ("submissions[1].data.loai_vu_viec", "required"),
        },
    )


def test_rejected_invalid_repeat_too_short(api: Any) -> None:
    data = hoa_giai(random.Random(2))
    data["cac_ben"] = data["cac_ben"][:1]
    (result,) = api.push("officer", [submission("hoa_giai", data, version=HOA_GIAI)])
    assert reasons(result) == ("invalid", {("submissions[0].data.cac_ben", "min_items")})


def test_rejected_invalid_edit_clearing_a_required_field(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    (result,) = api.push("officer", [edit(root, {"trang_thai": None})])
    assert reasons(result) == ("invalid", {("submissions[0].data.trang_thai", "required")})


def test_rejected_id_reused(api: Any) -> None:
    item = case()
    api.push("officer", [item])
    changed = {**item, "data": {**item["data"], "trang_thai": "hoa_giai_thanh"}}
    (result,) = api.push("officer", [changed])
    assert reasons(result) == ("id_reused", {("submissions[0].id", "id_reused")})
    assert record(api, item["id"])["data"] == item["data"]


def test_rejected_forbidden_edit_of_another_communes_record(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    (result,) = api.push("other_officer", [edit(root, {"trang_thai": "hoa_giai_thanh"})])
    assert reasons(result) == ("forbidden", {("submissions[0].record_id", "forbidden")})
    assert record(api, root["id"])["revision"] == 1
    # named with another form, it is still only forbidden: nothing said of the record's form
    guess = submission(
        "mo_hinh", {"so_thanh_vien": 3}, version=1, record_id=root["id"], parents=[root["id"]]
    )
    (result,) = api.push("other_officer", [guess])
    assert reasons(result) == ("forbidden", {("submissions[0].record_id", "forbidden")})
    assert "hoa_giai" not in str(result)


def test_rejected_parent_of_another_record(api: Any) -> None:
    a, b = case(1), case(2)
    api.push("officer", [a, b])
    wrong = submission("hoa_giai", {"so_buoi_hoa_giai": 1}, version=HOA_GIAI, record_id=a["id"])
    wrong["parents"] = [b["id"]]
    (result,) = api.push("officer", [wrong])
    assert reasons(result) == ("invalid", {("submissions[0].parents", "other_record")})


def test_rejected_edit_with_another_form(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    other = submission(
        "nam_tinh_hinh", {"giau_ten": True}, version=1, record_id=root["id"], parents=[root["id"]]
    )
    (result,) = api.push("officer", [other])
    assert reasons(result) == ("invalid", {("submissions[0].record_id", "form_mismatch")})


@pytest.mark.parametrize("order", ["stray, edit, root", "edit, stray, root", "stray, root+edit"])
def test_an_early_edit_of_another_form_never_decides_the_records_form(api: Any, order: str) -> None:
    """The root decides a record's form, whatever came first: an early edit naming the record
    under another form stays pending (never merged), and never costs the record's own root
    or edits, in any order or batching."""
    root = case()
    rid = root["id"]
    stray = submission("mo_hinh", {"ghi_chu": "x"}, version=1, record_id=rid, parents=[rid])
    mine = edit(root, {"ket_qua": "X"})
    items = {"stray": stray, "edit": mine, "root": root}
    got: dict[str, str] = {}
    for batch in order.split(", "):
        names = batch.split("+")
        for name, r in zip(names, api.push("officer", [items[n] for n in names]), strict=True):
            got[name] = r["status"]
    assert got["root"] == "accepted" and got["stray"] == "pending"
    assert got["edit"] in ("accepted", "pending")  # pending when it came before the root
    rec = record(api, rid)
    assert rec["form_id"] == "hoa_giai" and rec["data"]["ket_qua"] == "X"
    assert rec["heads"] == [mine["id"]] and rec["revision"] == 2
    status = {s["id"]: s["status"] for s in rec["submissions"]}
    assert status[stray["id"]] == "pending"


def test_a_rejected_item_fixed_and_resent_with_its_id_is_accepted(api: Any) -> None:
    item = case()
    broken = {**item, "data": {**item["data"], "so_buoi_hoa_giai": 1000}}
    assert statuses(api.push("officer", [broken])) == ["rejected"]
    assert statuses(api.push("officer", [item])) == ["accepted"]


# --- items are independent -------------------------------------------------------------


def test_a_bad_item_between_good_ones_stops_nothing(api: Any) -> None:
    first, last = case(1), case(2)
    bad = submission("khong_co", {"x": 1}, version=1)
    invalid = case(4)
    invalid["data"]["loai_vu_viec"] = "khong_co_lua_chon"
    results = api.push("officer", [first, bad, invalid, last])
    assert statuses(results) == ["accepted", "rejected", "rejected", "accepted"]
    assert [r["id"] for r in results] == [first["id"], bad["id"], invalid["id"], last["id"]]
    assert results[2]["errors"][0]["path"] == "submissions[2].data.loai_vu_viec"
    record(api, first["id"])
    record(api, last["id"])


@pytest.mark.parametrize(
    ("item", "path", "code"),
    [
        (5, "submissions[1]", "type"),
        ("text", "submissions[1]", "type"),
        (None, "submissions[1]", "type"),
        ([], "submissions[1]", "type"),
        ({}, "submissions[1].id", "required"),
        ({"id": "x"}, "submissions[1].form_id", "required"),
        ("form_id", "submissions[1].form_id", "type"),
        ("form_version", "submissions[1].form_version", "type"),
        ("data", "submissions[1].data", "type"),
        ("parents", "submissions[1].parents", "type"),
        ("extra", "submissions[1].extra", "unknown_field"),
        # a key that is not a plain name is quoted, as in `data`: the path reads as that key
        ("extra_dotted", 'submissions[1]["ghi.chu x"]', "unknown_field"),
        ("extra_empty", 'submissions[1][""]', "unknown_field"),
        ("bad_id", "submissions[1].id", "format"),
        ("bad_record_id", "submissions[1].record_id", "format"),
        ("bad_parent", "submissions[1].parents[0]", "format"),
        ("bad_time", "submissions[1].captured_at", "format"),
        ("new_with_parents", "submissions[1].parents", "invalid"),
        ("edit_without_parents", "submissions[1].parents", "required"),
        ("unknown_resolves", "submissions[1].resolves[0]", "unknown_field"),
    ],
)
def test_a_malformed_item_is_rejected_alone_with_a_path(
    api: Any, item: Any, path: str, code: str
) -> None:
    good = case(1)
    broken: dict[str, Any] = case(2)
    changes: dict[str, Any] = {
        "form_id": {"form_id": ["hoa_giai"]},
        "form_version": {"form_version": "2"},
        "data": {"data": [1, 2]},
        "parents": {"parents": "none"},
        "extra": {"extra": 1},
        "extra_dotted": {"ghi.chu x": 1},
        "extra_empty": {"": 1},
        "bad_id": {"id": "not-a-uuid"},
        "bad_record_id": {"record_id": "not-a-uuid", "parents": [uuid7()]},
        "bad_parent": {"record_id": uuid7(), "parents": ["x"]},
        "bad_time": {"captured_at": "yesterday"},
        "new_with_parents": {"parents": [uuid7()]},
        "edit_without_parents": {"record_id": uuid7()},
        "unknown_resolves": {"resolves": ["khong_co"]},
    }
    if isinstance(item, str) and item in changes:
        broken.update(changes[item])
        item = broken
    results = api.push("officer", [good, item, case(3)])
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert (path, code) in {(e["path"], e["code"]) for e in results[1]["errors"]}
    assert results[1]["reason"] == "invalid"


def test_every_result_names_its_record_rejected_ones_too(api: Any) -> None:
    """PROTOCOL: each result is {"id", "status", "record_id", ...}: a rejected item names the
    record it would have made or edited (null only when the item names none at all)."""
    unknown_form = submission("khong_co", {"x": 1}, version=1)
    invalid = case(4)
    invalid["data"]["loai_vu_viec"] = "khong_co_lua_chon"
    not_a_uuid = case(5, record_id="not-a-uuid", parents=[uuid7()])
    no_form = {"id": uuid7(), "form_id": 5}
    results = api.push("officer", [unknown_form, invalid, not_a_uuid, no_form, 7])
    assert statuses(results) == ["rejected"] * 5
    assert [r["record_id"] for r in results] == [
        unknown_form["id"],  # a new record: its own id
        invalid["id"],
        "not-a-uuid",  # as sent, with the error on it
        no_form["id"],  # no record_id given: a new record's
        None,  # not an object: nothing to name, but the key is there
    ]
    root = case(6)
    api.push("officer", [root])
    (refused,) = api.push("other_officer", [edit(root, {"trang_thai": "hoa_giai_thanh"})])
    assert (refused["status"], refused["reason"]) == ("rejected", "forbidden")
    assert refused["record_id"] == root["id"]


def test_an_empty_batch_is_fine(api: Any) -> None:
    assert api.push("officer", []) == []


def test_a_batch_of_exactly_1000_items_is_taken(api: Any) -> None:
    rng = random.Random(5)
    items = [
        submission(
            "nam_tinh_hinh",
            {
                "thoi_gian_tiep_nhan": "2026-03-01T21:15:00+07:00",
                "loai_vu_viec": "danh_nhau_gay_roi",
                "muc_do": rng.choice(["thap", "trung_binh", "cao"]),
                "noi_dung": "Nhóm thanh niên tụ tập gây ồn ào.",
                "nguon_tin": "nguoi_dan_truc_tiep",
            },
            version=1,
        )
        for _ in range(1000)
    ]
    results = api.push("officer", items)
    assert statuses(results) == ["accepted"] * 1000
    assert [r["id"] for r in results] == [i["id"] for i in items]


# --- replays change nothing ------------------------------------------------------------


def pull_all(api: Any, since: str | None = None) -> tuple[list[dict[str, Any]], str]:
    params = {"since": since} if since else {}
    r = api.client.get("/api/v1/records", params=params, headers=api.auth("supervisor"))
    body = r.json()
    return body["records"], body["next"]


def test_replaying_a_batch_returns_duplicates_and_changes_nothing(api: Any) -> None:
    root = case(1)
    api.push("officer", [root])
    bad = case(5)
    bad["data"]["so_buoi_hoa_giai"] = -1
    batch = [case(2), edit(root, {"trang_thai": "hoa_giai_thanh"}), bad, case(3)]
    first = api.push("officer", batch)
    assert statuses(first) == ["accepted", "accepted", "rejected", "accepted"]
    records, cursor = pull_all(api)
    before = {r["record_id"]: r for r in records}
    audit = api.client.get("/api/v1/audit", headers=api.auth("admin")).json()["entries"]

    again = api.push("officer", batch)
    assert statuses(again) == ["duplicate", "duplicate", "rejected", "duplicate"]
    assert [r["record_id"] for r in again if r["status"] == "duplicate"] == [
        r["record_id"] for r in first if r["status"] == "accepted"
    ]
    assert pull_all(api, cursor)[0] == []  # no record changed: the change cursor did not move
    assert {r["record_id"]: r for r in pull_all(api)[0]} == before
    assert record(api, root["id"])["revision"] == 2
    after = api.client.get("/api/v1/audit", headers=api.auth("admin")).json()["entries"]
    assert after[: len(audit)] == audit
    assert [e["action"] for e in after[len(audit) :]] == ["sync.push"]


def test_replay_with_uppercase_ids_is_a_duplicate(api: Any) -> None:
    item = case()
    api.push("officer", [item])
    upper = {**item, "id": item["id"].upper()}
    assert api.push("officer", [upper])[0] == {
        "id": item["id"],
        "status": "duplicate",
        "record_id": item["id"],
    }


@pytest.mark.parametrize(
    "spoil",
    [{"extra": 1}, {"form_id": 5}, {"data": 5}, {"data": {"trang_thai": "zz"}}],
    ids=["unknown-key", "wrong-type", "data-not-object", "bad-choice"],
)
def test_a_rejected_items_ids_come_back_lowercase_whatever_is_wrong(
    api: Any, spoil: dict[str, Any]
) -> None:
    """A client matches results to its outbox by the canonical id: an item that failed its
    shape echoed its ids as sent, one that failed its content lowercase (found by a probe)."""
    item = {**case(), **spoil, "id": case()["id"].upper()}
    item["record_id"] = item["id"]
    [result] = api.push("officer", [item])
    assert result["status"] == "rejected"
    assert (result["id"], result["record_id"]) == (item["id"].lower(), item["id"].lower())


# --- encodings -------------------------------------------------------------------------


def test_gzip_body(api: Any) -> None:
    items = [case(i) for i in range(20)]
    body = gzip.compress(json.dumps({"device_id": "phone-1", "submissions": items}).encode())
    r = api.client.post(
        PUSH,
        content=body,
        headers={
            **api.auth("officer"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert r.status_code == 200
    assert statuses(r.json()["results"]) == ["accepted"] * 20


def test_gzip_response_when_asked(api: Any) -> None:
    items = [case(i) for i in range(20)]
    r = api.client.post(
        PUSH,
        json={"device_id": "phone-1", "submissions": items},
        headers={**api.auth("officer"), "Accept-Encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert statuses(r.json()["results"]) == ["accepted"] * 20


def test_json_with_a_charset_parameter(api: Any) -> None:
    body = json.dumps({"device_id": "phone-1", "submissions": [case()]}).encode()
    r = api.client.post(
        PUSH,
        content=body,
        headers={**api.auth("officer"), "Content-Type": "application/json; charset=utf-8"},
    )
    assert statuses(r.json()["results"]) == ["accepted"]


def test_msgpack_body_and_msgpack_response(api: Any) -> None:
    root = case(1)
    bad = case(2)
    bad["data"]["cac_ben"][0]["nam_sinh"] = 3000
    body = msgspec.msgpack.encode({"device_id": "phone-1", "submissions": [root, bad]})
    r = api.client.post(
        PUSH,
        content=body,
        headers={
            **api.auth("officer"),
            "Content-Type": "application/msgpack",
            "Accept": "application/msgpack",
        },
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/msgpack")
    results = msgspec.msgpack.decode(r.content)["results"]
    assert statuses(results) == ["accepted", "rejected"]
    assert results[1]["errors"][0]["path"] == "submissions[1].data.cac_ben[0].nam_sinh"
    assert record(api, root["id"])["data"] == root["data"]
    # the same item sent as JSON is the same content
    assert statuses(api.push("officer", [root])) == ["duplicate"]


def test_a_whole_number_sent_again_as_a_double_is_the_same_content(api: Any) -> None:
    """A phone whose MessagePack library writes every number as a double sends the batch
    again after a lost response: `2.0` is the `2` stored, a duplicate, not `id_reused`."""
    root = case(3)
    root["data"]["so_buoi_hoa_giai"] = 2
    assert statuses(api.push("officer", [root])) == ["accepted"]
    again = {**root, "data": {**root["data"], "so_buoi_hoa_giai": 2.0}}
    body = msgspec.msgpack.encode({"device_id": "phone-1", "submissions": [again]})
    r = api.client.post(
        PUSH, content=body, headers={**api.auth("officer"), "Content-Type": "application/msgpack"}
    )
    assert r.status_code == 200
    assert statuses(r.json()["results"]) == ["duplicate"]
    assert record(api, root["id"])["data"]["so_buoi_hoa_giai"] == 2


def test_content_stored_by_an_older_canonical_form_sent_again_is_a_duplicate(api: Any) -> None:
    """A coso before whole numbers were kept as integers stored `2.0` and hashed it so; a
    phone whose acknowledgement was lost sends the batch again after the upgrade: the stored
    data, checked again, is this content, so the answer is `duplicate` (replays change
    nothing, PROTOCOL), not `id_reused` (which would make the phone send it under a new id)."""
    root = case(4)
    root["data"]["so_buoi_hoa_giai"] = 2.0
    assert statuses(api.push("officer", [root])) == ["accepted"]
    stored = {**root["data"], "so_buoi_hoa_giai": 2.0}
    old = msgspec.json.encode(stored)
    hashed = content_hash("hoa_giai", 2, root["id"], [], root["captured_at"], old, [])
    with api.store.write() as w:
        w.conn.execute(
            "UPDATE submissions SET data = ?, content_hash = ? WHERE id = ?",
            [old.decode(), hashed, root["id"]],
        )
    assert statuses(api.push("officer", [root])) == ["duplicate"]
    other = {**root, "data": {**root["data"], "so_buoi_hoa_giai": 3}}
    assert statuses(api.push("officer", [other])) == ["rejected"]  # still id_reused


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"device_id": "p", "submissions": []}', 400),  # JSON: `{` reads as 123, then junk
        (b"\xc1", 400),  # a byte MessagePack never uses
        (b"\x7b", 422),  # one whole MessagePack value (123), of the wrong type
    ],
)
def test_a_body_that_is_not_msgpack_is_400_not_422(api: Any, body: bytes, status: int) -> None:
    """PROTOCOL: a malformed body is 400, invalid content 422. JSON sent as MessagePack was
    422: its type was checked before the bytes left over were found."""
    headers = {**api.auth("officer"), "Content-Type": "application/msgpack"}
    problem = assert_problem(api.client.post(PUSH, content=body, headers=headers), status)
    assert problem["code"] == ("malformed_body" if status == 400 else "invalid")
    if body.startswith(b"{"):
        assert "send Content-Type: application/json" in problem["detail"]


def test_gzip_msgpack_body(api: Any) -> None:
    body = gzip.compress(msgspec.msgpack.encode({"device_id": "p", "submissions": [case()]}))
    r = api.client.post(
        PUSH,
        content=body,
        headers={
            **api.auth("officer"),
            "Content-Type": "application/msgpack",
            "Content-Encoding": "gzip",
        },
    )
    assert statuses(r.json()["results"]) == ["accepted"]


def test_a_malformed_msgpack_item_is_rejected_alone(api: Any) -> None:
    items = [case(1), {1: 2}, case(3)]
    r = api.client.post(
        PUSH,
        content=msgspec.msgpack.encode({"device_id": "p", "submissions": items}),
        headers={**api.auth("officer"), "Content-Type": "application/msgpack"},
    )
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert results[1]["errors"][0]["path"].startswith("submissions[1]")


def test_a_key_that_is_not_text_names_the_object_holding_it(api: Any) -> None:
    broken = case(2)
    broken["data"][7] = "x"
    body = msgspec.msgpack.encode({"device_id": "p", "submissions": [case(1), broken]})
    r = api.client.post(
        PUSH, content=body, headers={**api.auth("officer"), "Content-Type": "application/msgpack"}
    )
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected"]
    assert reasons(results[1]) == ("invalid", {("submissions[1].data", "type")})


def test_an_item_with_text_that_is_not_utf8_is_rejected_alone(api: Any) -> None:
    """MessagePack carries raw bytes: an item whose text is not UTF-8 is rejected with a
    path; the items around it are stored."""
    broken = case(2)
    broken["data"]["noi_dung_vu_viec"] = "QQQQ"
    body = msgspec.msgpack.encode({"device_id": "p", "submissions": [case(1), broken, case(3)]})
    body = body.replace(b"QQQQ", b"\xff\xfe\xfd\xfc")
    r = api.client.post(
        PUSH, content=body, headers={**api.auth("officer"), "Content-Type": "application/msgpack"}
    )
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert results[1]["id"] == broken["id"]
    assert reasons(results[1]) == ("invalid", {("submissions[1]", "malformed")})


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('"Ghi ch\\ud83d"', "submissions[1].data.ket_qua"),  # an emoji cut after its first half
        ('"\\ude00 ab"', "submissions[1].data.ket_qua"),  # a second half alone
        ('"ok", "\\ud83dkey": 1', "submissions[1].data"),  # in a key
    ],
)
def test_a_lone_surrogate_in_json_is_rejected_alone_with_its_path(
    api: Any, text: str, path: str
) -> None:
    """JavaScript's JSON.stringify writes text cut inside an emoji as a lone surrogate
    escape. msgspec refuses such a body as a whole; the item must be refused alone."""
    items = [case(1), case(2), case(3)]
    raw = [json.dumps(i) for i in items]
    raw[1] = raw[1][:-2] + ', "ket_qua": ' + text + "}}"  # after data's last key
    body = '{"device_id": "p", "submissions": [' + ", ".join(raw) + "]}"
    r = api.client.post(
        PUSH,
        content=body.encode(),
        headers={**api.auth("officer"), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert results[1]["id"] == items[1]["id"]
    assert reasons(results[1]) == ("invalid", {(path, "malformed")})
    assert record(api, items[2]["id"])["data"] == items[2]["data"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_nan_literal_in_one_item_costs_nothing_else(api: Any, literal: str) -> None:
    """Python's json.dumps writes float('nan') as NaN, which is not JSON: that item is refused
    alone, by its id, with the path of the value, so that the client can tell which."""
    items = [case(1), case(2), case(3)]
    items[1]["data"]["cac_ben"][1]["nam_sinh"] = float(literal.lower().replace("infinity", "inf"))
    raw = [json.dumps(i) for i in items]
    assert literal in raw[1]
    body = '{"device_id": "p", "submissions": [' + ", ".join(raw) + "]}"
    r = api.client.post(
        PUSH,
        content=body.encode(),
        headers={**api.auth("officer"), "Content-Type": "application/json"},
    )
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert results[1]["id"] == items[1]["id"]
    assert reasons(results[1]) == (
        "invalid",
        {("submissions[1].data.cac_ben[1].nam_sinh", "malformed")},
    )


@pytest.mark.parametrize("bad", ["NaN", '"\\ud83d"', "[[[1]]]"])
@pytest.mark.parametrize("record_id", ["absent", "null"])
def test_a_new_record_refused_unread_is_named_by_its_id(api: Any, bad: str, record_id: str) -> None:
    """A new record's record_id is its id (PROTOCOL: absent or null): a client filing results
    by record_id found null for an item refused for a NaN or a lone surrogate."""
    item = case(1)
    item.pop("record_id", None)
    if record_id == "null":
        item["record_id"] = None
    item["data"]["noi_dung_vu_viec"] = "PLACEHOLDER"
    text = json.dumps(item).replace('"PLACEHOLDER"', bad)
    body = '{"device_id": "p", "submissions": [' + text + "]}"
    headers = {**api.auth("officer"), "Content-Type": "application/json"}
    (result,) = api.client.post(PUSH, content=body.encode(), headers=headers).json()["results"]
    assert result["status"] == "rejected"
    assert result["id"] == result["record_id"] == item["id"], result


@pytest.mark.parametrize("codec", ["json", "msgpack"])
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_an_item_nested_past_any_decoder_costs_nothing_else(
    api: Any, codec: str, depth: int
) -> None:
    """An item nested deeper than the decoders follow (Python's recursion limit, ~1,000) made
    the whole batch a 400: it is refused on its own, too_deep, and the others are stored."""
    first, deep, last = case(1), case(2), case(3)
    deep["data"]["noi_dung_vu_viec"] = "PLACEHOLDER"  # then an array nested `depth` deep
    envelope = {"device_id": "p", "submissions": [first, deep, last]}
    if codec == "json":
        nested = b"[" * depth + b"]" * depth
        body = json.dumps(envelope).encode().replace(b'"PLACEHOLDER"', nested)
    else:
        nested = b"\x91" * depth + b"\xc0"
        body = msgspec.msgpack.encode(envelope).replace(b"\xabPLACEHOLDER", nested)
    r = api.client.post(
        PUSH,
        content=body,
        headers={**api.auth("officer"), "Content-Type": f"application/{codec}"},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected", "accepted"]
    assert [(e["path"], e["code"]) for e in results[1]["errors"]] == [
        ("submissions[1]", "too_deep")
    ]
    record(api, first["id"])
    record(api, last["id"])


@pytest.mark.parametrize(
    "body",
    [
        '{"device_id": "\\ud83d", "submissions": []}',  # the envelope itself
        '{"device_id": "p", "submissions": [1,]}',  # not JSON for any parser
    ],
)
def test_a_batch_whose_envelope_is_bad_is_still_a_400(api: Any, body: str) -> None:
    r = api.client.post(
        PUSH,
        content=body.encode(),
        headers={**api.auth("officer"), "Content-Type": "application/json"},
    )
    assert assert_problem(r, 400)["code"] == "malformed_body"


@pytest.mark.parametrize("content_type", ["application/json", "application/msgpack"])
def test_a_body_that_is_not_utf8_is_a_400(api: Any, content_type: str) -> None:
    body = (
        b'{"device_id":"\xff\xfe","submissions":[]}'
        if content_type == "application/json"
        else b"\x82\xa9device_id\xa2\xff\xfe\xabsubmissions\x90"
    )
    r = api.client.post(
        PUSH, content=body, headers={**api.auth("officer"), "Content-Type": content_type}
    )
    assert assert_problem(r, 400)["code"] == "malformed_body"


def test_a_number_out_of_range_names_its_field(api: Any) -> None:
    good, broken = case(1), case(2)
    body = json.dumps({"device_id": "p", "submissions": [good, broken]})
    body = body.replace(
        f'"so_buoi_hoa_giai": {broken["data"]["so_buoi_hoa_giai"]}', '"so_buoi_hoa_giai": 1e400'
    )
    assert "1e400" in body
    r = api.client.post(PUSH, content=body, headers=api.auth("officer"))
    results = r.json()["results"]
    assert statuses(results) == ["accepted", "rejected"]
    # `range`, as for any number past what readers hold (README), 5,000 digits too
    assert reasons(results[1])[1] == {("submissions[1].data.so_buoi_hoa_giai", "range")}
    body = body.replace("1e400", "9" * 5000)
    results = api.client.post(PUSH, content=body, headers=api.auth("officer")).json()["results"]
    assert reasons(results[1])[1] == {("submissions[1].data.so_buoi_hoa_giai", "range")}


def test_a_missing_envelope_field_is_named(api: Any) -> None:
    r = api.client.post(PUSH, json={"submissions": []}, headers=api.auth("officer"))
    assert [e["path"] for e in assert_problem(r, 422)["errors"]] == ["device_id"]


def test_answers_vary_by_accept(api: Any) -> None:
    r = api.client.post(
        PUSH, json={"device_id": "p", "submissions": []}, headers=api.auth("officer")
    )
    assert "accept" in r.headers["vary"].lower()


# --- form versions, text, clocks -------------------------------------------------------


def test_older_version_data_maps_to_the_latest_names(api: Any) -> None:
    data = hoa_giai(random.Random(7))
    data["tom_tat"] = data.pop("noi_dung_vu_viec")
    del data["so_buoi_hoa_giai"]  # v1 lacks no field of these, but an old phone may skip it
    item = submission("hoa_giai", data, version=1)
    assert statuses(api.push("officer", [item])) == ["accepted"]
    rec = record(api, item["id"])
    assert rec["data"]["noi_dung_vu_viec"] == data["tom_tat"]
    assert "tom_tat" not in rec["data"]
    assert rec["form_version"] == HOA_GIAI


def test_v1_edit_of_a_v2_record_writes_the_renamed_field(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    old_phone = submission(
        "hoa_giai",
        {"tom_tat": "Nội dung cập nhật từ máy cũ."},
        version=1,
        record_id=root["id"],
        parents=[root["id"]],
    )
    assert statuses(api.push("officer", [old_phone])) == ["accepted"]
    assert record(api, root["id"])["data"]["noi_dung_vu_viec"] == "Nội dung cập nhật từ máy cũ."


def test_v2_name_in_v1_data_is_unknown(api: Any) -> None:
    item = submission("hoa_giai", hoa_giai(random.Random(8)), version=1)
    (result,) = api.push("officer", [item])
    assert ("submissions[0].data.noi_dung_vu_viec", "unknown_field") in reasons(result)[1]


def nfd(value: Any) -> Any:
    return msgspec.json.decode(unicodedata.normalize("NFD", msgspec.json.encode(value).decode()))


def test_nfd_input_is_stored_nfc(api: Any) -> None:
    item = case()
    sent = nfd(item)
    assert sent["data"]["cac_ben"][0]["ho_ten"] != item["data"]["cac_ben"][0]["ho_ten"]
    api.push("officer", [sent])
    rec = record(api, item["id"])
    assert rec["data"] == item["data"]
    assert rec["submissions"][0]["data"] == item["data"]
    text = msgspec.json.encode(rec).decode()
    assert unicodedata.is_normalized("NFC", text)


def test_nfd_replay_of_an_nfc_item_is_a_duplicate(api: Any) -> None:
    item = case()
    api.push("officer", [item])
    assert statuses(api.push("officer", [nfd(item)])) == ["duplicate"]


def test_clock_skew_flag_for_captured_at_two_days_ahead(api: Any) -> None:
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="seconds")
    skewed, fine = case(1, captured_at=ahead), case(2)
    assert statuses(api.push("officer", [skewed, fine])) == ["accepted", "accepted"]
    assert "clock_skew" in record(api, skewed["id"])["flags"]
    assert "clock_skew" not in record(api, fine["id"])["flags"]


def test_clock_a_few_hours_ahead_is_not_skew(api: Any) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=20)).isoformat(timespec="seconds")
    item = case(captured_at=ahead)
    api.push("officer", [item])
    assert record(api, item["id"])["flags"] == []


# --- area rules ------------------------------------------------------------------------


def test_officer_of_the_same_commune_edits(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    assert statuses(api.push("officer2", [edit(root, {"so_buoi_hoa_giai": 5})])) == ["accepted"]
    assert record(api, root["id"])["data"]["so_buoi_hoa_giai"] == 5


def test_officer_of_another_commune_is_forbidden_and_the_rest_goes_through(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    own = case(9)
    results = api.push("other_officer", [edit(root, {"so_buoi_hoa_giai": 5}), own])
    assert statuses(results) == ["rejected", "accepted"]
    assert results[0]["reason"] == "forbidden"
    assert record(api, own["id"])["area"] == "01.00004"


@pytest.mark.parametrize("above", ["01", "01.00070"])
def test_an_officer_of_an_area_above_the_records_is_forbidden(api: Any, above: str) -> None:
    """Officers are bound to one area (PROTOCOL, Auth), supervisors see theirs and all below:
    an officer of the province, or of the commune above a village's officer, edits none of
    the records below, and one of its edits sent before the record never merges into it."""
    api.tokens["below"] = api.user("below", "officer", f"{above}.tdp1")
    api.tokens["above"] = api.user("above", "officer", above)
    root = case()
    early = edit(root, {"so_buoi_hoa_giai": 8})
    assert statuses(api.push("above", [early])) == ["pending"]  # the record is not known yet
    api.push("below", [root])
    rec = record(api, root["id"])
    assert rec["heads"] == [root["id"]] and rec["data"]["so_buoi_hoa_giai"] != 8
    (result,) = api.push("above", [edit(root, {"so_buoi_hoa_giai": 9})])
    assert result["reason"] == "forbidden"
    assert record(api, root["id"])["heads"] == [root["id"]]
    # the same edit by a supervisor of that area goes through
    api.tokens["boss"] = api.user("boss", "supervisor", above)
    assert statuses(api.push("boss", [edit(root, {"so_buoi_hoa_giai": 9})])) == ["accepted"]


def test_supervisor_of_the_province_edits_records_below(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    assert statuses(api.push("supervisor", [edit(root, {"so_buoi_hoa_giai": 6})])) == ["accepted"]
    assert record(api, root["id"])["data"]["so_buoi_hoa_giai"] == 6


def test_supervisor_of_another_province_is_forbidden(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    (result,) = api.push("other_supervisor", [edit(root, {"so_buoi_hoa_giai": 6})])
    assert result["reason"] == "forbidden"


def test_admin_edits_anywhere(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    assert statuses(api.push("admin", [edit(root, {"so_buoi_hoa_giai": 7})])) == ["accepted"]


def test_an_edit_of_a_record_with_many_heads_names_them_all(api: Any) -> None:
    """The app's edit names every head of the record: past 100 it was refused (max_items),
    so 101 concurrent edits left the case uneditable on the phones. 2,000 are taken, as many
    as a record can have heads (MAX_RECORD_SUBMISSIONS)."""
    root = case()
    siblings = [edit(root, {"ket_qua": f"Lần {i}"}) for i in range(150)]
    api.push("officer", [root, *siblings])
    heads = record(api, root["id"])["heads"]
    assert len(heads) == 150
    settle = {**edit(root, {"ket_qua": "Đã thống nhất."}), "parents": heads}
    (result,) = api.push("officer", [settle])
    assert result["status"] == "accepted", result
    rec = record(api, root["id"])
    assert rec["heads"] == [result["id"]] and rec["conflicts"] == []
    too_many = {**edit(root, {"ket_qua": "x"}), "parents": [uuid7() for _ in range(2_001)]}
    (result,) = api.push("officer", [too_many])
    assert reasons(result) == ("invalid", {("submissions[0].parents", "max_items")})


def test_null_parents_and_resolves_are_none(api: Any) -> None:
    """`parents` and `resolves` are lists that may be left out; null (a client's None) says the
    same: a new record with null parents was refused for its type, and the same item sent
    again with [] is a duplicate."""
    root = {**case(1), "parents": None, "resolves": None}
    (result,) = api.push("officer", [root])
    assert result["status"] == "accepted", result
    (again,) = api.push("officer", [{**root, "parents": [], "resolves": []}])
    assert again["status"] == "duplicate"
    (child,) = api.push("officer", [{**edit(root, {"so_buoi_hoa_giai": 2}), "resolves": None}])
    assert child["status"] == "accepted"


def test_an_admin_of_all_areas_creates_no_record(api: Any) -> None:
    """A record belongs to its creator's area: one an admin of all areas made had none, and no
    supervisor or officer ever saw it. Refused, alone; the admin's edits still go through."""
    root, own = case(1), case(2)
    api.push("officer", [root])
    results = api.push("admin", [own, edit(root, {"so_buoi_hoa_giai": 3})])
    assert statuses(results) == ["rejected", "accepted"]
    assert reasons(results[0]) == ("forbidden", {("submissions[0].record_id", "forbidden")})
    assert (
        api.client.get(f"/api/v1/records/{own['id']}", headers=api.auth("admin")).status_code == 404
    )


def test_pending_edit_from_another_commune_never_merges(api: Any) -> None:
    root = case()
    foreign = edit(root, {"trang_thai": "hoa_giai_thanh"})
    early = api.push("other_officer", [foreign])
    assert statuses(early) in (["pending"], ["rejected"])
    api.push("officer", [root])
    rec = record(api, root["id"])
    assert rec["area"] == "01.00070"
    assert rec["data"]["trang_thai"] == root["data"]["trang_thai"]
    assert rec["heads"] == [root["id"]]


def test_own_edit_after_a_supervisors_early_edit(api: Any) -> None:
    root = case()
    by_supervisor = edit(root, {"so_buoi_hoa_giai": 1})
    assert statuses(api.push("supervisor", [by_supervisor])) == ["pending"]
    by_officer = edit(root, {"ket_qua": "Đang theo dõi."})
    assert statuses(api.push("officer", [by_officer])) == ["pending"]
    assert statuses(api.push("officer", [root])) == ["accepted"]
    rec = record(api, root["id"])
    assert rec["area"] == "01.00070"
    assert rec["data"]["so_buoi_hoa_giai"] == 1
    assert rec["data"]["ket_qua"] == "Đang theo dõi."


# outside the items, in a key the envelope reads past (the app's outbox file has it)
@pytest.mark.parametrize("bad", [b'"exported_at": NaN', b'"exported_at": "\\ud800"'])
def test_a_huge_body_msgspec_refuses_is_not_read_again_by_slower_parsers(
    api: Any, bad: bytes
) -> None:
    """10 MiB of numbers with a NaN or a lone surrogate outside the items: read again by the
    standard parser to find the item at fault, it held the server (every user) for 10 s and
    1.4 GB. Past MAX_REREAD the body is refused as a whole, at once; within it, an item with a
    NaN is still refused alone (test_a_nan_literal_in_one_item_costs_nothing_else)."""
    numbers = b"0," * (5 * 1024 * 1024 - 100)
    body = b'{"device_id": "p", ' + bad + b', "submissions": [{"d": [' + numbers + b"0]}]}"
    assert len(body) > MAX_REREAD
    started = time.monotonic()
    r = api.client.post(
        PUSH,
        content=gzip.compress(body),
        headers={
            **api.auth("officer"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert time.monotonic() - started < 3
    assert assert_problem(r, 400)["code"] == "malformed_body"


def test_a_record_holds_a_bounded_number_of_submissions_waiting_for_parents(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edits naming parents that never come wait for ever, and each edit of their record
    merges its whole history again: thousands made every write of the server wait behind
    one record. Past MAX_WAITING, an edit of that record that would wait too is refused
    `too_many_pending` (alone); one that merges is not, and other records are untouched."""
    from server import sync as sync_module

    monkeypatch.setattr(sync_module, "MAX_WAITING", 3)
    root = case(1)
    api.push("officer", [root])

    def edit(parents: list[str]) -> dict[str, Any]:
        data = {"trang_thai": "dang_hoa_giai"}
        return submission("hoa_giai", data, version=HOA_GIAI, record_id=root["id"], parents=parents)

    early = [edit([uuid7()]) for _ in range(3)]
    chained = edit([early[0]["id"]])  # names one that waits: it waits too
    stranger = edit([uuid7()])
    merges = edit([root["id"]])
    other = case(2)
    results = api.push("officer", [*early, chained, stranger, merges, other])
    assert statuses(results) == ["pending"] * 3 + ["rejected", "rejected", "accepted", "accepted"]
    assert reasons(results[3]) == ("invalid", {("submissions[3].parents", "too_many_pending")})
    assert reasons(results[4]) == ("invalid", {("submissions[4].parents", "too_many_pending")})


def test_a_record_holds_a_bounded_number_of_submissions_from_phones(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """11,000 sibling edits of one case made each later edit hold the write lock (and every
    other phone's push) for seconds, and left a conflict no phone could settle (past 10,000
    parents) nor any supervisor (past 1 MiB of heads): found by a probe. Past
    MAX_RECORD_SUBMISSIONS a phone's new submission of the record is refused `record_full`;
    one sent again is still `duplicate`, other records are untouched, and a supervisor's
    resolution is still taken, so the case can always be settled."""
    from server import sync as sync_module
    from server.item import MAX_PARENTS

    # the real bound leaves every conflict settleable: by a phone naming every head, and by a
    # supervisor's resolution (about 40 bytes a head, 1 MiB a body)
    assert sync_module.MAX_RECORD_SUBMISSIONS <= MAX_PARENTS
    assert sync_module.MAX_RECORD_SUBMISSIONS * 40 < 1024 * 1024
    monkeypatch.setattr(sync_module, "MAX_RECORD_SUBMISSIONS", 4)
    root = case(1)
    siblings = [edit(root, {"ket_qua": f"Lần {i}"}) for i in range(3)]
    assert statuses(api.push("officer", [root])) == ["accepted"]
    assert statuses(api.push("officer", siblings[:2])) == ["conflict", "conflict"]
    late = edit(root, {"ket_qua": "Lần 9"})
    results = api.push("officer", [siblings[0], siblings[2], late, case(2)])
    assert statuses(results) == ["duplicate", "conflict", "rejected", "accepted"]
    assert reasons(results[2]) == ("invalid", {("submissions[2].record_id", "record_full")})
    state = record(api, root["id"])
    assert len(state["submissions"]) == 4 and state["conflicts"]
    r = api.client.post(
        f"/api/v1/records/{root['id']}/resolve",
        json={"heads": state["heads"], "values": {"ket_qua": "Đã thống nhất"}},
        headers=api.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    settled = record(api, root["id"])
    assert settled["conflicts"] == [] and len(settled["submissions"]) == 5
    assert settled["data"]["ket_qua"] == "Đã thống nhất"


@pytest.mark.parametrize(
    "device_id",
    ["resolve:giam-sat", "RESOLVE:x", " resolve:x", "resolve\uff1ax", "re\u200bsolve:x"],
)
def test_a_device_cannot_pass_for_a_supervisors_resolution(api: Any, device_id: str) -> None:
    """A resolution's submission has device `resolve:NAME` (how the app and /conflicts show
    who settled it): a phone naming itself so would pass its values off as a supervisor's."""
    r = api.client.post(
        PUSH,
        json={"device_id": device_id, "submissions": [case(1)]},
        headers=api.auth("officer"),
    )
    problem = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("device_id", "not_allowed")]


@pytest.mark.parametrize(
    ("device_id", "code"),
    [
        ("cli", "not_allowed"),
        ("API", "not_allowed"),
        (" c l i ", "not_allowed"),
        ("may\u202e1", "control_character"),  # shown as "1yam" beside a value
        ("may\u200b1", "control_character"),
        ("may\n1", "control_character"),
        ("may\x001", "control_character"),
        ("may\ufe0f1", "control_character"),  # a variation selector: drawn as nothing
        ("may\u034f1", "control_character"),
        (" ", "required"),  # shown as nothing (found by a probe)
        ("\u3000\u00a0", "required"),
        ("\u2800", "required"),  # the braille blank
        ("\u0301", "required"),  # a combining accent with nothing to sit on
    ],
)
def test_a_device_id_that_is_shown_otherwise_or_names_the_audits_own_is_refused(
    api: Any, device_id: str, code: str
) -> None:
    """A device id is shown beside the values it wrote (the phones name their own "this
    phone") and in the audit log, where `cli` and `api` are the command line's and the API's
    actions: a phone may not use those, nor hide or reorder its id with invisible or
    bidirectional characters (found by a probe). Nothing of the batch is stored."""
    item = case(1)
    r = api.client.post(
        PUSH, json={"device_id": device_id, "submissions": [item]}, headers=api.auth("officer")
    )
    problem = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("device_id", code)]
    assert (
        api.client.get(f"/api/v1/records/{item['id']}", headers=api.auth("supervisor")).status_code
        == 404
    )
    assert api.push("officer", [item], device_id="may-1 (Nguyễn Văn An)")[0]["status"] == "accepted"


BOM = b"\xef\xbb\xbf"
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_json_body_may_start_with_a_byte_order_mark(api: Any, gzipped: bool) -> None:
    """RFC 8259 8.1 lets a parser ignore a leading BOM: an outbox file the app saved, saved
    again by an old Windows Notepad, has one. The push was refused `malformed_body` (while
    `POST /forms` took a definition so); an item the standard parser must read again (NaN) is
    still refused alone."""
    items = [case(1), case(2)]
    body = BOM + json.dumps({"device_id": "p", "submissions": items}).encode()
    headers = {**api.auth("officer"), "Content-Type": "application/json"}
    if gzipped:
        body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
    r = api.client.post(PUSH, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert statuses(r.json()["results"]) == ["accepted", "accepted"]
    items = [case(3), case(4)]
    items[1]["data"]["cac_ben"][0]["nam_sinh"] = float("nan")
    body = BOM + json.dumps({"device_id": "p", "submissions": items}).encode()
    r = api.client.post(PUSH, content=body, headers={**api.auth("officer"), **JSON_TYPE})
    assert statuses(r.json()["results"]) == ["accepted", "rejected"], r.text


def test_a_resolution_may_start_with_a_byte_order_mark(api: Any) -> None:
    item = case(1)
    api.push("officer", [item])
    rec = record(api, item["id"])
    values = {"ket_qua": rec["data"].get("ket_qua", "")}
    body = BOM + json.dumps({"heads": rec["heads"], "values": values, "note": "BOM"}).encode()
    r = api.client.post(
        f"/api/v1/records/{item['id']}/resolve",
        content=body,
        headers={**api.auth("supervisor"), **JSON_TYPE},
    )
    assert r.status_code == 200, r.text


def test_a_byte_order_mark_elsewhere_is_still_no_json(api: Any) -> None:
    body = b" " + BOM + json.dumps({"device_id": "p", "submissions": []}).encode()
    r = api.client.post(PUSH, content=body, headers={**api.auth("officer"), **JSON_TYPE})
    assert assert_problem(r, 400)["code"] == "malformed_body"


@pytest.mark.parametrize("msgpack", [False, True])
def test_a_key_the_envelope_does_not_have_is_refused(api: Any, msgpack: bool) -> None:
    """An item and a resolution refuse a key they do not have; the envelope took any (`extra`
    was 200), so a misspelt key went unseen. Nothing of the batch is stored."""
    envelope = {"device_id": "p", "submissions": [case(1)], "extra": 1}
    codec: Any = msgspec.msgpack if msgpack else msgspec.json
    kind = "application/msgpack" if msgpack else "application/json"
    r = api.client.post(
        PUSH,
        content=codec.encode(envelope),
        headers={**api.auth("officer"), "Content-Type": kind},
    )
    problem = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("extra", "unknown_field")]
    # a key of the request, not a field of a form (found by a probe: "not in the form")
    message = "Không có khóa `extra` ở đây / no key `extra` is known here"
    assert problem["errors"][0]["message"] == message
    page = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    assert page["records"] == []


def test_the_apps_outbox_file_is_still_a_push_body(api: Any) -> None:
    """What the app saves to a file ("Lưu hộp thư đi ra tệp", client_forms/app.js
    exportOutbox) holds the batch and, beside it, what it knew of each entry: read past."""
    item = case(1)
    saved = {
        "device_id": "p",
        "submissions": [item],
        "exported_at": "2026-11-27T03:00:00.000Z",
        "rejected": {item["id"]: [{"path": "x", "code": "min", "message": "…"}]},
        "held": [],
        "drafts": [{"id": "d1", "form_id": "hoa_giai", "data": {}}],
    }
    r = api.client.post(PUSH, json=saved, headers=api.auth("officer"))
    assert r.status_code == 200, r.text
    assert statuses(r.json()["results"]) == ["accepted"]
