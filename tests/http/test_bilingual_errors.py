"""The Vietnamese half of an error names what the English half names: the limit, the value,
the version, the roles. It was one fixed phrase per code ("Quá dài / at most 200
characters"), so an officer reading Vietnamese learnt less than one reading English."""

from __future__ import annotations

import random
from typing import Any

from tests.support import assert_problem, hoa_giai, latest_version, submission


def _vi(message: str) -> str:
    vi, sep, _ = message.partition(" / ")
    assert sep, message
    return vi


def test_a_rejected_items_errors_name_the_limit_and_the_value_in_vietnamese(api: Any) -> None:
    data = hoa_giai(random.Random(1))
    data["cac_ben"][0]["ho_ten"] = "A" * 201
    data["cac_ben"][0]["nam_sinh"] = 1800
    data["cac_ben"][1]["nam_sinh"] = 2100
    data["cac_ben"][1]["gioi_tinh"] = "zz"
    data["so_buoi_hoa_giai"] = 101
    data["cac_ben"] = data["cac_ben"] * 11  # 22 parties, at most 20
    (result,) = api.push("officer", [submission("hoa_giai", data, version=2)])
    assert result["status"] == "rejected"
    said = {(e["path"], e["code"]): _vi(e["message"]) for e in result["errors"]}
    at = "submissions[0].data"
    assert said[(f"{at}.cac_ben[0].ho_ten", "max_length")] == "Tối đa 200 ký tự"
    assert said[(f"{at}.cac_ben[0].nam_sinh", "min")] == "Không được nhỏ hơn 1900"
    assert said[(f"{at}.cac_ben[1].nam_sinh", "max")] == "Không được lớn hơn 2026"
    assert said[(f"{at}.so_buoi_hoa_giai", "max")] == "Không được lớn hơn 100"
    assert said[(f"{at}.cac_ben[1].gioi_tinh", "choice")] == "'zz' không có trong các lựa chọn"
    assert said[(f"{at}.cac_ben", "max_items")] == "Tối đa 20 mục"


def test_too_few_items_say_how_many_in_vietnamese(api: Any) -> None:
    data = hoa_giai(random.Random(2))
    data["cac_ben"] = data["cac_ben"][:1]
    (result,) = api.push("officer", [submission("hoa_giai", data, version=2)])
    said = {e["code"]: _vi(e["message"]) for e in result["errors"]}
    assert said["min_items"] == "Cần ít nhất 2 mục"


def test_an_unknown_version_is_named_in_vietnamese(api: Any) -> None:
    (result,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(3)), version=9)])
    assert result["reason"] == "unknown_version"
    latest = latest_version("hoa_giai")
    assert (
        _vi(result["errors"][0]["message"]) == f"Biểu mẫu hoa_giai chỉ có phiên bản 1 đến {latest}"
    )
    (result,) = api.push("officer", [submission("khong_co", {}, version=1)])
    assert _vi(result["errors"][0]["message"]) == "Không có biểu mẫu 'khong_co'"
    r = api.client.get("/api/v1/forms/hoa_giai/versions/9", headers=api.auth("officer"))
    detail = assert_problem(r, 404)["detail"]
    assert detail == (
        "Không có phiên bản 9 của biểu mẫu 'hoa_giai' / no version 9 of form 'hoa_giai'"
    )
    r = api.client.get("/api/v1/records?form_id=khong_co", headers=api.auth("supervisor"))
    assert _vi(assert_problem(r, 404)["detail"]) == "Không có biểu mẫu 'khong_co'"


def test_a_role_refusal_names_both_roles_in_vietnamese(api: Any) -> None:
    r = api.client.get("/api/v1/records", headers=api.auth("officer"))
    assert assert_problem(r, 403)["detail"] == (
        "Cần vai trò giám sát trở lên; bạn là cán bộ / "
        "this needs the supervisor role or above; you are officer"
    )
    r = api.client.get("/api/v1/audit", headers=api.auth("supervisor"))
    assert assert_problem(r, 403)["detail"] == (  # nothing is above the admin
        "Cần vai trò quản trị; bạn là giám sát / this needs the admin role; you are supervisor"
    )


def test_msgspecs_bounds_are_named_in_vietnamese(api: Any) -> None:
    r = api.client.get("/api/v1/records?limit=1001", headers=api.auth("supervisor"))
    assert _vi(assert_problem(r, 400)["errors"][0]["message"]) == "Không được lớn hơn 1000"
    r = api.client.get("/api/v1/records?limit=0", headers=api.auth("supervisor"))
    assert _vi(assert_problem(r, 400)["errors"][0]["message"]) == "Không được nhỏ hơn 1"
    r = api.client.post(
        "/api/v1/sync/push",
        json={"device_id": "p" * 201, "submissions": []},
        headers=api.auth("officer"),
    )
    assert _vi(assert_problem(r, 422)["errors"][0]["message"]) == "Tối đa 200 ký tự"
    r = api.client.post(
        "/api/v1/records/0190a000-0000-7000-8000-000000000000/resolve",
        json={"heads": [], "values": {"ket_qua": "x"}},
        headers=api.auth("supervisor"),
    )
    assert _vi(assert_problem(r, 422)["errors"][0]["message"]) == "Cần ít nhất 1 mục"


def test_an_items_ids_parents_and_time_are_refused_in_vietnamese_too(api: Any) -> None:
    """These said one word in Vietnamese ("Bắt buộc / an edit names the heads it had"), and
    the app shows a refusal it cannot place on a field as the server words it."""
    version = latest_version("hoa_giai")
    root = submission("hoa_giai", hoa_giai(random.Random(3)), version=version)
    edit = submission("hoa_giai", {"trang_thai": "dang_hoa_giai"}, version=version)
    edit["record_id"] = root["id"]  # an edit that names no heads
    odd = submission("hoa_giai", hoa_giai(random.Random(4)), version=version)
    odd |= {"id": "khong-phai-uuid", "captured_at": "hôm qua", "parents": ["x"]}
    results = api.push("officer", [root, edit, odd])
    said = {
        (e["path"].split(".", 1)[1], e["code"]): _vi(e["message"])
        for r in results[1:]
        for e in r["errors"]
    }
    assert said[("parents", "required")].startswith("Bản sửa phải nêu")
    assert said[("id", "format")].startswith("Mã (id) phải là")
    assert said[("parents[0]", "format")].startswith("Mỗi bản cha là")
    assert said[("captured_at", "format")].startswith("Thời điểm ghi phải theo RFC 3339")


def test_a_missing_key_is_named_in_vietnamese(api: Any) -> None:
    """msgspec's "Object missing required field `x`" had only "Bắt buộc" (required) in front."""
    item = submission("hoa_giai", hoa_giai(random.Random(4)), version=2)
    del item["captured_at"]
    (result,) = api.push("officer", [item])
    (error,) = result["errors"]
    assert error["path"] == "submissions[0].captured_at"
    assert _vi(error["message"]) == "Thiếu khóa `captured_at`"


def test_a_bound_of_a_requests_shape_is_said_in_plain_words_in_both_languages(api: Any) -> None:
    """A resolution's note over 4,000 characters said "Dữ liệu không hợp lệ / Expected `str`
    of length <= 4000", and a push's device_id over 200 "Tối đa 200 ký tự / Expected `str` of
    length <= 200": msgspec's words, not the limit in plain words (found by a probe)."""
    (item,) = api.push("officer", [submission("hoa_giai", hoa_giai(random.Random(5)), version=2)])
    body = {"heads": [item["id"]], "values": {"ket_qua": "x"}, "note": "x" * 4001}
    r = api.client.post(
        f"/api/v1/records/{item['record_id']}/resolve", json=body, headers=api.auth("supervisor")
    )
    problem = assert_problem(r, 422)
    assert problem["detail"] == "note: Tối đa 4000 ký tự / note: at most 4000 characters"
    assert problem["errors"][0]["message"] == "Tối đa 4000 ký tự / at most 4000 characters"
    item = submission("hoa_giai", hoa_giai(random.Random(6)), version=2)
    r = api.client.post(
        "/api/v1/sync/push",
        json={"device_id": "p" * 201, "submissions": [item]},
        headers=api.auth("officer"),
    )
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["path"] == "device_id"
    assert problem["errors"][0]["message"] == "Tối đa 200 ký tự / at most 200 characters"
