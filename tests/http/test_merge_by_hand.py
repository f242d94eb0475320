"""Merge rules over HTTP, for histories built by hand: each expected state (data, heads,
revision, every competing value with its submission, device and time) was worked out from
PROTOCOL.md ("Push", "Merge rules (records)") alone, not from server/merge.py, and not with
tests/property/record_model.py, so a misreading shared by the engine and the reference model
would show here."""

from __future__ import annotations

import random
from typing import Any

from tests.support import hoa_giai

T9, T10, T11, T12 = (f"2025-07-01T{h}:00:00+07:00" for h in ("09", "10", "11", "12"))


def ids(*names: str) -> dict[str, str]:
    """UUIDs that sort in the order of `names` (ties of captured_at are broken by id)."""
    return {n: f"{i:08x}-0000-4000-8000-00000000{i:04x}" for i, n in enumerate(names, start=1)}


def item(
    sid: str,
    rid: str | None,
    parents: list[str],
    at: str,
    data: dict[str, Any],
    *,
    version: int = 2,
    resolves: list[str] | None = None,
) -> dict[str, Any]:
    out = {
        "id": sid,
        "form_id": "hoa_giai",
        "form_version": version,
        "record_id": rid,
        "parents": parents,
        "captured_at": at,
        "data": data,
    }
    if resolves is not None:
        out["resolves"] = resolves
    return out


def root(sid: str, version: int = 2, **data: Any) -> dict[str, Any]:
    case = hoa_giai(random.Random(7))
    if version == 1:
        case["tom_tat"] = case.pop("noi_dung_vu_viec")
    return item(sid, None, [], "2025-07-01T08:00:00+07:00", {**case, **data}, version=version)


def record(api: Any, rid: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/records/{rid}", headers=api.auth("supervisor"))
    assert r.status_code == 200, r.text
    return r.json()


def conflicts(rec: dict[str, Any]) -> dict[str, list[tuple[Any, str, str, str]]]:
    """field -> every competing value as (value, submission, device, captured_at), in the
    order the record lists them."""
    return {
        c["field"]: [
            (v["value"], v["submission_id"], v["device_id"], v["captured_at"]) for v in c["values"]
        ]
        for c in rec["conflicts"]
    }


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in results]


def test_criss_cross_merges(api: Any) -> None:
    """A→B, A→C change trang_thai concurrently; D (B+C) sends the provisional value back and
    adds ket_qua; E (C+B) picks B's value. D writes nothing to trang_thai (equal to base(D)),
    so E is its one last writer: no conflict, E's value."""
    i = ids("A", "B", "C", "D", "E")
    a = i["A"]
    assert statuses(api.push("officer", [root(a, trang_thai="moi_tiep_nhan")])) == ["accepted"]
    b = item(i["B"], a, [a], T9, {"trang_thai": "dang_hoa_giai"})
    c = item(i["C"], a, [a], T10, {"trang_thai": "hoa_giai_thanh"})
    api.push("officer", [b], device_id="phone-b")
    assert api.push("officer2", [c], device_id="phone-c") == [
        {"id": i["C"], "status": "conflict", "record_id": a, "conflicts": ["trang_thai"]}
    ]
    rec = record(api, a)
    assert rec["data"]["trang_thai"] == "hoa_giai_thanh"  # C: the later captured_at
    assert rec["heads"] == [i["B"], i["C"]] and rec["revision"] == 3
    assert conflicts(rec) == {
        "trang_thai": [
            ("hoa_giai_thanh", i["C"], "phone-c", T10),
            ("dang_hoa_giai", i["B"], "phone-b", T9),
        ]
    }
    d = item(i["D"], a, [i["B"], i["C"]], T11, {"trang_thai": "hoa_giai_thanh", "ket_qua": "x"})
    assert statuses(api.push("officer", [d], device_id="phone-b")) == ["conflict"]
    rec = record(api, a)
    assert rec["heads"] == [i["D"]] and rec["revision"] == 4
    assert rec["data"]["ket_qua"] == "x"
    assert list(conflicts(rec)) == ["trang_thai"]  # still B against C
    e = item(i["E"], a, [i["C"], i["B"]], T12, {"trang_thai": "dang_hoa_giai"})
    assert statuses(api.push("officer2", [e], device_id="phone-c")) == ["accepted"]
    rec = record(api, a)
    assert rec["heads"] == [i["D"], i["E"]] and rec["revision"] == 5
    assert rec["data"]["trang_thai"] == "dang_hoa_giai"
    assert rec["data"]["ket_qua"] == "x"
    assert rec["conflicts"] == []


def test_three_phones_one_field_a_clear_and_a_value_set_back(api: Any) -> None:
    """Three concurrent values of so_buoi_hoa_giai: every one is listed, the latest
    provisional. ket_qua cleared (null) on one phone and changed on another: null competes
    too. hoa_giai_vien sent back at its base value writes nothing, so the one phone that
    changed it wins with no conflict."""
    i = ids("A", "B", "C", "D")
    a = i["A"]
    api.push("officer", [root(a, so_buoi_hoa_giai=0, ket_qua="k", hoa_giai_vien="H")])
    b = item(i["B"], a, [a], T10, {"so_buoi_hoa_giai": 1, "ket_qua": None, "hoa_giai_vien": "H"})
    c = item(i["C"], a, [a], T11, {"so_buoi_hoa_giai": 2, "ket_qua": "k2", "hoa_giai_vien": "H2"})
    d = item(i["D"], a, [a], T9, {"so_buoi_hoa_giai": 3})
    api.push("officer", [b], device_id="phone-b")
    api.push("officer2", [c], device_id="phone-c")
    api.push("officer", [d], device_id="phone-d")
    rec = record(api, a)
    assert rec["heads"] == [i["B"], i["C"], i["D"]] and rec["revision"] == 4
    assert rec["data"]["so_buoi_hoa_giai"] == 2
    assert rec["data"]["ket_qua"] == "k2"
    assert rec["data"]["hoa_giai_vien"] == "H2"
    assert conflicts(rec) == {
        "ket_qua": [("k2", i["C"], "phone-c", T11), (None, i["B"], "phone-b", T10)],
        "so_buoi_hoa_giai": [
            (2, i["C"], "phone-c", T11),
            (1, i["B"], "phone-b", T10),
            (3, i["D"], "phone-d", T9),
        ],
    }


def test_a_resolution_then_a_late_edit_from_an_old_head(api: Any) -> None:
    """The supervisor confirms the provisional value of one conflicted field; the other
    conflict stays. A phone that only had C then edits that field: it does not descend from
    the resolution, so the two compete again."""
    i = ids("A", "B", "C", "F")
    a = i["A"]
    api.push("officer", [root(a, so_buoi_hoa_giai=0, ket_qua="k")])
    api.push("officer", [item(i["B"], a, [a], T9, {"so_buoi_hoa_giai": 1, "ket_qua": "b"})])
    api.push("officer2", [item(i["C"], a, [a], T10, {"so_buoi_hoa_giai": 2, "ket_qua": "c"})])
    rec = record(api, a)
    assert set(conflicts(rec)) == {"so_buoi_hoa_giai", "ket_qua"}
    r = api.client.post(
        f"/api/v1/records/{a}/resolve",
        json={"heads": rec["heads"][::-1], "values": {"so_buoi_hoa_giai": 2}, "note": "đúng"},
        headers=api.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    rec = record(api, a)
    (resolution,) = rec["heads"]
    assert rec["revision"] == 4
    assert rec["data"]["so_buoi_hoa_giai"] == 2
    assert list(conflicts(rec)) == ["ket_qua"]
    late = item(i["F"], a, [i["C"]], T12, {"so_buoi_hoa_giai": 7, "ket_qua": "c"})
    assert api.push("officer2", [late], device_id="phone-c")[0]["conflicts"] == [
        "ket_qua",
        "so_buoi_hoa_giai",
    ]
    rec = record(api, a)
    assert rec["heads"] == sorted([resolution, i["F"]]) and rec["revision"] == 5
    # F's ket_qua equals base(F)'s: no write, the conflict is still B against C
    assert [v[1] for v in conflicts(rec)["ket_qua"]] == [i["C"], i["B"]]
    competing = {(v[0], v[1]) for v in conflicts(rec)["so_buoi_hoa_giai"]}
    assert competing == {(2, resolution), (7, i["F"])}


def test_an_older_version_edits_a_renamed_field_concurrently(api: Any) -> None:
    """A v1 phone writes tom_tat while a v2 phone writes noi_dung_vu_viec (its new name): one
    field, so a conflict on noi_dung_vu_viec; the v1 phone settles it under the old name."""
    i = ids("A", "B", "C", "D")
    a = i["A"]
    api.push("officer", [root(a, version=1)])
    old = item(i["B"], a, [a], T9, {"tom_tat": "cũ"}, version=1)
    new = item(i["C"], a, [a], T10, {"noi_dung_vu_viec": "mới", "muc_do_phuc_tap": "don_gian"})
    api.push("officer", [old], device_id="phone-v1")
    api.push("officer2", [new], device_id="phone-v2")
    rec = record(api, a)
    assert "tom_tat" not in rec["data"]
    assert rec["data"]["noi_dung_vu_viec"] == "mới"
    assert rec["data"]["muc_do_phuc_tap"] == "don_gian"
    assert conflicts(rec) == {
        "noi_dung_vu_viec": [("mới", i["C"], "phone-v2", T10), ("cũ", i["B"], "phone-v1", T9)]
    }
    settle = item(i["D"], a, [i["B"], i["C"]], T11, {}, version=1, resolves=["tom_tat"])
    assert statuses(api.push("officer", [settle], device_id="phone-v1")) == ["accepted"]
    rec = record(api, a)
    assert rec["data"]["noi_dung_vu_viec"] == "mới" and rec["conflicts"] == []
    assert rec["heads"] == [i["D"]] and rec["revision"] == 4


def test_captured_at_compares_instants_and_ties_go_to_the_greater_id(api: Any) -> None:
    """09:00+07:00 and 02:00Z are one instant: the greater id gives the provisional value.
    02:00:01Z is later than 09:00:00+07:00 though it sorts before it as text."""
    i = ids("A", "B", "C", "D")
    a = i["A"]
    api.push("officer", [root(a)])
    api.push("officer", [item(i["C"], a, [a], "2025-07-01T09:00:00+07:00", {"ket_qua": "c"})])
    api.push("officer2", [item(i["B"], a, [a], "2025-07-01T02:00:00Z", {"ket_qua": "b"})])
    assert record(api, a)["data"]["ket_qua"] == "c"
    api.push("officer2", [item(i["D"], a, [a], "2025-07-01T02:00:01Z", {"ket_qua": "d"})])
    rec = record(api, a)
    assert rec["data"]["ket_qua"] == "d"
    assert [v[1] for v in conflicts(rec)["ket_qua"]] == [i["D"], i["C"], i["B"]]


def test_a_chain_arriving_in_reverse_and_every_replay(api: Any) -> None:
    """A→B→C→D sent one at a time, D first: pending until A comes, then all merged; every
    batch sent again is `duplicate` and leaves revision and updated_at as they were."""
    i = ids("A", "B", "C", "D")
    a = i["A"]
    batches = [
        [item(i["D"], a, [i["C"]], T9, {"ket_qua": "d"})],
        [item(i["C"], a, [i["B"]], T12, {"so_buoi_hoa_giai": 4})],
        [item(i["B"], a, [a], T11, {"ket_qua": "b"})],
        [root(a)],
    ]
    for batch in batches[:3]:
        assert statuses(api.push("officer", batch)) == ["pending"]
        r = api.client.get(f"/api/v1/records/{a}", headers=api.auth("supervisor"))
        assert r.status_code == 404
    assert statuses(api.push("officer", batches[3])) == ["accepted"]
    rec = record(api, a)
    assert rec["heads"] == [i["D"]] and rec["revision"] == 4
    assert rec["data"]["ket_qua"] == "d" and rec["data"]["so_buoi_hoa_giai"] == 4
    for batch in [*batches, [s for b in batches for s in b]]:
        assert set(statuses(api.push("officer", batch))) == {"duplicate"}
        again = record(api, a)
        assert (again["revision"], again["updated_at"]) == (rec["revision"], rec["updated_at"])
