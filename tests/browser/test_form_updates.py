"""A new form version reaches the phone through If-None-Match; a draft started on the old
version stays on it (and is sent as that version), new drafts use the new one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Response, expect

from tests.browser.conftest import expect_sent
from tests.browser.samples import CASE, push_case
from tests.support import COMMENDATION, latest_schema, latest_version

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.browser
def test_new_version_leaves_old_drafts_alone(phones, server) -> None:
    phone = phones("can-bo-f")
    page = phone.page
    phone.new("tuyen_truyen")
    phone.fill({"ten_dia_diem": "Chợ Hàng Da"})
    page.goto(f"{server.url}/app/#/")
    expect(page.locator("#draft-list a")).to_have_count(1)

    old = latest_version("tuyen_truyen")
    form = latest_schema("tuyen_truyen")
    form["fields"].append(
        {
            "name": "so_phu_nu",
            "type": "integer",
            "min": 0,
            "label": {"vi": "Số phụ nữ", "en": "Women"},
        }
    )
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", form)
    assert status == 201, published

    manifest_statuses: list[int] = []

    def on_response(response: Response) -> None:
        if response.url.endswith("/api/v1/forms"):
            manifest_statuses.append(response.status)

    page.on("response", on_response)
    phone.sync()
    phone.sync()
    assert manifest_statuses == [200, 304]
    versions = phone.js("(await db.all('forms')).filter((f) => f.form_id === 'tuyen_truyen')")
    assert {old, published["version"]} <= {v["version"] for v in versions}

    page.locator("#draft-list a").click()
    expect(page.locator(".notice")).to_contain_text(f"phiên bản cũ {old}")
    expect(phone.field("so_phu_nu")).to_have_count(0)
    phone.fill(
        {
            "ngay_tuyen_truyen": "2025-09-05",
            "loai_dia_diem": "cho",
            "chu_de": ["tin_dung_den"],
            "hinh_thuc": "to_roi_pano",
        }
    )
    phone.offline()
    phone.save()
    [item] = phone.outbox()
    assert item["form_version"] == old
    assert item["data"]["ten_dia_diem"] == "Chợ Hàng Da"

    phone.new("tuyen_truyen")
    expect(phone.field("so_phu_nu")).to_be_visible()
    draft = phone.js("(await db.all('drafts'))[0]")
    assert draft["form_version"] == published["version"]


@pytest.mark.browser
def test_an_edit_keeps_what_a_newer_version_no_longer_offers(phones, server) -> None:
    """A version drops two choices and a field: an older case edited on the phone keeps the
    dropped choices, shown and selected as from an earlier version, and the removed field,
    because an edit sends only what the officer changed."""
    phone = phones("can-bo-g")
    page = phone.page
    phone.new("mo_hinh")
    phone.fill(
        {
            "ten_mo_hinh": "Camera an ninh tổ 5",
            "loai_mo_hinh": "tu_phong",
            "ngay_thanh_lap": "2024-03-01",
            "linh_vuc_hoat_dong": ["camera_an_ninh", "an_ninh_ton_giao"],
            "nguoi_phu_trach": "Lê Văn Tám",
            "hieu_qua": "trung_binh",
        }
    )
    phone.save()
    expect_sent(page, 20_000)

    form = yaml.safe_load((SCHEMAS / "mo_hinh.v1.yaml").read_text("utf-8"))
    form["fields"] = [f for f in form["fields"] if f["name"] != "ngay_thanh_lap"]
    for f in form["fields"]:
        if f["name"] in ("hieu_qua", "linh_vuc_hoat_dong"):
            gone = {"trung_binh", "an_ninh_ton_giao"}
            f["choices"] = [c for c in f["choices"] if c["value"] not in gone]
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", form)
    assert status == 201, published
    phone.sync()
    boss = server.add_user("giam-sat", "supervisor", "01")
    [record] = server.records(boss, "mo_hinh")
    case_id = record["record_id"]

    # the case shows what the removed field holds, after the others, by its label
    page.goto(f"{server.url}/app/#/case/{case_id}")
    removed = page.locator("#removed-fields")
    expect(removed.locator("h3")).to_contain_text("từ phiên bản trước")
    expect(removed.locator("dt")).to_have_text("Ngày thành lập Date established")
    expect(removed.locator("dd")).to_have_text("01/03/2024")

    page.goto(f"{server.url}/app/#/edit/{case_id}")
    expect(page.locator("#form-title")).to_be_visible()
    expect(page.locator(".hint").first).to_have_text(f"phiên bản / version {published['version']}")
    old = phone.field("hieu_qua").locator(".opt.old")
    expect(old).to_have_text("Trung bình (từ phiên bản trước) / Average (from an earlier version)")
    expect(old.locator("input")).to_be_checked()
    kept = phone.field("linh_vuc_hoat_dong").locator(".opt.old input")
    expect(kept).to_be_checked()
    expect(phone.field("ngay_thanh_lap")).to_have_count(0)
    phone.fill({"so_thanh_vien": "12"})
    phone.save()
    expect(page.locator("#entry")).to_have_count(0)
    for _ in range(100):
        status, record = server.api(boss, f"/records/{case_id}")
        if status == 200 and "so_thanh_vien" in record["data"]:
            break
        page.wait_for_timeout(200)
    expect_sent(page, 20_000)
    expect(page.locator("#st-rejected")).to_have_count(0)
    assert phone.outbox() == []
    assert record["data"]["hieu_qua"] == "trung_binh"
    assert record["data"]["linh_vuc_hoat_dong"] == ["camera_an_ninh", "an_ninh_ton_giao"]
    assert record["data"]["ngay_thanh_lap"] == "2024-03-01"
    assert record["data"]["so_thanh_vien"] == 12
    assert record["submissions"][-1]["data"] == {"so_thanh_vien": 12}

    # A refusal at a field this version lacks names it, rather than saying nothing of where.
    phone.js(
        "await db.put('outbox', {id: '01a00000-0000-7000-8000-000000000009', form_id: 'mo_hinh',"
        " form_version: arg, record_id: null, parents: [], captured_at:"
        " '2025-09-01T08:00:00+07:00', data: {}, status: 'rejected', saved_at:"
        " '2025-09-01T08:00:00+07:00', errors: [{path: 'ngay_thanh_lap', code: 'unknown_field',"
        " message: 'x'}]})",
        published["version"],
    )
    page.goto(f"{server.url}/app/#/outbox")
    expect(page.locator("#outbox-list .err li")).to_have_text(
        "ngay_thanh_lap: Trường không có trong biểu mẫu / Not a field of this form"
    )


@pytest.mark.browser
def test_a_case_reads_a_choice_a_newer_version_no_longer_offers_by_its_label(
    phones, server
) -> None:
    """The case list and the case show a value a later version dropped by the label of the
    version that offered it, in both languages, never as the stored code ("tu_phong")."""
    phone = phones("can-bo-lua-chon", viewport=(360, 640))
    page = phone.page
    phone.new("mo_hinh")
    phone.fill(
        {
            "ten_mo_hinh": "Tổ tự phòng số 3",
            "loai_mo_hinh": "tu_phong",
            "linh_vuc_hoat_dong": ["camera_an_ninh", "an_ninh_ton_giao"],
            "nguoi_phu_trach": "Lê Văn Tám",
            "hieu_qua": "trung_binh",
        }
    )
    phone.save()
    expect_sent(page, 20_000)
    form = yaml.safe_load((SCHEMAS / "mo_hinh.v1.yaml").read_text("utf-8"))
    gone = {"tu_phong", "trung_binh", "an_ninh_ton_giao"}
    for f in form["fields"]:
        if f.get("choices"):
            f["choices"] = [c for c in f["choices"] if c["value"] not in gone]
    admin = server.add_user("quan-tri", "admin", "")
    status, published = server.api(admin, "/forms", form)
    assert status == 201, published
    phone.sync()

    page.goto(f"{server.url}/app/#/cases")
    item = page.locator("#case-list a.case small")
    expect(item).to_have_text(
        "Tổ tự phòng số 3 · Tự phòng / Self-prevention · Camera an ninh / Security cameras, "
        "An ninh tôn giáo, dân tộc / Religious and ethnic security"
    )
    item.click()
    data = page.locator("dl.data")
    expect(data).to_contain_text("Tự phòng / Self-prevention")
    expect(data).to_contain_text("Trung bình / Average")
    expect(data).to_contain_text("An ninh tôn giáo, dân tộc / Religious and ethnic security")
    for code in gone:
        expect(data).not_to_contain_text(code)
    phone.shot("360-vu-viec-lua-chon-cu")


@pytest.mark.browser
def test_cases_follow_the_forms_the_latest_versions_send_to_phones(phones, server) -> None:
    """A version that makes a form a follow-up form (`sync_to_devices`) brings its stored
    records to a phone already in sync; one that makes it no longer one takes its cases off
    the phone (the server sends no more of their changes), but for the case a draft is open
    on."""
    case = push_case(server, {**CASE, "hoa_giai_vien": "Nguyễn Văn Hòa"})
    kept = push_case(server, {**CASE, "hoa_giai_vien": "Trần Thị Mai"})
    praise = push_case(server, COMMENDATION, form_id="khen_thuong", version=1)
    phone = phones("can-bo-theo-doi")
    page = phone.page
    page.goto(f"{server.url}/app/#/cases")
    expect(page.locator(f'#case-list a[data-id="{case}"]')).to_be_visible()
    expect(page.locator(f'#case-list a[data-id="{praise}"]')).to_have_count(0)
    page.goto(f"{server.url}/app/#/case/{kept}")
    page.locator(f'a[href="#/edit/{kept}"]').click()
    phone.fill({"so_buoi_hoa_giai": "3"})  # a draft on it, not saved

    admin = server.add_user("quan-tri-theo-doi", "admin", "")
    for form_id, follow in (("hoa_giai", False), ("khen_thuong", True)):
        form = latest_schema(form_id)
        status, body = server.api(admin, "/forms", {**form, "sync_to_devices": follow})
        assert status == 201, body
    page.goto(f"{server.url}/app/#/cases")
    phone.sync()
    expect(page.locator(f'#case-list a[data-id="{praise}"]')).to_be_visible()
    expect(page.locator(f'#case-list a[data-id="{kept}"]')).to_be_visible()
    expect(page.locator(f'#case-list a[data-id="{case}"]')).to_have_count(0)
    held = phone.js("(await db.all('records')).map((r) => r.record_id)")
    assert sorted(held) == sorted([praise, kept])
