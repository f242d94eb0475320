"""A version that renames fields, while a phone holds a case under the old names: found by a
probe of the app across versions. The phone showed renamed fields empty (a case pulled before
the rename, the pull after it failed), sent a renamed sub-field of a repeat group back under
its old name (refused by the server, and "Fix" could never succeed), and showed a removed
choice of a renamed field, and a conflict on a removed field, by their codes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Route, expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, push_case

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

MODEL = {
    "ten_mo_hinh": "Tổ tự quản khu phố 7",
    "loai_mo_hinh": "tu_quan",
    "linh_vuc_hoat_dong": ["an_ninh_trat_tu"],
    "nguoi_phu_trach": "Nguyễn Văn Bảy",
    "hoat_dong": [{"ngay": "2025-08-01", "noi_dung": "Tuần tra ban đêm", "so_nguoi_tham_gia": 6}],
}


def schema(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / name).read_text("utf-8"))


def rename(fields: list[dict[str, Any]], old: str, new: str, vi: str, en: str) -> None:
    f = next(f for f in fields if f["name"] == old)
    f.update(name=new, previous_names=[old], label={"vi": vi, "en": en})


@pytest.mark.browser
def test_a_case_pulled_before_a_rename_is_read_and_edited_under_the_new_names(
    phones, server
) -> None:
    case_id = push_case(server, MODEL, form_id="mo_hinh", version=1)
    phone = phones("can-bo-doi-ten")
    page = phone.page
    phone.sync()
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case_id}"]')).to_be_visible()

    v2 = schema("mo_hinh.v1.yaml")
    rename(v2["fields"], "ten_mo_hinh", "ten_goi", "Tên gọi", "Name")
    group = next(f for f in v2["fields"] if f["name"] == "hoat_dong")
    rename(group["fields"], "noi_dung", "mo_ta", "Mô tả hoạt động", "What was done")
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", v2)
    assert status == 201, published

    # the forms come down, the cases do not (a weak network): the phone has v2 and the case
    # under v1's names
    def cut(route: Route) -> None:
        route.abort()

    page.route("**/api/v1/sync/pull*", cut)
    phone.sync()
    page.unroute("**/api/v1/sync/pull*", cut)
    held = phone.js(f"(await db.get('records', '{case_id}')).data")
    assert held["ten_mo_hinh"] == MODEL["ten_mo_hinh"] and "ten_goi" not in held
    phone.offline()

    page.goto(f"{server.url}/app/#/case/{case_id}")
    data = page.locator("dl.data")
    expect(data).to_contain_text("Tên gọi")
    expect(data).to_contain_text(MODEL["ten_mo_hinh"])
    expect(data).to_contain_text("Tuần tra ban đêm")

    page.locator(f'a[href="#/edit/{case_id}"]').click()
    expect(page.locator("#entry")).to_be_visible()
    expect(phone.field("ten_goi").locator("input")).to_have_value(MODEL["ten_mo_hinh"])
    expect(phone.field("hoat_dong[0].mo_ta").locator("input, textarea").first).to_have_value(
        "Tuần tra ban đêm"
    )
    phone.fill({"hoat_dong[0].so_nguoi_tham_gia": "8", "so_thanh_vien": "15"})
    phone.save()
    expect(page.locator("#entry")).to_have_count(0)
    [item] = phone.outbox()
    assert item["form_version"] == published["version"]
    assert item["data"] == {
        "hoat_dong": [{"ngay": "2025-08-01", "mo_ta": "Tuần tra ban đêm", "so_nguoi_tham_gia": 8}],
        "so_thanh_vien": 15,
    }

    phone.offline(False)
    phone.sync()
    expect_sent(page, 20_000)
    expect(page.locator("#st-rejected")).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{case_id}")
    assert status == 200
    assert record["data"]["ten_goi"] == MODEL["ten_mo_hinh"]
    assert record["data"]["hoat_dong"] == [
        {"ngay": "2025-08-01", "mo_ta": "Tuần tra ban đêm", "so_nguoi_tham_gia": 8}
    ]
    assert record["data"]["so_thanh_vien"] == 15
    assert record["conflicts"] == []


@pytest.mark.browser
def test_a_conflict_on_renamed_and_removed_fields_reads_by_labels(phones, server) -> None:
    """Two desks set the status and the mediators of a case differently; v3 renames the
    status (and drops the choice one desk chose) and removes the mediators field. The case
    shows both conflicts by their labels and each value by its label, never as a code."""
    case_id = push_case(server, CASE)
    edits = []
    for who, (status_value, mediators) in {
        "ban-a": ("hoa_giai_khong_thanh", "Ông Tư"),
        "ban-b": ("dang_hoa_giai", "Bà Năm"),
    }.items():
        desk = server.add_user(who)
        body = {
            "device_id": f"may-{who}",
            "submissions": [
                {
                    "id": f"{case_id[:-12]}{len(edits) + 1:012d}",
                    "form_id": "hoa_giai",
                    "form_version": 2,
                    "record_id": case_id,
                    "parents": [case_id],
                    "captured_at": f"2025-08-16T0{8 + len(edits)}:00:00+07:00",
                    "data": {"trang_thai": status_value, "hoa_giai_vien": mediators},
                }
            ],
        }
        edits.append(body["submissions"][0]["id"])
        assert server.api(desk, "/sync/push", body)[0] == 200
    v3 = copy.deepcopy(schema("hoa_giai.v2.yaml"))
    rename(v3["fields"], "trang_thai", "tinh_trang", "Tình trạng vụ việc", "Case status")
    status_field = next(f for f in v3["fields"] if f["name"] == "tinh_trang")
    status_field["choices"] = [
        c for c in status_field["choices"] if c["value"] != "hoa_giai_khong_thanh"
    ]
    v3["fields"] = [f for f in v3["fields"] if f["name"] != "hoa_giai_vien"]
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", v3)
    assert status == 201, published

    phone = phones("can-bo-xung-dot")
    page = phone.page
    phone.sync()
    page.goto(f"{server.url}/app/#/case/{case_id}")
    conflicts = page.locator("#conflicts")
    expect(conflicts.locator(".conflict")).to_have_count(2)
    renamed = conflicts.locator('.conflict[data-field="tinh_trang"]')
    expect(renamed.locator("strong")).to_contain_text("Tình trạng vụ việc")
    expect(renamed).to_contain_text("Hòa giải không thành / Not settled")
    expect(renamed).to_contain_text("Đang hòa giải / Mediation in progress")
    removed = conflicts.locator('.conflict[data-field="hoa_giai_vien"]')
    expect(removed.locator("strong")).to_contain_text("Hòa giải viên tham gia")
    for code in ("hoa_giai_khong_thanh", "dang_hoa_giai"):
        expect(conflicts).not_to_contain_text(code)
    phone.shot("xung-dot-truong-doi-ten")


SESSION = {
    "ngay_tuyen_truyen": "2025-09-05",
    "ten_dia_diem": "Nhà văn hóa tổ 3",
    "loai_dia_diem": "nha_van_hoa",
    "chu_de": ["tin_dung_den"],
    "hinh_thuc": "to_roi_pano",
    "so_nguoi_tham_du": "40",
}


def saved_offline(phone: Any) -> dict[str, Any]:
    """An outreach session saved with no network: its outbox item (the phone stays offline).
    After the setup's first sync has ended: its downloads would overwrite what a test puts."""
    expect(phone.page.locator("body[data-syncs]")).to_have_count(1, timeout=20_000)
    phone.offline()
    phone.idle()  # a second sync the setup asked for may still be downloading forms
    phone.new("tuyen_truyen")
    phone.fill(SESSION)
    phone.save()
    expect(phone.page.locator(".flash")).to_be_visible()
    [item] = phone.outbox()
    return item


@pytest.mark.browser
def test_a_version_the_server_holds_with_other_content_is_replaced_and_its_entries_checked(
    phones, server
) -> None:
    """After a restore the server may hold a version number the phone has with another
    content (published again): the phone takes the server's, and its unsent entries made on
    the old one are not sent as they are (their values would be read by the new meaning)
    but set aside to be checked; fixed, they go out on the version the server has."""
    phone = phones("can-bo-khoi-phuc")
    page = phone.page
    item = saved_offline(phone)
    key = f"['tuyen_truyen', {item['form_version']}]"
    # the phone's copy of the version is another content than the server's: what a restore
    # leaves
    phone.js(
        f"await db.put('forms', {{...(await db.get('forms', {key})),"
        " sha256: 'khac', title: {vi: 'Bản cũ', en: 'Old copy'}})"
    )
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)
    [kept] = phone.outbox()
    assert kept["status"] == "rejected" and kept["errors"][0]["code"] == "form_changed"
    served = phone.js(f"await db.get('forms', {key})")
    assert served["sha256"] != "khac" and served["title"]["en"] != "Old copy"
    boss = server.add_user("giam-sat", "supervisor", "01")
    assert server.api(boss, f"/records/{item['id']}")[0] == 404  # nothing went out

    page.goto(f"{server.url}/app/#/outbox")
    row = page.locator(f'#outbox-list li[data-id="{item["id"]}"]')
    expect(row.locator(".err")).to_have_text(
        "Biểu mẫu đã thay đổi trên máy chủ: hãy xem lại rồi lưu / The form changed on the"
        " server: check the entry and save it again"
    )
    row.get_by_role("link").click()
    expect(phone.field("ten_dia_diem").locator("input")).to_have_value(SESSION["ten_dia_diem"])
    phone.save()
    phone.wait_outbox_empty()
    expect_sent(page, 20_000)
    expect(page.locator("#st-rejected")).to_have_count(0)
    assert server.api(boss, f"/records/{item['id']}")[0] == 200


@pytest.mark.browser
def test_an_entry_on_a_version_the_server_lacks_is_fixed_on_the_one_it_serves(
    phones, server
) -> None:
    """An entry made on a version the server no longer has (a restored database) is refused
    `unknown_version`; "Fix" opens it on the version the server serves, not on the same one
    again, so that saving it can succeed."""
    phone = phones("can-bo-phien-ban")
    page = phone.page
    item = saved_offline(phone)
    served = item["form_version"]
    form = phone.js(f"await db.get('forms', ['tuyen_truyen', {served}])")
    phone.js("await db.put('forms', {...arg, version: 99})", form)
    phone.js("await db.put('outbox', {...arg, form_version: 99})", item)
    phone.offline(False)
    expect(page.locator("#st-rejected")).to_have_text("Bị từ chối / Rejected: 1", timeout=20_000)
    page.goto(f"{server.url}/app/#/outbox")
    page.locator(f'#outbox-list li[data-id="{item["id"]}"]').get_by_role("link").click()
    expect(page.locator(".hint").first).to_have_text(f"phiên bản / version {served}")
    phone.save()
    phone.wait_outbox_empty()
    expect_sent(page, 20_000)
    expect(page.locator("#st-rejected")).to_have_count(0)
    boss = server.add_user("giam-sat", "supervisor", "01")
    status, record = server.api(boss, f"/records/{item['id']}")
    assert status == 200 and record["form_version"] == served


@pytest.mark.browser
def test_a_form_download_that_fails_never_holds_the_outbox_back(phones, server) -> None:
    """The list of forms is checked before the outbox goes; the downloads come after it, and
    one that fails on a weak network leaves the officer's entries sent (found by a probe)."""
    phone = phones("can-bo-mang-yeu")
    page = phone.page
    item = saved_offline(phone)
    v2 = schema("mo_hinh.v1.yaml")
    v2["fields"].append(
        {"name": "ghi_chu_them", "type": "text", "label": {"vi": "Thêm", "en": "More"}}
    )
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", v2)
    assert status == 201, published

    def cut(route: Route) -> None:
        route.abort()

    page.route("**/api/v1/forms/mo_hinh/versions/**", cut)
    phone.offline(False)
    boss = server.add_user("giam-sat", "supervisor", "01")
    for _ in range(100):
        if server.api(boss, f"/records/{item['id']}")[0] == 200:
            break
        page.wait_for_timeout(200)
    assert server.api(boss, f"/records/{item['id']}")[0] == 200
    expect_sent(page, 20_000)
    page.unroute("**/api/v1/forms/mo_hinh/versions/**", cut)
    phone.sync()  # and the download, on a better network
    assert phone.js("!!(await db.get('forms', ['mo_hinh', 2]))")
