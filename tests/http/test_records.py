"""Supervisors' records over HTTP: one record with its submissions, open conflicts, resolving
them, the pull cursor, and the audit log."""

from __future__ import annotations

import base64
import random
from typing import Any

import msgspec
import pytest

from server.forms import parse_definition
from tests.support import assert_problem, hoa_giai, latest_schema, latest_version, submission, uuid7

HOA_GIAI = latest_version("hoa_giai")


def case(seed: int = 0) -> dict[str, Any]:
    return submission("hoa_giai", hoa_giai(random.Random(seed)), version=HOA_GIAI)


def edit(root: dict[str, Any], data: dict[str, Any], parents: list[str] | None = None) -> Any:
    return submission(
        "hoa_giai", data, version=HOA_GIAI, record_id=root["id"], parents=parents or [root["id"]]
    )


def get(api: Any, record_id: str, who: str = "supervisor") -> Any:
    return api.client.get(f"/api/v1/records/{record_id}", headers=api.auth(who))


def conflicted(api: Any, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A case whose `trang_thai` two phones changed to different values offline."""
    root = case(seed)
    api.push("officer", [root])
    a = edit(root, {"trang_thai": "hoa_giai_thanh"})
    b = edit(root, {"trang_thai": "hoa_giai_khong_thanh"})
    api.push("officer", [a], device_id="phone-1")
    assert api.push("officer2", [b], device_id="phone-2")[0]["status"] == "conflict"
    return root, a, b


def resolve(api: Any, record_id: str, body: dict[str, Any], who: str = "supervisor") -> Any:
    return api.client.post(f"/api/v1/records/{record_id}/resolve", json=body, headers=api.auth(who))


def conflicts(api: Any, who: str = "supervisor", **params: str) -> list[str]:
    r = api.client.get("/api/v1/conflicts", params=params, headers=api.auth(who))
    assert r.status_code == 200
    return [rec["record_id"] for rec in r.json()["records"]]


# --- one record ------------------------------------------------------------------------


def test_record_with_its_submissions(api: Any) -> None:
    root = case()
    change = edit(root, {"trang_thai": "dang_hoa_giai", "so_buoi_hoa_giai": 1})
    api.push("officer", [root, change], device_id="phone-7")
    r = get(api, root["id"])
    assert r.status_code == 200
    rec = r.json()
    assert rec["record_id"] == root["id"]
    assert rec["form_id"] == "hoa_giai"
    assert rec["area"] == "01.00070"
    assert rec["heads"] == [change["id"]]
    assert rec["revision"] == 2
    assert rec["conflicts"] == []
    assert rec["updated_at"]
    stored = {s["id"]: s for s in rec["submissions"]}
    assert set(stored) == {root["id"], change["id"]}
    for s in stored.values():
        assert s["status"] == "merged"
        assert s["device_id"] == "phone-7"
        assert s["user"] == "officer"
        assert s["received_at"]
        assert s["form_version"] == HOA_GIAI
    assert stored[root["id"]]["parents"] == []
    assert stored[change["id"]]["parents"] == [root["id"]]
    assert stored[change["id"]]["data"] == change["data"]


def test_record_says_who_wrote_each_competing_value(api: Any) -> None:
    """PROTOCOL: a conflict lists every competing value "and who wrote it". A phone's device id
    is a random UUID that names no one, and two officers may share a name: each value names
    its author and the author's id, as each submission does."""
    root, a, b = conflicted(api)
    rec = get(api, root["id"]).json()
    by_sub = {s["id"]: s for s in rec["submissions"]}
    [conflict] = rec["conflicts"]
    who = {v["submission_id"]: (v["user"], v["user_id"]) for v in conflict["values"]}
    assert {who[a["id"]][0], who[b["id"]][0]} == {"officer", "officer2"}
    assert who[a["id"]][1] != who[b["id"]][1]
    for sid, (name, user_id) in who.items():
        assert (by_sub[sid]["user"], by_sub[sid]["user_id"]) == (name, user_id)
    assert isinstance(by_sub[root["id"]]["user_id"], int)


def test_record_marks_pending_submissions(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    orphan = edit(root, {"so_buoi_hoa_giai": 2}, parents=[uuid7()])
    assert api.push("officer", [orphan])[0]["status"] == "pending"
    rec = get(api, root["id"]).json()
    assert {s["id"]: s["status"] for s in rec["submissions"]} == {
        root["id"]: "merged",
        orphan["id"]: "pending",
    }
    assert rec["heads"] == [root["id"]]
    assert "so_buoi_hoa_giai" not in rec["data"] or rec["data"]["so_buoi_hoa_giai"] != 2


def test_record_is_found_with_an_uppercase_id(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    assert get(api, root["id"].upper()).json()["record_id"] == root["id"]


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("other_supervisor", 403)])
def test_record_by_area(api: Any, who: str, status: int) -> None:
    root = case()
    api.push("officer", [root])
    assert get(api, root["id"], who).status_code == status


def test_record_is_for_supervisors(api: Any) -> None:
    root = case()
    api.push("officer", [root])
    assert_problem(get(api, root["id"], "officer"), 403)


# --- open conflicts --------------------------------------------------------------------


def test_conflicts_lists_only_conflicting_records_of_the_callers_area(api: Any) -> None:
    root, a, b = conflicted(api)
    calm = case(1)
    api.push("officer", [calm])
    elsewhere = api.user("hcm_officer", "officer", "79.26743")
    far = case(2)
    api.push(elsewhere, [far])
    far_a = edit(far, {"trang_thai": "hoa_giai_thanh"})
    far_b = edit(far, {"trang_thai": "rut_yeu_cau"})
    api.push(elsewhere, [far_a], device_id="hcm-1")
    api.push(elsewhere, [far_b], device_id="hcm-2")

    assert conflicts(api, "supervisor") == [root["id"]]
    assert conflicts(api, "other_supervisor") == [far["id"]]
    assert sorted(conflicts(api, "admin")) == sorted([root["id"], far["id"]])
    assert conflicts(api, "supervisor", form_id="hoa_giai") == [root["id"]]
    assert conflicts(api, "supervisor", form_id="mo_hinh") == []
    r = api.client.get("/api/v1/conflicts", headers=api.auth("supervisor"))
    (listed,) = r.json()["records"]
    (conflict,) = listed["conflicts"]
    assert conflict["field"] == "trang_thai"
    assert {v["submission_id"] for v in conflict["values"]} == {a["id"], b["id"]}


def test_conflicts_come_a_page_at_a_time_and_none_is_missed(api: Any) -> None:
    """More conflicted records than a page: following `next` while `more` lists each once."""
    roots = [conflicted(api, seed)[0]["id"] for seed in range(5)]
    seen: list[str] = []
    since = ""
    for _ in range(10):
        r = api.client.get(
            "/api/v1/conflicts", params={"limit": 2, "since": since}, headers=api.auth("supervisor")
        )
        page = r.json()
        seen += [rec["record_id"] for rec in page["records"]]
        since = page["next"]
        if not page["more"]:
            break
    assert sorted(seen) == sorted(roots) and len(seen) == len(set(seen))


@pytest.mark.parametrize("path", ["/api/v1/conflicts", "/api/v1/records"])
@pytest.mark.parametrize("form_id", ["khong_co", ""])
def test_filtering_by_a_form_never_published_is_a_404(api: Any, path: str, form_id: str) -> None:
    """An empty `form_id` (a client's filter left blank) had listed every form's records."""
    api.push("officer", [case(41)])
    r = api.client.get(path, params={"form_id": form_id}, headers=api.auth("supervisor"))
    problem = assert_problem(r, 404)
    assert problem["code"] == "unknown_form"
    assert [e["path"] for e in problem["errors"]] == ["form_id"]


@pytest.mark.parametrize("path", ["/api/v1/conflicts", "/api/v1/records", "/api/v1/sync/pull"])
def test_a_cursor_ahead_of_the_database_is_refused(api: Any, path: str) -> None:
    """A cursor this database never gave (its sequence is past the latest change) would make
    the client miss every change up to there: 409 `reset_required`, as for another database."""
    conflicted(api)
    page = api.client.get("/api/v1/records", headers=api.auth("supervisor")).json()
    _, db_id, seq = base64.urlsafe_b64decode(page["next"] + "==").decode().split(":")
    ahead = base64.urlsafe_b64encode(f"c1:{db_id}:{int(seq) + 5}".encode()).decode().rstrip("=")
    who = "officer" if path.endswith("pull") else "supervisor"
    r = api.client.get(path, params={"since": ahead}, headers=api.auth(who))
    assert assert_problem(r, 409)["code"] == "reset_required"
    r = api.client.get(path, params={"since": page["next"]}, headers=api.auth(who))
    assert r.status_code == 200


def test_conflicts_is_for_supervisors(api: Any) -> None:
    r = api.client.get("/api/v1/conflicts", headers=api.auth("officer"))
    assert_problem(r, 403)


# --- resolving -------------------------------------------------------------------------


def test_resolve_closes_the_conflict(api: Any) -> None:
    root, a, b = conflicted(api)
    heads = get(api, root["id"]).json()["heads"]
    r = resolve(
        api,
        root["id"],
        {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}, "note": "Đã xác minh."},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    rec = body["record"]
    assert rec["conflicts"] == []
    assert rec["data"]["trang_thai"] == "hoa_giai_thanh"
    assert rec["heads"] == [body["submission_id"]]
    assert rec["revision"] == 4
    assert conflicts(api) == []
    stored = {s["id"]: s for s in get(api, root["id"]).json()["submissions"]}
    resolution = stored[body["submission_id"]]
    assert sorted(resolution["parents"]) == sorted([a["id"], b["id"]])
    assert resolution["resolves"] == ["trang_thai"]
    assert resolution["note"] == "Đã xác minh."
    assert resolution["status"] == "merged"


def test_resolve_with_the_provisional_value_closes_it_too(api: Any) -> None:
    root, _, _ = conflicted(api)
    rec = get(api, root["id"]).json()
    provisional = rec["data"]["trang_thai"]
    r = resolve(api, root["id"], {"heads": rec["heads"], "values": {"trang_thai": provisional}})
    assert r.status_code == 200
    assert r.json()["record"]["conflicts"] == []
    assert r.json()["record"]["data"]["trang_thai"] == provisional
    assert conflicts(api) == []


def test_resolve_heads_in_any_order_and_case(api: Any) -> None:
    root, _, _ = conflicted(api)
    heads = [h.upper() for h in reversed(get(api, root["id"]).json()["heads"])]
    r = resolve(api, root["id"], {"heads": heads, "values": {"trang_thai": "rut_yeu_cau"}})
    assert r.status_code == 200


def test_phones_pull_the_resolution_and_edit_on(api: Any) -> None:
    root, _, _ = conflicted(api)
    heads = get(api, root["id"]).json()["heads"]
    sid = resolve(api, root["id"], {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}})
    sid = sid.json()["submission_id"]
    later = edit(root, {"ket_qua": "Hai bên ký biên bản."}, parents=[sid])
    assert api.push("officer", [later])[0]["status"] == "accepted"
    rec = get(api, root["id"]).json()
    assert rec["data"]["trang_thai"] == "hoa_giai_thanh"
    assert rec["data"]["ket_qua"] == "Hai bên ký biên bản."


def test_resolve_409_when_heads_are_stale(api: Any) -> None:
    root, a, _ = conflicted(api)
    r = resolve(api, root["id"], {"heads": [a["id"]], "values": {"trang_thai": "hoa_giai_thanh"}})
    assert_problem(r, 409)
    heads = get(api, root["id"]).json()["heads"]
    assert resolve(api, root["id"], {"heads": heads, "values": {"trang_thai": "rut_yeu_cau"}})
    r = resolve(api, root["id"], {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}})
    assert_problem(r, 409)
    assert get(api, root["id"]).json()["data"]["trang_thai"] == "rut_yeu_cau"


def test_a_resolution_sent_again_gets_the_same_answer(api: Any) -> None:
    """A supervisor's resolution whose response was lost, sent again as it was: the first one
    was stored, so its heads are stale, but it is the same resolution: 200 with its id, and
    nothing stored twice. Another resolution, or another supervisor's, from those heads
    is still refused."""
    root, _, _ = conflicted(api)
    heads = get(api, root["id"]).json()["heads"]
    body = {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}, "note": "Đã xác minh."}
    first = resolve(api, root["id"], body)
    assert first.status_code == 200
    again = resolve(api, root["id"], {**body, "heads": [h.upper() for h in reversed(heads)]})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    stored = get(api, root["id"]).json()
    assert len(stored["submissions"]) == 4
    assert stored["revision"] == 4
    for other in (
        {**body, "values": {"trang_thai": "rut_yeu_cau"}},
        {**body, "note": "Khác."},
        {**body, "values": {"trang_thai": "hoa_giai_thanh", "ket_qua": "Xong."}},
    ):
        assert_problem(resolve(api, root["id"], other), 409)
    assert_problem(resolve(api, root["id"], body, who="admin"), 409)
    assert len(get(api, root["id"]).json()["submissions"]) == 4


@pytest.mark.parametrize(
    ("values", "paths"),
    [
        ({"trang_thai": "khong_co"}, {"values.trang_thai"}),
        (
            {"trang_thai": 3, "so_buoi_hoa_giai": -1},
            {"values.trang_thai", "values.so_buoi_hoa_giai"},
        ),
        ({"khong_co": 1}, {"values.khong_co"}),
        ({"cac_ben": [{"ho_ten": "A"}]}, {"values.cac_ben", "values.cac_ben[0].vai_tro"}),
        ({"trang_thai": None}, {"values.trang_thai"}),
        ({}, {"values"}),
    ],
)
def test_resolve_422_for_invalid_values(api: Any, values: dict[str, Any], paths: set[str]) -> None:
    root, _, _ = conflicted(api)
    rec = get(api, root["id"]).json()
    body = assert_problem(resolve(api, root["id"], {"heads": rec["heads"], "values": values}), 422)
    assert {e["path"] for e in body["errors"]} == paths
    assert get(api, root["id"]).json() == rec


def test_resolve_422_for_heads_that_are_not_uuids(api: Any) -> None:
    root, _, _ = conflicted(api)
    body = {"heads": ["not-a-uuid"], "values": {"trang_thai": "hoa_giai_thanh"}}
    problem = assert_problem(resolve(api, root["id"], body), 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("heads[0]", "format")]


def test_resolve_of_an_unknown_record_is_unknown_record(api: Any) -> None:
    body = {"heads": [uuid7()], "values": {"trang_thai": "hoa_giai_thanh"}}
    assert assert_problem(resolve(api, uuid7(), body), 404)["code"] == "unknown_record"
    assert assert_problem(get(api, uuid7()), 404)["code"] == "unknown_record"


def test_a_conflict_on_a_field_a_later_version_removed_can_still_be_settled(api: Any) -> None:
    """The values of a removed field are kept, and so is its conflict: a supervisor must be
    able to settle it, checked against the newest version that had the field."""
    root = case(5)
    api.push("officer", [root])
    a = edit(root, {"hoa_giai_vien": "Nguyễn Văn Hoà"})
    b = edit(root, {"hoa_giai_vien": "Lê Thị Bình"})
    api.push("officer", [a], device_id="phone-1")
    api.push("officer2", [b], device_id="phone-2")
    nxt = latest_schema("hoa_giai")
    nxt["fields"] = [f for f in nxt["fields"] if f["name"] != "hoa_giai_vien"]
    assert api.catalog.publish(parse_definition(nxt), None, None)[0].version == HOA_GIAI + 1
    rec = get(api, root["id"]).json()
    assert [c["field"] for c in rec["conflicts"]] == ["hoa_giai_vien"]
    assert conflicts(api) == [root["id"]]
    wrong = {"heads": rec["heads"], "values": {"hoa_giai_vien": 7}}
    problem = assert_problem(resolve(api, root["id"], wrong), 422)
    assert [e["path"] for e in problem["errors"]] == ["values.hoa_giai_vien"]
    right = {"heads": rec["heads"], "values": {"hoa_giai_vien": "Lê Thị Bình"}}
    r = resolve(api, root["id"], right)
    assert r.status_code == 200, r.text
    assert r.json()["record"]["conflicts"] == []
    assert r.json()["record"]["data"]["hoa_giai_vien"] == "Lê Thị Bình"
    assert conflicts(api) == []
    # a field no version ever had is still unknown
    heads = r.json()["record"]["heads"]
    problem = assert_problem(resolve(api, root["id"], {"heads": heads, "values": {"x": 1}}), 422)
    assert problem["errors"][0]["code"] == "unknown_field"
    # a key of the body that is not a plain name is quoted: the path reads as that key
    problem = assert_problem(
        resolve(api, root["id"], {"heads": heads, "values": {}, "a.b": 1}), 422
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [('["a.b"]', "unknown_field")]


def test_resolve_403_outside_the_area(api: Any) -> None:
    root, _, _ = conflicted(api)
    heads = get(api, root["id"]).json()["heads"]
    body = {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}}
    assert_problem(resolve(api, root["id"], body, who="other_supervisor"), 403)
    assert_problem(resolve(api, root["id"], body, who="officer"), 403)
    assert conflicts(api) == [root["id"]]


# --- pull ------------------------------------------------------------------------------


def pull(api: Any, who: str, path: str = "/api/v1/records", **params: Any) -> Any:
    r = api.client.get(path, params=params, headers=api.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_pull_pages_through_every_change_once(api: Any) -> None:
    items = [case(i) for i in range(7)]
    api.push("officer", items)
    seen: list[str] = []
    since = None
    for _ in range(10):
        page = pull(api, "supervisor", limit=3, **({"since": since} if since else {}))
        seen += [r["record_id"] for r in page["records"]]
        since = page["next"]
        if not page["more"]:
            break
    assert sorted(seen) == sorted(i["id"] for i in items)  # each once; one batch, one commit
    api.push("officer", [edit(items[2], {"so_buoi_hoa_giai": 9})])
    page = pull(api, "supervisor", since=since)
    assert [r["record_id"] for r in page["records"]] == [items[2]["id"]]
    assert page["records"][0]["data"]["so_buoi_hoa_giai"] == 9
    assert pull(api, "supervisor", since=page["next"])["records"] == []


def test_pull_is_limited_to_the_callers_area(api: Any) -> None:
    api.push("officer", [case(1)])
    api.push("other_officer", [case(2)])
    assert len(pull(api, "supervisor")["records"]) == 2
    assert pull(api, "other_supervisor")["records"] == []


def test_device_pull_has_only_followed_forms_of_the_officers_area(api: Any) -> None:
    mine, theirs = case(1), case(2)
    report = submission(  # an outreach session: not a follow-up form
        "tuyen_truyen",
        {
            "ngay_tuyen_truyen": "2026-03-01",
            "loai_dia_diem": "nha_van_hoa",
            "ten_dia_diem": "Nhà văn hóa tổ dân phố số 5",
            "chu_de": ["phong_chong_ma_tuy"],
            "hinh_thuc": "hoi_nghi",
        },
        version=1,
    )
    assert [r["status"] for r in api.push("officer", [mine, report])] == ["accepted"] * 2
    api.push("other_officer", [theirs])
    page = pull(api, "officer", "/api/v1/sync/pull")
    assert [r["record_id"] for r in page["records"]] == [mine["id"]]
    assert len(pull(api, "supervisor")["records"]) == 3


def test_a_situation_report_is_followed_up_and_a_v1_confidentiality_request_stays_one(
    api: Any,
) -> None:
    """A situation report's outcome (`ket_qua_xu_ly`) is known days after the report: the
    report comes to the officer's phone to be finished. A v1 report whose reporter asked for
    confidentiality (v1's `giau_ten`, "đề nghị giữ bí mật danh tính") is such a request in
    the latest version (`de_nghi_giu_bi_mat`), never an anonymous report (`nac_danh`): the
    reporter's name stays beside it."""
    facts = {
        "thoi_gian_tiep_nhan": "2026-03-01T08:30:00+07:00",
        "loai_vu_viec": "danh_nhau_gay_roi",
        "muc_do": "thap",
        "noi_dung": "Tụ tập gây ồn ào sau 23 giờ.",
        "nguon_tin": "nguoi_dan_truc_tiep",
    }
    old = submission(
        "nam_tinh_hinh", {**facts, "giau_ten": True, "ho_ten_nguoi_bao": "Trần Văn Báo"}, version=1
    )
    anonymous = submission("nam_tinh_hinh", {**facts, "nac_danh": True}, version=2)
    assert [r["status"] for r in api.push("officer", [old, anonymous])] == ["accepted"] * 2
    rec = get(api, old["id"]).json()
    assert rec["form_version"] == latest_version("nam_tinh_hinh")
    assert rec["data"]["de_nghi_giu_bi_mat"] is True
    assert rec["data"]["ho_ten_nguoi_bao"] == "Trần Văn Báo"
    assert "nac_danh" not in rec["data"] and "giau_ten" not in rec["data"]
    assert get(api, anonymous["id"]).json()["data"]["nac_danh"] is True
    page = pull(api, "officer", "/api/v1/sync/pull")
    assert {r["record_id"] for r in page["records"]} == {old["id"], anonymous["id"]}
    outcome = submission(
        "nam_tinh_hinh",
        {"ket_qua_xu_ly": "Đã nhắc nhở, lập biên bản."},
        version=latest_version("nam_tinh_hinh"),
        record_id=old["id"],
        parents=rec["heads"],
    )
    assert [r["status"] for r in api.push("officer", [outcome])] == ["accepted"]
    assert get(api, old["id"]).json()["data"]["ket_qua_xu_ly"] == "Đã nhắc nhở, lập biên bản."


# --- audit -----------------------------------------------------------------------------


def test_audit_names_the_record_and_form_a_refused_item_tried_to_change(api: Any) -> None:
    """An officer's edit of another commune's case is refused and never stored: the audit log
    is the only place that says which case was tried (PROTOCOL: "who, when, from which device
    and what"); an item too broken to read names its form as far as it reads."""
    root = case()
    api.push("officer", [root])
    tried = edit(root, {"trang_thai": "hoa_giai_thanh"})
    broken = {**case(3), "data": "not an object"}
    pushed = api.push("other_officer", [tried, broken], device_id="phone-x")
    assert [r["reason"] for r in pushed] == ["forbidden", "invalid"]
    # the same by MessagePack
    body = msgspec.msgpack.encode({"device_id": "phone-x", "submissions": [broken]})
    headers = {**api.auth("other_officer"), "Content-Type": "application/msgpack"}
    assert api.client.post("/api/v1/sync/push", content=body, headers=headers).status_code == 200

    entries = pull(api, "admin", "/api/v1/audit")["entries"]
    json_push, msgpack_push = [e["detail"]["items"] for e in entries if e["device_id"] == "phone-x"]
    assert json_push == [
        {
            "id": tried["id"],
            "status": "rejected",
            "record_id": root["id"],
            "form_id": "hoa_giai",
            "reason": "forbidden",
        },
        {
            "id": broken["id"],
            "status": "rejected",
            "record_id": broken["id"],
            "form_id": "hoa_giai",
            "reason": "invalid",
        },
    ]
    assert msgpack_push == json_push[1:]


def test_the_audit_keeps_no_more_than_200_characters_of_an_id_a_refused_item_gave(
    api: Any,
) -> None:
    """An item refused for its 3 MB id, record id and form id made a 9 MB audit entry, which
    every page of the log then carried."""
    long = {**case(4), "id": "x" * 100_000, "record_id": "r" * 100_000, "form_id": "f" * 100_000}
    assert api.push("officer", [long], device_id="phone-long")[0]["status"] == "rejected"
    entries = pull(api, "admin", "/api/v1/audit")["entries"]
    [item] = next(e for e in entries if e["device_id"] == "phone-long")["detail"]["items"]
    assert item["id"] == "x" * 200 + "…"
    assert item["record_id"] == "r" * 200 + "…"
    assert item["form_id"] == "f" * 200 + "…"


def test_audit_has_publish_push_resolution_and_user_creation(api: Any) -> None:
    root, a, _ = conflicted(api)
    bad = case(5)
    bad["data"]["so_buoi_hoa_giai"] = -3
    api.push("officer", [bad, a], device_id="phone-9")
    heads = get(api, root["id"]).json()["heads"]
    body = {"heads": heads, "values": {"trang_thai": "hoa_giai_thanh"}, "note": "Chốt."}
    sid = resolve(api, root["id"], body).json()["submission_id"]
    entries = pull(api, "admin", "/api/v1/audit")["entries"]
    actions = [e["action"] for e in entries]
    assert {"form.publish", "user.add", "sync.push", "record.resolve"} <= set(actions)

    published = {e["target"] for e in entries if e["action"] == "form.publish"}
    assert {"hoa_giai@1", "hoa_giai@2", "mo_hinh@1"} <= published
    # published with no user (as the `coso` command does): from the server's command line
    assert {(e["user"], e["device_id"]) for e in entries if e["action"] == "form.publish"} == {
        (None, "cli")
    }
    users = {e["target"]: e["detail"] for e in entries if e["action"] == "user.add"}
    officer_id = users["officer"]["id"]
    assert users["officer"] == {"id": officer_id, "role": "officer", "area": "01.00070"}
    assert users["admin"]["role"] == "admin"
    assert {e["user_id"] for e in entries if e["action"] == "form.publish"} == {None}

    pushes = [e for e in entries if e["action"] == "sync.push"]
    last = pushes[-1]
    assert (last["user"], last["user_id"]) == ("officer", officer_id)
    assert last["device_id"] == "phone-9"
    assert last["detail"]["items"] == [
        {
            "id": bad["id"],
            "status": "rejected",
            "record_id": bad["id"],
            "form_id": "hoa_giai",
            "reason": "invalid",
        },
        {"id": a["id"], "status": "duplicate", "record_id": root["id"], "form_id": "hoa_giai"},
    ]
    statuses = {item["status"] for e in pushes for item in e["detail"]["items"]}
    assert statuses == {"accepted", "conflict", "rejected", "duplicate"}

    (resolution,) = [e for e in entries if e["action"] == "record.resolve"]
    assert resolution["user"] == "supervisor"
    assert resolution["user_id"] == users["supervisor"]["id"] != officer_id
    assert resolution["target"] == root["id"]
    # the device its submission is stored with (it was null)
    assert resolution["device_id"] == "resolve:supervisor"
    stored = {s["id"]: s for s in get(api, root["id"]).json()["submissions"]}
    assert stored[sid]["device_id"] == "resolve:supervisor"
    assert resolution["detail"]["submission_id"] == sid
    assert resolution["detail"]["fields"] == ["trang_thai"]
    assert resolution["detail"]["note"] == "Chốt."
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e["at"] for e in entries)


def test_audit_tells_two_users_of_one_name_apart(api: Any) -> None:
    """Names are not unique (`coso users add lan` twice makes two users): each entry carries
    the id of who acted beside the name, and `user.add` the id it gave."""
    first, second = api.user("lan", "officer", "01.00070"), api.user("lan", "officer", "01.00070")
    api.push(first, [case(21)], device_id="phone")
    api.push(second, [case(22)], device_id="phone")
    entries = pull(api, "admin", "/api/v1/audit")["entries"]
    added = [
        e["detail"]["id"] for e in entries if (e["action"], e["target"]) == ("user.add", "lan")
    ]
    assert len(set(added)) == 2
    pushes = [e for e in entries if e["action"] == "sync.push" and e["user"] == "lan"]
    assert [e["user_id"] for e in pushes] == added


def test_audit_records_a_publish_by_an_admin(api: Any) -> None:
    """From the API, which has no device: `api` (PROTOCOL: the log says from which device; it
    was null), as the `coso` command's actions are `cli`."""
    definition = {
        "form_id": "thu_nghiem",
        "title": {"vi": "Thử nghiệm", "en": "Pilot"},
        "fields": [{"name": "ghi_chu", "type": "text", "label": {"vi": "Ghi chú", "en": "Note"}}],
    }
    assert api.client.post("/api/v1/forms", json=definition, headers=api.auth("admin")).is_success
    last = pull(api, "admin", "/api/v1/audit")["entries"][-1]
    assert (last["action"], last["target"], last["user"], last["device_id"]) == (
        "form.publish",
        "thu_nghiem@1",
        "admin",
        "api",
    )


def test_audit_paginates_with_its_cursor(api: Any) -> None:
    api.push("officer", [case(i) for i in range(3)])
    everything = pull(api, "admin", "/api/v1/audit")
    assert everything["more"] is False
    paged: list[dict[str, Any]] = []
    since = None
    for _ in range(100):
        page = pull(api, "admin", "/api/v1/audit", limit=4, **({"since": since} if since else {}))
        assert len(page["entries"]) <= 4
        paged += page["entries"]
        since = page["next"]
        if not page["more"]:
            break
    assert paged == everything["entries"]
    assert pull(api, "admin", "/api/v1/audit", since=since)["entries"] == []
    api.push("officer", [case(9)])
    (new,) = pull(api, "admin", "/api/v1/audit", since=since)["entries"]
    assert new["action"] == "sync.push"


def test_an_audit_page_ends_at_its_byte_budget_and_the_next_goes_on(api: Any) -> None:
    """A push of 1000 refused items with long ids makes an entry of some 700 KB: a page of 1000
    such entries was 700 MB, built in the server's memory. A page ends once its details hold
    the budget (4 MiB; less here), one entry at least, and says there is more."""
    from server.api import misc

    for n in range(5):
        bad = [{**case(n * 100 + i), "id": f"{n}-{i}-" + "x" * 300} for i in range(100)]
        assert {r["status"] for r in api.push("officer", bad, device_id=f"phone-{n}")} == {
            "rejected"
        }
    everything = pull(api, "admin", "/api/v1/audit", limit=1000)
    pushes = [
        e for e in everything["entries"] if e["device_id"] in {f"phone-{n}" for n in range(5)}
    ]
    size = len(msgspec.json.encode(pushes[0]["detail"]))
    assert size > 20_000
    old, misc.AUDIT_PAGE_BYTES = misc.AUDIT_PAGE_BYTES, 2 * size
    try:
        paged: list[dict[str, Any]] = []
        since = None
        for _ in range(100):
            params = {"since": since} if since else {}
            page = pull(api, "admin", "/api/v1/audit", limit=1000, **params)
            assert len(page["entries"]) >= 1
            assert sum(len(msgspec.json.encode(e["detail"])) for e in page["entries"]) < 4 * size
            paged += page["entries"]
            since = page["next"]
            if not page["more"]:
                break
        assert paged == everything["entries"]
        misc.AUDIT_PAGE_BYTES = 1  # one entry, however large, still comes
        assert len(pull(api, "admin", "/api/v1/audit", limit=1000)["entries"]) == 1
    finally:
        misc.AUDIT_PAGE_BYTES = old


def test_an_audit_cursor_past_the_last_entry_is_reset_required(api: Any) -> None:
    """As for /records: a cursor this database never gave for its audit log (made up) would
    skip the entries up to it for ever (another list's is a 400, tests/http/test_error_shape)."""
    api.push("officer", [case(i) for i in range(3)])
    everything = pull(api, "admin", "/api/v1/audit")["entries"]
    db_id = api.store.db_id
    for seq in (everything[-1]["seq"] + 1, 10**6):
        ahead = base64.urlsafe_b64encode(f"a1:{db_id}:{seq}".encode()).decode().rstrip("=")
        r = api.client.get("/api/v1/audit", params={"since": ahead}, headers=api.auth("admin"))
        assert assert_problem(r, 409)["code"] == "reset_required", seq
    # the last entry's own cursor is fine, and so is every one before it
    last = pull(api, "admin", "/api/v1/audit")["next"]
    assert pull(api, "admin", "/api/v1/audit", since=last)["entries"] == []
    one = pull(api, "admin", "/api/v1/audit", limit=1)["next"]
    assert pull(api, "admin", "/api/v1/audit", since=one)["entries"] == everything[1:]


def test_a_conflict_settles_on_a_value_held_after_a_version_tightened_the_field(api: Any) -> None:
    """v2 shortens `a` to 3 characters. Two phones wrote 10-character values under v1, a
    conflict: keeping one of them was refused (max_length), so it could only be settled on a
    new value. A value the record holds was checked when it came; a new one is checked now."""

    def definition(limit: int) -> dict[str, Any]:
        label = {"vi": "Ghi chú", "en": "Note"}
        return {
            "form_id": "chat_lai",
            "title": {"vi": "Thắt chặt", "en": "Tightened"},
            "fields": [{"name": "a", "type": "text", "label": label, "max_length": limit}],
        }

    publish = lambda limit: api.client.post(  # noqa: E731
        "/api/v1/forms", json=definition(limit), headers=api.auth("admin")
    )
    assert publish(10).status_code == 201
    root = submission("chat_lai", {"a": "Ban đầu"}, version=1)
    api.push("officer", [root])
    mine, theirs = (
        submission("chat_lai", {"a": v}, version=1, record_id=root["id"], parents=[root["id"]])
        for v in ("Nguyễn Văn", "Trần Thị B")
    )
    api.push("officer", [mine], device_id="phone-1")
    assert api.push("officer2", [theirs], device_id="phone-2")[0]["status"] == "conflict"
    assert publish(3).status_code == 201
    heads = get(api, root["id"]).json()["heads"]
    new = assert_problem(
        resolve(api, root["id"], {"heads": heads, "values": {"a": "Mới hơn"}}), 422
    )
    assert [(e["path"], e["code"]) for e in new["errors"]] == [("values.a", "max_length")]
    r = resolve(api, root["id"], {"heads": heads, "values": {"a": "Trần Thị B"}})
    assert r.status_code == 200, r.text
    assert r.json()["record"]["data"]["a"] == "Trần Thị B" and r.json()["record"]["conflicts"] == []


@pytest.mark.parametrize(
    ("who", "path", "key"),
    [
        ("supervisor", "/api/v1/records", "records"),
        ("officer", "/api/v1/sync/pull", "records"),
        ("supervisor", "/api/v1/conflicts", "records"),
        ("admin", "/api/v1/audit", "entries"),
    ],
)
def test_an_exactly_full_last_page_says_no_more(api: Any, who: str, path: str, key: str) -> None:
    """`more` was `len(page) == limit`: with 4 left and `limit=4` the page said more, and the
    client asked for an empty page. One more row is read to know; `next` stays the cursor
    after the last one sent."""
    for seed in range(4):
        conflicted(api, seed)
    everything = pull(api, who, path)[key]
    n = len(everything)
    assert n >= 4
    whole = pull(api, who, path, limit=n)
    assert whole[key] == everything and whole["more"] is False
    assert whole["next"] == pull(api, who, path)["next"]
    first = pull(api, who, path, limit=n - 1)
    assert first[key] == everything[:-1] and first["more"] is True
    rest = pull(api, who, path, limit=n - 1, since=first["next"])
    assert rest[key] == everything[-1:] and rest["more"] is False
    assert rest["next"] == whole["next"]
    last = pull(api, who, path, limit=1, since=rest["next"])
    assert last == {key: [], "next": rest["next"], "more": False}


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"n": "3"}, "n", "type"),  # what an HTML input gives for a number
        ({"n": [1]}, "n", "type"),
        ({"khac": 5}, "khac", "unknown_field"),
    ],
)
def test_a_resolution_with_a_value_of_the_wrong_type_is_refused_even_where_null_competes(
    api: Any, values: dict[str, Any], field: str, code: str
) -> None:
    """One phone cleared `n`, another set it: null competes in the conflict. A resolution
    sending "3" for the number was checked to null, which the record "holds", so it was taken
    as keeping a stored value: 200, null stored over both officers' values, the conflict gone
    (found by a probe). A value the checks throw away is refused 422 at its path, nothing
    stored; the record is as it was."""
    label = {"vi": "Số", "en": "Number"}
    form = {
        "form_id": "so_lieu",
        "title": {"vi": "Số liệu", "en": "Figures"},
        "fields": [
            {"name": "n", "type": "integer", "label": label},
            {"name": "t", "type": "text", "label": label},
        ],
    }
    assert api.client.post("/api/v1/forms", json=form, headers=api.auth("admin")).status_code == 201
    root = submission("so_lieu", {"n": 1, "t": "a"}, version=1)
    api.push("officer", [root])
    cleared, two = (
        submission("so_lieu", {"n": v}, version=1, record_id=root["id"], parents=[root["id"]])
        for v in (None, 2)
    )
    api.push("officer", [cleared], device_id="phone-1")
    assert api.push("officer2", [two], device_id="phone-2")[0]["status"] == "conflict"
    before = get(api, root["id"]).json()
    assert [c["field"] for c in before["conflicts"]] == ["n"]
    problem = assert_problem(
        resolve(api, root["id"], {"heads": before["heads"], "values": values}), 422
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(f"values.{field}", code)]
    after = get(api, root["id"]).json()
    assert (after["data"], after["conflicts"], after["heads"]) == (
        before["data"],
        before["conflicts"],
        before["heads"],
    )
    # keeping the null that competes is still a resolution, as keeping 2 is
    r = resolve(api, root["id"], {"heads": before["heads"], "values": {"n": None}})
    assert r.status_code == 200, r.text
    assert "n" not in r.json()["record"]["data"] and r.json()["record"]["conflicts"] == []


@pytest.mark.parametrize(
    ("sub", "value", "code"),
    [("nam_sinh", "1957", "type"), ("khong_co", "x", "unknown_field")],
)
def test_a_resolution_with_a_value_thrown_away_inside_a_group_is_refused(
    api: Any, sub: str, value: str, code: str
) -> None:
    """A party's year of birth sent as "1957" (text) was thrown away by the checks; what was
    left of the group was the stored group, so the resolution "kept a stored value": 200, a
    resolution stored that changed nothing, and the supervisor believed the year saved (found
    by a regression probe). Refused 422 at the sub-field's path, nothing stored."""
    data = hoa_giai(random.Random(1))
    data["cac_ben"][0].pop("nam_sinh", None)
    root = submission("hoa_giai", data, version=HOA_GIAI)
    api.push("officer", [root])
    before = get(api, root["id"]).json()
    parties = [dict(p) for p in before["data"]["cac_ben"]]
    parties[0][sub] = value
    r = resolve(api, root["id"], {"heads": before["heads"], "values": {"cac_ben": parties}})
    problem = assert_problem(r, 422)
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        (f"values.cac_ben[0].{sub}", code)
    ]
    after = get(api, root["id"]).json()
    assert after["heads"] == before["heads"] and after["data"] == before["data"]


@pytest.mark.parametrize(("unknown", "listed"), [(51, 51), (52, 51), (40_000, 51)])
def test_a_resolution_with_many_errors_lists_fifty_and_counts_the_rest(
    api: Any, unknown: int, listed: int
) -> None:
    """40,000 unknown keys in a resolution's values (509 KB) had a 5.3 MB answer (found by a
    probe): a 422 lists 50 errors and one `too_many_errors` counting the rest, as a push item
    does; 51 are all listed (50 and "1 more" would hide one to say so)."""
    root, _, _ = conflicted(api, 3)
    heads = get(api, root["id"]).json()["heads"]
    values = {f"k{i:05}": 1 for i in range(unknown)}
    problem = assert_problem(resolve(api, root["id"], {"heads": heads, "values": values}), 422)
    errors = problem["errors"]
    assert len(errors) == listed
    if unknown > listed:
        assert errors[-1]["code"] == "too_many_errors"
        assert f"Còn {unknown - 50} lỗi khác" in errors[-1]["message"]
        assert f"{unknown - 50} more errors" in errors[-1]["message"]
        assert errors[-1]["path"] == "values.k00050"
    else:
        assert {e["code"] for e in errors} == {"unknown_field"}


def test_an_admin_bound_to_an_area_reads_the_audit_of_its_area(api: Any) -> None:
    """As it reads the records of its area only: an admin made with `--area 01` had read what
    every province's users did (their names, record ids and devices)."""
    api.tokens["ha_noi"] = api.user("quan-tri-ha-noi", "admin", "01")
    api.tokens["ba_dinh"] = api.user("can-bo-ba-dinh", "officer", "01.00004")
    api.tokens["hcm"] = api.user("can-bo-hcm", "officer", "79.26743")
    ours, theirs = case(31), case(32)
    api.push("ba_dinh", [ours], device_id="phone-hn")
    api.push("hcm", [theirs], device_id="phone-hcm")
    api.push("officer", [case(33)])
    everything = pull(api, "admin", "/api/v1/audit")["entries"]
    assert {"can-bo-ba-dinh", "can-bo-hcm", None} <= {e["user"] for e in everything}
    seen: list[dict[str, Any]] = []
    since = None
    for _ in range(100):  # a page at a time: the cursor goes past the entries left out
        query = {"limit": 2, **({"since": since} if since else {})}
        page = pull(api, "ha_noi", "/api/v1/audit", **query)
        seen += page["entries"]
        since = page["next"]
        if not page["more"]:
            break
    by = {e["user"] for e in seen}
    assert by == {"can-bo-ba-dinh", "officer"}  # 01.00004, 01.00070
    assert not by & {"can-bo-hcm", "other_supervisor", "admin", None}
    pushed = [i["id"] for e in seen if e["action"] == "sync.push" for i in e["detail"]["items"]]
    assert ours["id"] in pushed and theirs["id"] not in pushed
    assert [e for e in everything if e["user"] in by] == seen


@pytest.mark.parametrize("key", [1, True, 1.5, None], ids=["int", "bool", "float", "nil"])
def test_a_resolution_with_a_msgpack_key_that_is_no_text_in_a_group_item_is_refused(
    api: Any, key: Any
) -> None:
    """In a repeat group's item it was a 500 (a name built with `+` on a number), where a
    push of the same item is refused at its path (found by a white-box probe)."""
    root, _, _ = conflicted(api, seed=7)
    heads = get(api, root["id"]).json()["heads"]
    items = [
        {"ho_ten": "Nguyễn Văn An", "vai_tro": "ben_yeu_cau", key: "x"},
        {"ho_ten": "Lê Văn Bình", "vai_tro": "ben_con_lai"},
    ]
    body = msgspec.msgpack.encode({"heads": heads, "values": {"cac_ben": items}})
    headers = {**api.auth("supervisor"), "Content-Type": "application/msgpack"}
    r = api.client.post(f"/api/v1/records/{root['id']}/resolve", content=body, headers=headers)
    problem = assert_problem(r, 422)
    [error] = problem["errors"]
    assert error["path"].startswith("values.cac_ben[0]"), error  # as a push names it
    assert error["code"] == "unknown_field"
    assert get(api, root["id"]).json()["heads"] == heads  # nothing stored
